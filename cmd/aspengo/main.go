// Command aspengo serves and checks aspengo websites.
//
// Usage:
//
//	aspengo serve [--root DIR] [--addr 127.0.0.1:8080] [--mongodb-uri URI] [--data DIR]
//	              [--sessions mongo|memory|cookie] [--dev] [--show-tracebacks] [--secure-cookies]
//	aspengo check [--root DIR]
//	aspengo user add|passwd|list|delete|disable|enable ...
//	aspengo new DIR
//	aspengo version
//
// Every command takes -h or --help, which lists its flags.
//
// With no --mongodb-uri (or MONGODB_URI), serve runs an embedded
// MongoDB-compatible engine on the data directory, <root>/.aspen/data by
// default.
//
// Every flag can also be given in the environment as ASPENGO_<FLAG>, with
// dashes as underscores (ASPENGO_SHOW_TRACEBACKS=true); a flag on the
// command line wins.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

const usage = `usage:
  aspengo serve [--root DIR] [--addr 127.0.0.1:8080] [--mongodb-uri URI] [--data DIR]
                [--sessions mongo|memory|cookie] [--dev] [--show-tracebacks] [--secure-cookies] ...
  aspengo check [--root DIR] [--hooks FILE]
  aspengo user add|passwd|list|delete|disable|enable ...
  aspengo new DIR
  aspengo version

Run "aspengo COMMAND --help" for a command's flags.
`

// The synopses that head each command's --help.
const (
	serveSynopsis = "  aspengo serve [flags]\n\nServes the site under --root until SIGINT or SIGTERM.\n"
	checkSynopsis = "  aspengo check [flags]\n\nParses hooks.conf and compiles every simplate and module; prints each problem as file:line: reason.\n"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal starts a graceful stop, a second one kills
	// the process as usual.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command, separated from main for tests; it returns the
// exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	env := os.Getenv
	switch args[0] {
	case "serve":
		return serveCmd(ctx, args[1:], env, stdout, stderr, nil)
	case "check":
		return checkCmd(args[1:], env, stdout, stderr)
	case "user":
		return userCmd(ctx, args[1:], env, os.Stdin, stdout, stderr, terminalPrompt(stderr))
	case "new":
		return newCmd(args[1:], stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "aspengo %s\n", version())
		return 0
	case "help", "-h", "--help", "-help":
		if len(args) > 1 && args[0] == "help" {
			// aspengo help serve is aspengo serve --help.
			return run(ctx, []string{args[1], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "aspengo: unknown command %q\n%s", args[0], usage)
	return 2
}

// version is the module version the binary was built from (go install
// ...@v1.2.3), with the VCS revision when the build recorded one; a build
// from a work tree is "devel".
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if v == "devel" && rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " " + rev + modified
	}
	return v + " " + bi.GoVersion
}
