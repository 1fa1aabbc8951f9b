package session_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aspengo/aspengo/trembling/session"
	"github.com/aspengo/aspengo/trembling/session/sessiontest"
)

func TestCheckValue(t *testing.T) {
	for k, v := range sessiontest.Values() {
		if err := session.CheckValue(k, v); err != nil {
			t.Errorf("CheckValue(%q): %v", k, err)
		}
	}
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	deep := any(int64(1))
	for range 70 {
		deep = []any{deep}
	}
	for _, tc := range []struct {
		name     string
		key      string
		v        any
		path     string
		contains string
	}{
		{"int", "count", 1, `"count"`, "type int is not allowed"},
		{"int32", "n", int32(1), `"n"`, "int32"},
		{"float32", "f", float32(1), `"f"`, "float32"},
		{"time", "when", time.Now(), `"when"`, "time.Time"},
		{"struct", "s", struct{}{}, `"s"`, "struct"},
		{"pointer", "p", new(string), `"p"`, "*string"},
		{"string slice", "tags", []string{"a"}, `"tags"`, "[]string"},
		{"map of int", "m", map[string]int{}, `"m"`, "map[string]int"},
		{"NaN", "x", math.NaN(), `"x"`, "NaN"},
		{"Inf", "x", math.Inf(-1), `"x"`, "-Inf"},
		{"bad utf8", "s", "\xff", `"s"`, "UTF-8"},
		{"bad utf8 key", "\xff", "v", `"\xff"`, "UTF-8"},
		{"nested", "cart", []any{"ok", map[string]any{"item": []any{int64(1), make(chan int)}}}, `"cart"[1]["item"][1]`, "chan int"},
		{"nested map key", "m", map[string]any{"ok": map[string]any{"\xfe": int64(1)}}, `"m"["ok"]`, "UTF-8"},
		{"cyclic", "c", cyclic, `"c"["self"]["self"]`, "deeper than"},
		{"too deep", "d", deep, `"d"[0][0]`, "deeper than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := session.CheckValue(tc.key, tc.v)
			var ve *session.ValueError
			if !errors.As(err, &ve) {
				t.Fatalf("CheckValue = %v, want a *ValueError", err)
			}
			if !strings.HasPrefix(ve.Path, tc.path) || !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("error %q (path %s): want path %s… and %q", err, ve.Path, tc.path, tc.contains)
			}
		})
	}
}

func TestRecordJSON(t *testing.T) {
	now := time.Now().Truncate(time.Millisecond)
	want := session.Record{Data: sessiontest.Values(), Created: now, IdleExpires: now.Add(time.Hour), AbsoluteExpires: now.Add(2 * time.Hour)}
	b, err := want.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var got session.Record
	if err := got.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	// Canonical: the same data in another map gives the same bytes.
	again, err := session.Record{Data: session.CloneData(want.Data), Created: now, IdleExpires: want.IdleExpires, AbsoluteExpires: want.AbsoluteExpires}.MarshalJSON()
	if err != nil || string(again) != string(b) {
		t.Errorf("two encodings of equal records differ:\n%s\n%s", b, again)
	}

	// Types and special numbers.
	for _, tc := range []struct {
		v    any
		json string
	}{
		{int64(2), `2`},
		{float64(2), `2.0`},
		{-0.5, `-0.5`},
		{1e21, `1e+21`},
		{1e-7, `1e-07`},
		{int64(math.MinInt64), `-9223372036854775808`},
		{"a\"<\x01\u2028", `"a\"<\u0001` + "\u2028" + `"`},
	} {
		b, err := session.Record{Data: map[string]any{"v": tc.v}}.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"data":{"v":`+tc.json+`}`) {
			t.Errorf("%#v encoded as %s, want %s", tc.v, b, tc.json)
		}
		var r session.Record
		if err := r.UnmarshalJSON(b); err != nil || !cmp.Equal(r.Data["v"], tc.v) {
			t.Errorf("%#v decoded as %#v, %v", tc.v, r.Data["v"], err)
		}
	}

	for _, bad := range []string{
		``, `{}`, `null`, `{"created":1,"idle":2,"absolute":3}`, `{"created":1,"idle":2,"absolute":3,"data":[]}`,
		`{"created":1,"idle":2,"absolute":3,"data":{"n":99999999999999999999}}`,
		`{"created":1,"idle":2,"absolute":3,"data":{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}}`, `{"created":"x","idle":2,"absolute":3,"data":{}}`,
	} {
		var r session.Record
		if err := r.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("UnmarshalJSON(%s) = nil error", bad)
		}
	}
	if _, err := (session.Record{Data: map[string]any{"x": 1}}).MarshalJSON(); err == nil {
		t.Errorf("MarshalJSON of an int: nil error")
	}
}

func TestRecordExpiry(t *testing.T) {
	now := time.Now()
	r := session.Record{IdleExpires: now.Add(time.Hour), AbsoluteExpires: now.Add(time.Minute)}
	if !r.Expires().Equal(r.AbsoluteExpires) {
		t.Errorf("Expires = %v, want the absolute expiry", r.Expires())
	}
	if r.Expired(now) || !r.Expired(now.Add(time.Minute)) {
		t.Errorf("Expired wrong around the absolute expiry")
	}
	r.AbsoluteExpires = now.Add(2 * time.Hour)
	if r.Expired(now.Add(59*time.Minute)) || !r.Expired(now.Add(time.Hour)) {
		t.Errorf("Expired wrong around the idle expiry")
	}
}

func TestCloneData(t *testing.T) {
	orig := sessiontest.Values()
	c := session.CloneData(orig)
	if !cmp.Equal(orig, c) {
		t.Fatalf("clone differs")
	}
	c["nested"].(map[string]any)["cart"].([]any)[0].(map[string]any)["qty"] = int64(99)
	c["list"].([]any)[0] = "changed"
	if !cmp.Equal(orig, sessiontest.Values()) {
		t.Errorf("changing the clone changed the original")
	}
	if session.CloneData(nil) == nil {
		t.Errorf("CloneData(nil) = nil, want an empty map")
	}
}

// FuzzRecordJSON checks that whatever UnmarshalJSON accepts encodes
// again and decodes to the same record.
func FuzzRecordJSON(f *testing.F) {
	b, _ := session.Record{Data: sessiontest.Values()}.MarshalJSON()
	f.Add(string(b))
	f.Add(`{"created":1,"idle":2,"absolute":3,"data":{"a":[1,2.0,"x",null,{"b":true}]}}`)
	f.Add(`{"created":1,"idle":2,"absolute":3,"data":{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}}`)
	f.Fuzz(func(t *testing.T, s string) {
		var r session.Record
		if err := r.UnmarshalJSON([]byte(s)); err != nil {
			return
		}
		b, err := r.MarshalJSON()
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", s, err)
		}
		var back session.Record
		if err := back.UnmarshalJSON(b); err != nil {
			t.Fatalf("cannot decode own encoding %s: %v", b, err)
		}
		if !cmp.Equal(r, back) {
			t.Fatalf("round trip changed %+v to %+v", r, back)
		}
	})
}
