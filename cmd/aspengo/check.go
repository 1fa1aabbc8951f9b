package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/trembling"
)

// checkCmd parses hooks.conf and compiles every simplate and module,
// printing every problem as file:line: reason. It exits 1 when there is
// any.
func checkCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	var site siteFlags
	site.register(fs)
	var storage storageFlags
	fs.StringVar(&storage.data, "data", "", "the embedded engine's data directory, checked for being kept out of git (default <root>/.aspen/data)")
	setUsage(fs, checkSynopsis, stdout)
	if code := parseFlags(fs, args, getenv, stderr, nil); code >= 0 {
		return code
	}
	reg, err := newRegistry(nil, trembling.Config{})
	if err == nil {
		err = aspengo.Check(aspengo.Config{
			Root:      site.wwwRoot(),
			HooksFile: site.hooks,
			Registry:  reg,
			Logger:    quietLogger(stderr),
		})
	}
	if err != nil {
		n := printErrors(stderr, err)
		fmt.Fprintf(stderr, "aspengo check: %d problem(s)\n", n)
		return 1
	}
	if w := dataDirWarning(storage.dataDir(site.wwwRoot())); w != "" {
		fmt.Fprintf(stderr, "aspengo check: warning: %s\n", w)
	}
	fmt.Fprintf(stdout, "aspengo check: %s is fine\n", site.wwwRoot())
	return 0
}

// dataDirWarning says what is wrong when the data directory dir, which
// holds the password hashes, the sessions and the key files, exists
// inside a git work tree and is not ignored there, or has files
// committed; else "". Without git, or outside a work tree, there is
// nothing to say. (A data directory the embedded engine creates gets a
// .gitignore of its own.)
func dataDirWarning(dir string) string {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return ""
	}
	gitPath, err := exec.LookPath("git")
	if err != nil {
		return ""
	}
	git := func(args ...string) (string, int) {
		cmd := exec.Command(gitPath, append([]string{"-C", dir}, args...)...)
		out, err := cmd.Output()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return strings.TrimSpace(string(out)), 0
		case errors.As(err, &ee):
			return "", ee.ExitCode()
		}
		return "", -1
	}
	top, code := git("rev-parse", "--show-toplevel")
	if code != 0 || top == "" {
		return "" // not in a work tree
	}
	if tracked, code := git("ls-files"); code == 0 && tracked != "" {
		return fmt.Sprintf("the data directory %s (password hashes, sessions, keys) has files committed to the git repository at %s: remove them (git rm -r --cached), add the directory to .gitignore, and consider its keys and password hashes exposed", dir, top)
	}
	// A file the engine or trembling would write there: ignored when the
	// directory is, or when its own .gitignore says "*".
	if _, code := git("check-ignore", "-q", "--", trembling.PepperFileName); code == 1 {
		return fmt.Sprintf("the data directory %s (password hashes, sessions, keys) is inside the git work tree %s and not ignored: add it to .gitignore, or write a .gitignore holding * in it", dir, top)
	}
	return ""
}

// printErrors prints err one line at a time (errors.Join puts each joined
// error on a line of its own) and returns how many lines there were.
func printErrors(w io.Writer, err error) int {
	lines := strings.Split(strings.TrimRight(err.Error(), "\n"), "\n")
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	return len(lines)
}
