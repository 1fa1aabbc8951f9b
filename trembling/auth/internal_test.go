package auth

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"golang.org/x/crypto/bcrypt"
)

// TestDefaults checks what the zero Options mean; an unconnected client
// is enough, since NewUsers does no I/O.
func TestDefaults(t *testing.T) {
	c, err := mongo.Connect()
	if err != nil {
		t.Fatal(err)
	}
	db := c.Database("unused")
	s, err := NewUsers(db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.cost != 12 || s.maxFailures != 5 || s.window != 15*time.Minute {
		t.Errorf("defaults: cost %d, max failures %d, window %v; want 12, 5, 15m", s.cost, s.maxFailures, s.window)
	}
	// The dummy hash has the configured cost, and is made once.
	s10, err := NewUsers(db, Options{Cost: 10})
	if err != nil {
		t.Fatal(err)
	}
	h1, err := s10.dummy()
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost(h1); err != nil || cost != 10 {
		t.Errorf("dummy hash cost %d, %v; want 10", cost, err)
	}
	if h2, _ := s10.dummy(); string(h2) != string(h1) {
		t.Error("dummy hash made twice")
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		"":            "",
		"/a%2Fb":      "/a/b",
		"%2f%5C":      "/\\",
		"%252F":       "%2F",
		"%zz%2F":      "%zz/",
		"50%":         "50%",
		"%2":          "%2",
		"%41%":        "A%",
		"/caf%C3%A9":  "/café",
		"/plain/path": "/plain/path",
	} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q; want %q", in, got, want)
		}
	}
}
