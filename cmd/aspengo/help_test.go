package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestHelp runs every command and subcommand with -h and --help: each
// exits 0 and prints its usage, with every flag, to stdout.
func TestHelp(t *testing.T) {
	site := []string{"-root", "-hooks"}
	storage := []string{"-mongodb-uri", "-data", "-bcrypt-cost"}
	tests := []struct {
		args  []string
		flags []string // each must appear in stdout
	}{
		{args: nil, flags: []string{"aspengo serve", "aspengo check", "aspengo user", "aspengo new DIR", "aspengo version"}},
		{args: []string{"new"}, flags: []string{"aspengo new DIR", ".gitignore"}},
		{args: []string{"serve"}, flags: append(append([]string{"-addr", "-dev", "-show-tracebacks", "-sessions", "-secure-cookies", "-insecure-cookies", "-session-idle", "-session-lifetime", "-max-body", "-trusted-origins"}, site...), storage...)},
		{args: []string{"check"}, flags: site},
		{args: []string{"user"}, flags: []string{"user add USERNAME", "user passwd", "user list", "user delete", "user disable", "user enable"}},
		{args: []string{"user", "add"}, flags: append(append([]string{"-email", "-password-stdin"}, site...), storage...)},
		{args: []string{"user", "passwd"}, flags: append(append([]string{"-password-stdin"}, site...), storage...)},
		{args: []string{"user", "list"}, flags: append(site, storage...)},
		{args: []string{"user", "delete"}, flags: append(site, storage...)},
		{args: []string{"user", "disable"}, flags: append(site, storage...)},
		{args: []string{"user", "enable"}, flags: append(site, storage...)},
	}
	for _, tt := range tests {
		for _, h := range []string{"-h", "--help"} {
			args := append(append([]string{}, tt.args...), h)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				if code := run(t.Context(), args, &stdout, &stderr); code != 0 {
					t.Fatalf("exit %d, want 0\nstderr: %s", code, stderr.String())
				}
				for _, f := range tt.flags {
					if !strings.Contains(stdout.String(), f) {
						t.Errorf("usage lacks %q:\n%s", f, stdout.String())
					}
				}
			})
		}
	}
}

// TestHelpCommand: aspengo help serve is aspengo serve --help.
func TestHelpCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"help", "serve"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "-addr") {
		t.Errorf("stdout: %s", stdout.String())
	}
}

// TestBadFlagPointsAtHelp: a bad flag exits 2 and says where the flags
// are listed, on stderr.
func TestBadFlagPointsAtHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"check", "--nope"}, &stdout, &stderr); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), `"aspengo check --help"`) || stdout.Len() != 0 {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"version"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d", code)
	}
	// A test binary is built from the work tree: its main module has no
	// version.
	if !strings.HasPrefix(stdout.String(), "aspengo devel") {
		t.Errorf("version: %q", stdout.String())
	}
}
