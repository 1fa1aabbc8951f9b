package main

import (
	"flag"
	"fmt"
	"io"
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
	fmt.Fprintf(stdout, "aspengo check: %s is fine\n", site.wwwRoot())
	return 0
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
