package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMongoDBURIFile: --mongodb-uri-file (or ASPENGO_MONGODB_URI_FILE)
// reads the URI from a file only its owner may read.
func TestMongoDBURIFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "uri")
	if err := os.WriteFile(file, []byte("  mongodb://user:pw@db.example:27017/app\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := storageFlags{uriFile: file}
	if got, err := f.uri(); err != nil || got != "mongodb://user:pw@db.example:27017/app" {
		t.Errorf("uri() = %q, %v; want the file's URI", got, err)
	}
	f.mongodbURI = "mongodb://other"
	if _, err := f.uri(); err == nil || !strings.Contains(err.Error(), "both given") {
		t.Errorf("with --mongodb-uri too: %v; want an error", err)
	}
	if err := os.Chmod(file, 0o640); err != nil {
		t.Fatal(err)
	}
	f.mongodbURI = ""
	if _, err := f.uri(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a group-readable file: %v; want a refusal saying chmod 600", err)
	}
	// Through the environment, as a command sees it.
	var stdout, stderr bytes.Buffer
	env := map[string]string{"ASPENGO_MONGODB_URI_FILE": file}
	code := userCmd(t.Context(), []string{"list", "--root", "testdata/plain"}, func(k string) string { return env[k] }, strings.NewReader(""), &stdout, &stderr, nil)
	if code != 1 || !strings.Contains(stderr.String(), "is readable by others (mode -rw-r-----)") {
		t.Errorf("ASPENGO_MONGODB_URI_FILE of a group-readable file: exit %d, stderr %q", code, stderr.String())
	}
	if err := os.WriteFile(filepath.Join(dir, "empty"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (&storageFlags{uriFile: filepath.Join(dir, "empty")}).uri(); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("an empty file: %v", err)
	}
}

// TestCheckWarnsOfDataInGit: aspengo check warns when the data directory
// is inside a git work tree and not ignored, or has files committed.
func TestCheckWarnsOfDataInGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	repo := t.TempDir()
	gitRun := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	gitRun("init", "-q")
	root := filepath.Join(repo, "www")
	data := filepath.Join(root, ".aspen", "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "index.html"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func() string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := checkCmd([]string{"--root", root}, func(string) string { return "" }, &stdout, &stderr); code != 0 {
			t.Fatalf("check: exit %d\n%s", code, stderr.String())
		}
		return stderr.String()
	}
	if got := check(); !strings.Contains(got, "warning: the data directory "+data) || !strings.Contains(got, "not ignored") {
		t.Errorf("a data directory in git, not ignored: stderr %q; want the warning", got)
	}
	// Ignored by the repository's .gitignore: no warning.
	if err := os.WriteFile(filepath.Join(repo, ".gitignore"), []byte("www/.aspen/data/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := check(); strings.Contains(got, "warning") {
		t.Errorf("an ignored data directory: stderr %q; want no warning", got)
	}
	// Ignored by its own .gitignore (what the engine writes): no warning.
	os.Remove(filepath.Join(repo, ".gitignore"))
	if err := os.WriteFile(filepath.Join(data, ".gitignore"), []byte("*\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := check(); strings.Contains(got, "warning") {
		t.Errorf("a data directory with its own .gitignore: stderr %q; want no warning", got)
	}
	// Committed files: a warning even though ignored now.
	if err := os.WriteFile(filepath.Join(data, "password-pepper.key"), []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	gitRun("add", "-f", "www/.aspen/data/password-pepper.key")
	gitRun("commit", "-q", "-m", "oops")
	if got := check(); !strings.Contains(got, "has files committed") {
		t.Errorf("committed key file: stderr %q; want the warning", got)
	}
	// Outside any work tree: nothing to say.
	if w := dataDirWarning(t.TempDir()); w != "" {
		t.Errorf("outside git: %q", w)
	}
}

// TestTrustedProxiesFlag: --trusted-proxies becomes website.trusted_proxies;
// a bad network is refused.
func TestTrustedProxiesFlag(t *testing.T) {
	f := sessionFlags{trustedProxies: "10.0.0.0/8, 127.0.0.1,::1"}
	v, err := f.proxies()
	if err != nil || v == nil || v.String() != `["10.0.0.0/8", "127.0.0.1/32", "::1/128"]` {
		t.Errorf("proxies() = %v, %v", v, err)
	}
	f.trustedProxies = "10.0.0.0/33"
	if _, err := f.proxies(); err == nil || !strings.Contains(err.Error(), "--trusted-proxies") {
		t.Errorf("a bad network: %v", err)
	}
	if v, err := (&sessionFlags{}).proxies(); v != nil || err != nil {
		t.Errorf("no flag: %v, %v", v, err)
	}
}
