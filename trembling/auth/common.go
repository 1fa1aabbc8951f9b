package auth

import (
	_ "embed"
	"strings"
	"sync"
)

// commonList is the 10,000 most common breached passwords that the length
// rule alone would accept, one a line, most common first.
// commonpasswords/SOURCE.md names its source and licence.
//
//go:embed commonpasswords/top10000.txt
var commonList string

// commonSet is commonList, lower-cased, as a set; built on first use.
var commonSet = sync.OnceValue(func() map[string]struct{} {
	lines := strings.Split(strings.TrimSpace(commonList), "\n")
	m := make(map[string]struct{}, len(lines))
	for _, l := range lines {
		if l != "" {
			m[strings.ToLower(l)] = struct{}{}
		}
	}
	return m
})

// IsCommonPassword reports whether password is, in any case, one of the
// 10,000 most common passwords of breach corpora that are long enough for
// the password policy, which attackers try first.
func IsCommonPassword(password string) bool {
	_, ok := commonSet()[strings.ToLower(password)]
	return ok
}
