package session

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// A Record is what a store keeps for one session.
//
// Stores keep times to the millisecond; the Manager makes records whose
// times are whole milliseconds, so they round-trip exactly.
type Record struct {
	// Data is the session's content, JSON-like values only (see
	// [CheckValue]). A record found in a store always has a non-nil Data.
	Data map[string]any
	// Created is when the session was first saved, or when its token was
	// last renewed.
	Created time.Time
	// IdleExpires is when the session ends unless it is used again; each
	// save moves it to now + the idle timeout, never past AbsoluteExpires.
	IdleExpires time.Time
	// AbsoluteExpires is when the session ends however much it is used.
	AbsoluteExpires time.Time
}

// Expires returns when the record expires: the earlier of IdleExpires and
// AbsoluteExpires.
func (r Record) Expires() time.Time {
	if r.AbsoluteExpires.Before(r.IdleExpires) {
		return r.AbsoluteExpires
	}
	return r.IdleExpires
}

// Expired reports whether the record has expired at now: at or after its
// idle or absolute expiry.
func (r Record) Expired(now time.Time) bool {
	return !now.Before(r.Expires())
}

// Clone returns a deep copy of r, whose Data shares nothing with r's.
func (r Record) Clone() Record {
	r.Data = CloneData(r.Data)
	return r
}

// MarshalJSON encodes r as
//
//	{"created":MS,"idle":MS,"absolute":MS,"data":{...}}
//
// with times in Unix milliseconds and the data in a canonical form that
// keeps int64 and float64 apart (a float64 is always written with a '.'
// or an exponent). It fails with a *[ValueError] for data [CheckValue]
// refuses.
func (r Record) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 128)
	b = append(b, `{"created":`...)
	b = strconv.AppendInt(b, r.Created.UnixMilli(), 10)
	b = append(b, `,"idle":`...)
	b = strconv.AppendInt(b, r.IdleExpires.UnixMilli(), 10)
	b = append(b, `,"absolute":`...)
	b = strconv.AppendInt(b, r.AbsoluteExpires.UnixMilli(), 10)
	b = append(b, `,"data":`...)
	b, err := appendData(b, r.Data)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// UnmarshalJSON decodes what [Record.MarshalJSON] wrote. Integers decode
// as int64 and numbers with a fraction or exponent as float64.
func (r *Record) UnmarshalJSON(p []byte) error {
	var raw struct {
		Created  *int64          `json:"created"`
		Idle     *int64          `json:"idle"`
		Absolute *int64          `json:"absolute"`
		Data     json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(p, &raw); err != nil {
		return fmt.Errorf("session: decoding record: %w", err)
	}
	if raw.Created == nil || raw.Idle == nil || raw.Absolute == nil || raw.Data == nil {
		return fmt.Errorf("session: decoding record: missing field")
	}
	data, err := decodeData(raw.Data)
	if err != nil {
		return err
	}
	*r = Record{
		Data:            data,
		Created:         time.UnixMilli(*raw.Created).UTC(),
		IdleExpires:     time.UnixMilli(*raw.Idle).UTC(),
		AbsoluteExpires: time.UnixMilli(*raw.Absolute).UTC(),
	}
	return nil
}
