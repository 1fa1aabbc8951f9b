package aspengo

import "strings"

// backupSuffixes end the names that editors, merge tools and scripts leave
// beside a file: login.html.spt~, login.html.spt.orig, page.spt.swp. Such
// a copy holds a page's source, so it is never served.
var backupSuffixes = [...]string{".bak", ".orig", ".swp", ".tmp"}

// isBackupName reports whether name, one path segment, is an editor backup
// or temporary file: it ends in "~", ".bak", ".orig", ".swp" or ".tmp" (the
// suffixes in any case, as a case-insensitive file system would open
// login.html.spt.BAK for login.html.spt.bak), or it is an Emacs
// auto-save name "#name#". Dispatch treats such names like dot-files:
// never served, never a virtual match.
func isBackupName(name string) bool {
	n := len(name)
	if n == 0 {
		return false
	}
	if name[n-1] == '~' || n >= 2 && name[0] == '#' && name[n-1] == '#' {
		return true
	}
	for _, s := range backupSuffixes {
		if n >= len(s) && strings.EqualFold(name[n-len(s):], s) {
			return true
		}
	}
	return false
}
