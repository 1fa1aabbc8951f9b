package auth

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNextLen is the longest "next" location SafeNext accepts, in bytes.
const MaxNextLen = 2048

// maxDecodeRounds bounds how many layers of percent-encoding SafeNext
// peels off the path; a path still encoded after that is refused.
const maxDecodeRounds = 4

// SafeNext returns next if it is a local path that is safe to redirect
// to after a login, and fallback otherwise. A fallback that is itself not
// a safe local path (or "") is replaced by "/".
//
// next is accepted only when all of these hold:
//   - it is 1 to MaxNextLen bytes of valid UTF-8;
//   - it starts with a single "/" (not "//" or "/\"): a path on this
//     site, never a scheme ("https:", "javascript:") or a host;
//   - it contains no "\" anywhere (browsers read it as "/"), no control
//     characters (Unicode Cc, which includes tab, CR and LF), no
//     whitespace, no invisible format characters (Unicode Cf, such as
//     zero-width and bidirectional marks), and no look-alikes of "/" or
//     "\" (such as U+FF0F, U+2215, U+FF3C);
//   - its path (the part before "?" or "#") has no empty segment ("//")
//     and no "." or ".." segment, which a browser would resolve;
//   - url.Parse accepts it and finds no scheme, host or user;
//   - its path, percent-decoded again and again (up to 4 layers, so
//     "%252F" is decoded twice; invalid escapes left as they are), still
//     passes the same path rules, except that a decoded space is allowed
//     ("%20" is how a path holds one): so "/%2F%2Fevil.example",
//     "/%5Cevil.example", "/%09/x" and "/%252F%252Fevil.example" are all
//     refused, in case some layer decodes before redirecting. A path
//     still encoded after 4 layers is refused.
//
// The query and fragment may hold anything printable, "//" included
// ("/login?next=//x" is a fine local path): they cannot change the host.
func SafeNext(next, fallback string) string {
	if !isLocalPath(fallback) {
		fallback = "/"
	}
	if isLocalPath(next) {
		return next
	}
	return fallback
}

// isLocalPath reports whether s passes SafeNext's rules.
func isLocalPath(s string) bool {
	if s == "" || len(s) > MaxNextLen || !utf8.ValidString(s) {
		return false
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r == ' ' || r == '\\' || badRune(r) }) {
		return false
	}
	path := s
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		path = s[:i]
	}
	if !pathOK(path) {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	for range maxDecodeRounds {
		decoded := unescape(path)
		if decoded == path {
			return true
		}
		if !utf8.ValidString(decoded) || strings.ContainsFunc(decoded, badRune) || !pathOK(decoded) {
			return false
		}
		path = decoded
	}
	return false
}

// pathOK reports whether path starts with "/" and has no "\", no "//"
// and no dot segment.
func pathOK(path string) bool {
	if !strings.HasPrefix(path, "/") || strings.ContainsRune(path, '\\') || strings.Contains(path, "//") {
		return false
	}
	for seg := range strings.SplitSeq(path[1:], "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// badRune reports control and format characters, whitespace other than
// the ASCII space, and look-alikes of "/" and "\".
func badRune(r rune) bool {
	switch r {
	case ' ':
		return false
	case '\u2044', '\u2215', '\u29F8', '\uFF0F', // fraction, division, big, fullwidth solidus
		'\u2216', '\u29F5', '\u29F9', '\uFE68', '\uFF3C': // set minus, reverse solidus operator, big, small, fullwidth reverse solidus
		return true
	}
	return unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r)
}

// unescape decodes the valid %XX escapes of s and leaves anything else,
// as a lenient decoder would.
func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
