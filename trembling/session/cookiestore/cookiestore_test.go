package cookiestore_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/aspengo/aspengo/trembling/session"
	"github.com/aspengo/aspengo/trembling/session/cookiestore"
	"github.com/aspengo/aspengo/trembling/session/sessiontest"
)

var (
	secretA = bytes.Repeat([]byte("a"), 32)
	secretB = bytes.Repeat([]byte("b"), 32)
)

func newCodec(t testing.TB, secrets ...[]byte) *cookiestore.Codec {
	t.Helper()
	c, err := cookiestore.New(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func record(data map[string]any) session.Record {
	now := time.Now().Truncate(time.Millisecond)
	return session.Record{Data: data, Created: now, IdleExpires: now.Add(time.Hour), AbsoluteExpires: now.Add(24 * time.Hour)}
}

func TestRoundTrip(t *testing.T) {
	c := newCodec(t, secretA)
	want := record(sessiontest.Values())
	v, err := c.Seal(want)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := c.Open(v)
	if !ok {
		t.Fatalf("Open of a sealed value failed")
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	v2, err := c.Seal(want)
	if err != nil {
		t.Fatal(err)
	}
	if v2 == v {
		t.Errorf("two seals of one record are equal: the nonce is not fresh")
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, clear := range []string{"user_id", "64b7f0c2a1e4d3b2c1a09f8e", "created", string(secretA)} {
		if bytes.Contains(raw, []byte(clear)) {
			t.Errorf("sealed value shows %q in the clear", clear)
		}
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name    string
		secrets [][]byte
	}{
		{"none", nil},
		{"short", [][]byte{make([]byte, 31)}},
		{"second short", [][]byte{secretA, []byte("short")}},
	} {
		if _, err := cookiestore.New(tc.secrets...); err == nil {
			t.Errorf("New with %s secrets: nil error", tc.name)
		}
	}
	if _, err := cookiestore.New(bytes.Repeat([]byte("x"), 64)); err != nil {
		t.Errorf("New with a 64-byte secret: %v", err)
	}
}

func TestTampered(t *testing.T) {
	c := newCodec(t, secretA)
	v, err := c.Seal(record(map[string]any{"user_id": "u1"}))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		for _, bit := range []byte{0x01, 0x80} {
			b := bytes.Clone(raw)
			b[i] ^= bit
			if _, ok := c.Open(base64.RawURLEncoding.EncodeToString(b)); ok {
				t.Errorf("byte %d ^ %#x: tampered value opened", i, bit)
			}
		}
	}
	for _, bad := range []string{
		"", "x", v[:len(v)-1], v + "A", v[:10] + "\n" + v[10:], v[:10] + "=" + v[10:], v + "==",
		strings.Replace(v, v[5:6], "+", 1), base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1]),
	} {
		if _, ok := c.Open(bad); ok {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}

func TestRotation(t *testing.T) {
	oldC := newCodec(t, secretA)
	newC := newCodec(t, secretB, secretA)
	onlyB := newCodec(t, secretB)
	want := record(map[string]any{"n": int64(1)})

	sealedOld, err := oldC.Seal(want)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := newC.Open(sealedOld); !ok || !cmp.Equal(got, want) {
		t.Errorf("the rotated codec cannot open a value of the old secret")
	}
	if _, ok := onlyB.Open(sealedOld); ok {
		t.Errorf("a codec without the old secret opened its value")
	}
	sealedNew, err := newC.Seal(want)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := oldC.Open(sealedNew); ok {
		t.Errorf("the rotated codec sealed with the old secret")
	}
	if _, ok := onlyB.Open(sealedNew); !ok {
		t.Errorf("the rotated codec did not seal with its first secret")
	}
}

func TestExpired(t *testing.T) {
	c := newCodec(t, secretA)
	now := time.Now().Truncate(time.Millisecond)
	r := session.Record{Data: map[string]any{"x": true}, Created: now, IdleExpires: now.Add(time.Hour), AbsoluteExpires: now.Add(2 * time.Hour)}
	v, err := c.Seal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   time.Duration
		open bool
	}{
		{0, true}, {59 * time.Minute, true}, {time.Hour, false}, {3 * time.Hour, false},
	} {
		c.Now = func() time.Time { return now.Add(tc.at) }
		if _, ok := c.Open(v); ok != tc.open {
			t.Errorf("Open at +%v = %v, want %v", tc.at, ok, tc.open)
		}
	}
	c.Now = func() time.Time { return now }
	r.AbsoluteExpires = now.Add(-time.Second)
	if v, err = c.Seal(r); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Open(v); ok {
		t.Errorf("a value past its absolute expiry opened")
	}
}

func TestTooLarge(t *testing.T) {
	c := newCodec(t, secretA)
	if _, err := c.Seal(record(map[string]any{"s": strings.Repeat("x", 2800)})); err != nil {
		t.Errorf("Seal of 2.8 KB: %v", err)
	}
	_, err := c.Seal(record(map[string]any{"s": strings.Repeat("x", 4000)}))
	if !errors.Is(err, session.ErrCookieTooLarge) || !strings.Contains(err.Error(), "4096") {
		t.Errorf("Seal of 4 KB: %v, want an error wrapping ErrCookieTooLarge that gives the limit", err)
	}
	if _, ok := c.Open(strings.Repeat("A", session.MaxCookieSize+1)); ok {
		t.Errorf("an oversized value opened")
	}

	// Through a Manager: Commit fails, sets no cookie.
	m := &session.Manager{Codec: c}
	r := httptest.NewRequest("GET", "/", nil)
	s, err := m.Load(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	s.Set("s", strings.Repeat("x", 5000))
	h := http.Header{}
	err = m.Commit(t.Context(), h, s, 200)
	if !errors.Is(err, session.ErrCookieTooLarge) {
		t.Errorf("Commit of 5 KB: %v, want ErrCookieTooLarge", err)
	}
	if len(h) != 0 {
		t.Errorf("a failed Commit set headers %v", h)
	}
}

func TestManager(t *testing.T) {
	sessiontest.TestManager(t, func(t *testing.T) *session.Manager {
		return &session.Manager{Codec: newCodec(t, secretA)}
	})
}

// FuzzCookieOpen checks that Open never panics and accepts no value that
// was not sealed with the codec's secrets.
func FuzzCookieOpen(f *testing.F) {
	c := newCodec(f, secretA, secretB)
	other := newCodec(f, bytes.Repeat([]byte("z"), 32))
	v, err := other.Seal(record(map[string]any{"user_id": "u1"}))
	if err != nil {
		f.Fatal(err)
	}
	valid, err := c.Seal(record(map[string]any{"user_id": "u1"}))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v)
	f.Add(valid[:len(valid)-2] + "AA")
	f.Add(valid[:40])
	f.Add("")
	f.Add("AQ")
	f.Add(strings.Repeat("A", 100))
	f.Add("session_key=abc")
	f.Fuzz(func(t *testing.T, s string) {
		if s == valid {
			t.Skip()
		}
		if r, ok := c.Open(s); ok {
			t.Fatalf("Open(%q) accepted a value it never sealed: %+v", s, r)
		}
	})
}
