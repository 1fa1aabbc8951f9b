package session_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/aspengo/aspengo/trembling/session"
)

func TestToken(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, err := session.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		s := tok.String()
		if len(s) != 43 || strings.ContainsAny(s, "+/=") {
			t.Fatalf("token text %q: want 43 base64url characters without padding", s)
		}
		if seen[s] {
			t.Fatalf("token %q made twice", s)
		}
		seen[s] = true
		back, err := session.ParseToken(s)
		if err != nil || back != tok {
			t.Fatalf("ParseToken(%q) = %v, %v; want the token back", s, back, err)
		}
		id := session.Hash(tok)
		if _, err := hex.DecodeString(id); err != nil || len(id) != 64 || strings.ToLower(id) != id {
			t.Fatalf("Hash = %q, want 64 lower-case hex digits", id)
		}
		if strings.Contains(id, s) || session.Hash(back) != id {
			t.Fatalf("Hash not a stable function of the token")
		}
	}
}

func TestHashKnown(t *testing.T) {
	var zero session.Token
	// SHA-256 of 32 zero bytes.
	const want = "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
	if got := session.Hash(zero); got != want {
		t.Errorf("Hash(zero) = %s, want %s", got, want)
	}
}

func TestParseTokenMalformed(t *testing.T) {
	tok, err := session.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	s := tok.String()
	std := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 32)) // "////…"
	// The last character carries 4 data bits and 2 zero bits: 'B' (000001)
	// after 42 'A's sets a stray bit.
	stray := strings.Repeat("A", 42) + "B"
	for _, bad := range []string{
		"", "abc", s[:42], s + "A", s + "=", std, strings.TrimRight(std, "="),
		strings.Repeat("A", 42) + "+", strings.Repeat("A", 42) + "/", strings.Repeat("A", 41) + "\n" + "A",
		strings.Repeat("A", 42) + "\x00", strings.Repeat("A", 40) + "é", stray,
		strings.Repeat("A", 43) + " ", " " + s[1:],
	} {
		if _, err := session.ParseToken(bad); !errors.Is(err, session.ErrMalformedToken) {
			t.Errorf("ParseToken(%q) = %v, want ErrMalformedToken", bad, err)
		}
	}
	if _, err := session.ParseToken(strings.Repeat("A", 43)); err != nil {
		t.Errorf("ParseToken of 43 'A's (32 zero bytes): %v", err)
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add(strings.Repeat("A", 43))
	f.Add(strings.Repeat("A", 42) + "B")
	f.Add("garbage")
	f.Add(strings.Repeat("_", 43))
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := session.ParseToken(s)
		if err != nil {
			return
		}
		// Only the canonical text form of a token parses.
		if tok.String() != s {
			t.Fatalf("ParseToken(%q) accepted a non-canonical form of %q", s, tok.String())
		}
	})
}
