package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// siteFlags are the flags every command that opens a site takes.
type siteFlags struct {
	root  string
	hooks string
}

func (f *siteFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.root, "root", "", "the www root (default ./www if it exists, else .)")
	fs.StringVar(&f.hooks, "hooks", "", "the hooks.conf to read (default <root>/.aspen/hooks.conf)")
}

// wwwRoot returns the --root value or its default.
func (f *siteFlags) wwwRoot() string {
	if f.root != "" {
		return f.root
	}
	if fi, err := os.Stat("www"); err == nil && fi.IsDir() {
		return "www"
	}
	return "."
}

// parseFlags parses args into fs, allowing no positional argument, then
// fills every flag not given on the command line from the environment
// (see parseInterspersed). It returns the exit code to stop with, or -1
// to go on.
func parseFlags(fs *flag.FlagSet, args []string, getenv func(string) string, stderr io.Writer, extraEnv map[string]string) int {
	positional, code := parseInterspersed(fs, args, getenv, stderr, extraEnv)
	if code < 0 && len(positional) > 0 {
		fmt.Fprintf(stderr, "aspengo %s: unexpected argument %q\n", fs.Name(), positional[0])
		return 2
	}
	return code
}

// parseInterspersed parses args into fs, with flags before, between or
// after positional arguments, which it returns. Then it fills every flag
// not given on the command line from the environment: ASPENGO_<NAME>
// (dashes become underscores), and the names in extraEnv (MONGODB_URI for
// --mongodb-uri). The code is the exit code to stop with, or -1 to go on.
func parseInterspersed(fs *flag.FlagSet, args []string, getenv func(string) string, stderr io.Writer, extraEnv map[string]string) ([]string, int) {
	fs.SetOutput(stderr)
	// The flag package calls Usage both for -h and for a bad flag; the
	// help goes to stdout only when asked for, so the full usage is kept
	// back until Parse says which it was.
	help := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = help }()
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				help()
				return nil, 0
			}
			fmt.Fprintf(stderr, "Run \"aspengo %s --help\" for the flags.\n", fs.Name())
			return nil, 2
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	code := -1
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		names := []string{"ASPENGO_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))}
		if extra, ok := extraEnv[f.Name]; ok {
			names = append(names, extra)
		}
		for _, name := range names {
			if v := getenv(name); v != "" {
				if err := f.Value.Set(v); err != nil {
					fmt.Fprintf(stderr, "aspengo %s: %s=%q: %v\n", fs.Name(), name, v, err)
					code = 2
				}
				return
			}
		}
	})
	return positional, code
}

// setUsage makes -h and --help print synopsis and every flag of fs, with
// its default, to stdout.
func setUsage(fs *flag.FlagSet, synopsis string, stdout io.Writer) {
	fs.Usage = func() {
		fmt.Fprintf(stdout, "usage:\n%s", synopsis)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n == 0 {
			return
		}
		fmt.Fprint(stdout, "\nFlags (each also read from ASPENGO_<FLAG> in the environment):\n")
		out := fs.Output()
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(out)
	}
}

// listFlag is a comma-separated list; repeating the flag adds to it.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}
