// Command aspengo serves and checks aspengo websites.
//
// Usage:
//
//	aspengo serve [--root DIR] [--addr 127.0.0.1:8080] [--dev] [--show-tracebacks]
//	              [--mongodb-uri URI | --mongodb-uri-file FILE] [--data DIR]
//	              [--sessions mongo|memory|cookie] [--session-idle 30m] [--session-lifetime 12h]
//	              [--secure-cookies | --insecure-cookies] [--trusted-origins URL,...]
//	              [--trusted-proxies CIDR,...] [--bcrypt-cost 12] [--hooks FILE]
//	              [--max-body BYTES] [--request-timeout 30s] [--health /.aspen/health]
//	              [--access-log stderr|off|FILE]
//	aspengo check [--root DIR] [--hooks FILE] [--data DIR]
//	aspengo user add USERNAME [--email ADDRESS] [--password-stdin] [--temporary]
//	aspengo user passwd USERNAME [--password-stdin] [--temporary]
//	aspengo user list | delete USERNAME | disable USERNAME | enable USERNAME
//	aspengo new DIR
//	aspengo version
//
// The commands are:
//
//	serve     serve the site under --root until SIGINT or SIGTERM
//	check     compile hooks.conf and every simplate and module; print each
//	          problem as file:line: reason
//	user      manage the accounts in the site's website.db
//	new       write a small working site into DIR
//	version   print the version the binary was built from
//
// Every command takes -h or --help, which lists its flags with their
// defaults; "aspengo help COMMAND" does the same. The user subcommands also
// take --root, --hooks, --mongodb-uri or --mongodb-uri-file, --data and
// --bcrypt-cost.
//
// With no --mongodb-uri (or MONGODB_URI) and no --mongodb-uri-file, serve
// and user run an embedded MongoDB-compatible engine on the data
// directory, <root>/.aspen/data by default.
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

const usage = `aspengo serves and checks aspengo websites.

Usage:

	aspengo serve [--root DIR] [--addr 127.0.0.1:8080] [--dev]
	              [--mongodb-uri URI | --mongodb-uri-file FILE] [--data DIR]
	              [--sessions mongo|memory|cookie] [--session-idle 30m] [--session-lifetime 12h]
	              [--secure-cookies | --insecure-cookies] [--trusted-proxies CIDR,...] [flags]
	aspengo check [--root DIR] [--hooks FILE] [--data DIR]
	aspengo user add USERNAME [--email ADDRESS] [--password-stdin] [--temporary]
	aspengo user passwd USERNAME [--password-stdin] [--temporary]
	aspengo user list | delete USERNAME | disable USERNAME | enable USERNAME
	aspengo new DIR
	aspengo version

The commands are:

	serve     serve the site under --root until SIGINT or SIGTERM
	check     compile hooks.conf and every simplate and module; print each problem
	          as file:line: reason
	user      manage the accounts in the site's website.db
	new       write a small working site into DIR
	version   print the version the binary was built from

Every flag can also be set as ASPENGO_<FLAG> in the environment (and
--mongodb-uri as MONGODB_URI).
Use "aspengo help COMMAND" for a command's flags.
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
