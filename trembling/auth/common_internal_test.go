package auth

import (
	"errors"
	"strings"
	"testing"
)

// TestCommonListMatchesPolicy: the list holds 10,000 passwords, each one
// the length rule would accept, so that every entry refuses something
// (a list of short passwords would refuse nothing the length rule does
// not), and the last of them is refused like the first.
func TestCommonListMatchesPolicy(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(commonList, "\n"), "\n")
	if len(lines) != 10000 {
		t.Errorf("%d passwords in the list; want 10,000", len(lines))
	}
	for i, p := range lines {
		if n := spacesOnce(p); n < MinPasswordLen || n > MaxPasswordLen {
			t.Errorf("line %d, %q: %d characters; the length rule refuses it already", i+1, p, n)
		}
	}
	for _, p := range []string{lines[0], lines[len(lines)-1], strings.ToUpper(lines[len(lines)-1])} {
		if err := CheckPassword(p); !errors.Is(err, ErrPasswordCommon) {
			t.Errorf("CheckPassword(%q) = %v; want ErrPasswordCommon", p, err)
		}
	}
}
