package trembling

import (
	"os"
	"path/filepath"
	"testing"
)

// TestKeyDirGitignore: the cookie store's key directory, when trembling
// makes it, keeps itself out of git.
func TestKeyDirGitignore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	key, err := loadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := loadOrCreateKey(dir)
	if err != nil || string(again) != string(key) {
		t.Fatalf("second load: %x, %v; want the same key", again, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != "# Written by aspengo: keys and data.\n*\n" {
		t.Errorf(".gitignore = %q; want one that ignores everything", got)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("key directory mode %v, %v; want 0700", fi.Mode().Perm(), err)
	}
}
