package main

import (
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// newSite is the site aspengo new writes. Files are copied as they are,
// except that gitignore becomes .gitignore (so that it does not act on
// this repository) and __TITLE__ in site.star becomes the site's title.
//
//go:embed all:newsite
var newSite embed.FS

const newSynopsis = "  aspengo new DIR\n\nWrites a small working site into DIR (which must not exist or be empty):\nhooks.conf with trembling's hooks, a layout, 404 and error pages, register,\nlogin and logout pages, a page for logged-in users only, and a .gitignore\nfor the embedded database.\n"

// newCmd writes a new site into the directory its one argument names.
func newCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("new", flag.ContinueOnError)
	setUsage(fs, newSynopsis, stdout)
	positional, code := parseInterspersed(fs, args, func(string) string { return "" }, stderr, nil)
	if code >= 0 {
		return code
	}
	if len(positional) != 1 {
		fmt.Fprintf(stderr, "aspengo new: want exactly one DIR\nRun \"aspengo new --help\" for usage.\n")
		return 2
	}
	dir := positional[0]
	if err := writeNewSite(dir); err != nil {
		fmt.Fprintf(stderr, "aspengo new: %v\n", err)
		return 1
	}
	www := filepath.Join(dir, "www")
	fmt.Fprintf(stdout, "created the site %s; check it and run it with:\n\n  aspengo check --root %s\n  aspengo serve --root %s\n\nthen open http://127.0.0.1:8080/ and register.\n", dir, www, www)
	return 0
}

// writeNewSite copies newSite into dir, which must not exist or be an
// empty directory; it never overwrites a file.
func writeNewSite(dir string) error {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("%s exists and is not empty", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	title := strconv.Quote(filepath.Base(filepath.Clean(dir)))
	sub, err := fs.Sub(newSite, "newsite")
	if err != nil {
		return err
	}
	return fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		switch p {
		case "gitignore":
			target = filepath.Join(dir, ".gitignore")
		case "www/.aspen/site.star":
			data = []byte(strings.ReplaceAll(string(data), "__TITLE__", title))
		}
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
}
