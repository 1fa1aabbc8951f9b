package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/aspengo/aspengo/database"
	"github.com/aspengo/aspengo/trembling"
	"github.com/aspengo/aspengo/trembling/auth"
)

const userUsage = `usage:
  aspengo user add USERNAME [--email ADDRESS] [--password-stdin] [--temporary]
  aspengo user passwd USERNAME [--password-stdin] [--temporary]
  aspengo user list
  aspengo user delete USERNAME
  aspengo user disable USERNAME
  aspengo user enable USERNAME

Each also takes --root, --hooks, --mongodb-uri, --mongodb-uri-file, --data
and --bcrypt-cost.
The command runs the site's startup hooks, so it works on the database the
site uses (website.db), and while aspengo serve runs on the same embedded
data directory it goes through that server.

Passwords must have 12 to 128 characters and not be one of the 10,000
most common passwords. With --temporary the user must choose a new
password at their next login (for an account or a reset an operator makes
and tells the user). passwd, disable and enable call the site's
website.on_account_event, if its startup hooks set one.
`

// userVerbUsage is the synopsis of each user command's --help.
var userVerbUsage = map[string]string{
	"add":     "  aspengo user add USERNAME [flags]\n\nCreates an account; the password is read twice from the terminal, or once with --password-stdin.\nWith --temporary the user must change it at their first login.\n",
	"passwd":  "  aspengo user passwd USERNAME [flags]\n\nSets a new password, ends the user's other sessions and lifts a login lock.\nWith --temporary the user must change it at their next login (recovery of a\nforgotten password: tell the user the temporary one by a channel you trust).\n",
	"list":    "  aspengo user list [flags]\n\nLists the accounts.\n",
	"delete":  "  aspengo user delete USERNAME [flags]\n\nDeletes an account.\n",
	"disable": "  aspengo user disable USERNAME [flags]\n\nKeeps an account from logging in.\n",
	"enable":  "  aspengo user enable USERNAME [flags]\n\nLets a disabled account log in again.\n",
}

// passwordPrompt reads a password from a terminal without echo.
type passwordPrompt func(prompt string) ([]byte, error)

// terminalPrompt returns a passwordPrompt on the process's terminal, or
// nil when standard input is not one.
func terminalPrompt(stderr io.Writer) passwordPrompt {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil
	}
	return func(prompt string) ([]byte, error) {
		fmt.Fprint(stderr, prompt)
		defer fmt.Fprintln(stderr)
		return term.ReadPassword(fd)
	}
}

// userFlags are the flags of aspengo user.
type userFlags struct {
	siteOptions
	email         string
	passwordStdin bool
	temporary     bool
}

// userCmd manages the accounts of a site. stdin feeds --password-stdin;
// prompt, when not nil, asks for a password on a terminal.
func userCmd(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer, prompt passwordPrompt) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, userUsage)
		return 2
	}
	verb := args[0]
	switch verb {
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, userUsage)
		return 0
	}
	wantName := map[string]bool{"add": true, "passwd": true, "delete": true, "disable": true, "enable": true, "list": false}
	needsName, ok := wantName[verb]
	if !ok {
		fmt.Fprintf(stderr, "aspengo user: unknown command %q\n%s", verb, userUsage)
		return 2
	}
	fs := flag.NewFlagSet("user "+verb, flag.ContinueOnError)
	var f userFlags
	f.site.register(fs)
	f.storage.register(fs)
	fs.IntVar(&f.sessions.bcryptCost, "bcrypt-cost", auth.DefaultCost, "bcrypt cost of new password hashes (at least 10)")
	if verb == "add" {
		fs.StringVar(&f.email, "email", "", "the user's e-mail address")
	}
	if verb == "add" || verb == "passwd" {
		fs.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
		fs.BoolVar(&f.temporary, "temporary", false, "the user must change this password at their next login")
	}
	setUsage(fs, userVerbUsage[verb], stdout)
	positional, code := parseInterspersed(fs, args[1:], getenv, stderr, storageEnv)
	if code >= 0 {
		return code
	}
	if err := checkBcryptCost(f.sessions.bcryptCost); err != nil {
		fmt.Fprintf(stderr, "aspengo user %s: %v\n", verb, err)
		return 2
	}
	var username string
	switch {
	case needsName && len(positional) != 1:
		fmt.Fprintf(stderr, "aspengo user %s: want exactly one USERNAME\n", verb)
		return 2
	case !needsName && len(positional) != 0:
		fmt.Fprintf(stderr, "aspengo user %s: unexpected argument %q\n", verb, positional[0])
		return 2
	case needsName:
		username = positional[0]
		if err := auth.CheckUsername(username); err != nil {
			fmt.Fprintf(stderr, "aspengo user %s: %v\n", verb, err)
			return 1
		}
	}

	var password string
	if verb == "add" || verb == "passwd" {
		p, err := readPassword(f.passwordStdin, stdin, prompt)
		if err == nil {
			err = auth.CheckPassword(p)
		}
		if err != nil {
			fmt.Fprintf(stderr, "aspengo user %s: %v\n", verb, err)
			return 1
		}
		password = p
	}

	// The site's sessions are not used here; the memory store keeps the
	// command from touching the sessions collection.
	f.sessions.store = "memory"
	site, err := startSite(ctx, f.siteOptions, quietLogger(stderr))
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	defer site.Close(context.Background())
	log := quietLogger(stderr)
	users, err := siteUsers(site, f.sessions.bcryptCost, f.storage.dataDir(f.site.wwwRoot()), log)
	if err == nil {
		err = runUserVerb(ctx, users, userOp{verb: verb, username: username, password: password, email: f.email, temporary: f.temporary}, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "aspengo user %s: %v\n", verb, err)
		return 1
	}
	if ev, ok := userEvent(verb, username, f.temporary); ok {
		// The change is made: a failing hook is a warning, not a failure.
		// What the function prints goes to stderr, as the operator's
		// confirmation that the site heard of it.
		if err := trembling.NotifyAccountEvent(nil, site.w, slog.New(slog.NewTextHandler(stderr, nil)), ev); err != nil {
			fmt.Fprintf(stderr, "aspengo user %s: warning: %v\n", verb, err)
		}
	}
	return 0
}

// userEvent returns the account event a user command makes, if any.
func userEvent(verb, username string, temporary bool) (trembling.AccountEvent, bool) {
	ev := trembling.AccountEvent{Username: username, Time: time.Now(), Details: map[string]any{"by": "operator"}}
	switch verb {
	case "passwd":
		ev.Type = trembling.EventPasswordReset
		ev.Details["temporary"] = temporary
	case "disable":
		ev.Type = trembling.EventDisabled
	case "enable":
		ev.Type = trembling.EventEnabled
	default:
		return ev, false
	}
	return ev, true
}

// userOp is one user command's arguments.
type userOp struct {
	verb, username, password, email string
	temporary                       bool
}

// siteUsers returns the accounts in the site's website.db, with the keys
// aspengo serve uses (the pepper above all: a hash made with another
// would never match).
func siteUsers(site *openSite, cost int, keyDir string, log *slog.Logger) (*auth.Users, error) {
	v, ok := site.w.Attr("db")
	h, isHandle := v.(*database.Handle)
	if !ok || !isHandle {
		return nil, errors.New("the site has no website.db database")
	}
	deviceKey, pepper, err := trembling.KeyFiles(keyDir, log)
	if err != nil {
		return nil, err
	}
	return auth.NewUsers(h.Database(), auth.Options{Cost: cost, DeviceKey: deviceKey, Pepper: pepper})
}

// runUserVerb does the work of one user command.
func runUserVerb(ctx context.Context, users *auth.Users, op userOp, stdout io.Writer) error {
	verb, username, password, email := op.verb, op.username, op.password, op.email
	switch verb {
	case "add":
		if _, err := users.Create(ctx, username, password, email); err != nil {
			return err
		}
		if op.temporary {
			if err := users.SetMustChangePassword(ctx, username, true); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "added user %s\n", username)
		if op.temporary {
			fmt.Fprintf(stdout, "%s must choose a new password at their first login\n", username)
		}
	case "passwd":
		set := users.SetPassword
		if op.temporary {
			set = users.SetTemporaryPassword
		}
		if err := set(ctx, username, password); err != nil {
			return err
		}
		// A new password lifts the lock of earlier failed logins.
		if err := users.ResetFailures(ctx, username); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "changed the password of %s; their sessions elsewhere have ended\n", username)
		if op.temporary {
			fmt.Fprintf(stdout, "%s must choose a new password at their next login\n", username)
		}
	case "delete":
		if err := users.Delete(ctx, username); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "deleted user %s\n", username)
	case "disable", "enable":
		if err := users.SetActive(ctx, username, verb == "enable"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%sd user %s\n", verb, username)
	case "list":
		list, err := users.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tEMAIL\tACTIVE\tCREATED\tLAST LOGIN")
		for _, u := range list {
			last := "never"
			if !u.LastLogin.IsZero() {
				last = u.LastLogin.UTC().Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", u.Username, u.Email, u.IsActive, u.CreatedAt.UTC().Format("2006-01-02 15:04"), last)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		conflicts, err := users.Conflicts(ctx)
		if err != nil {
			return err
		}
		for _, c := range conflicts {
			fmt.Fprintf(stdout, "warning: the accounts %s differ only in case: each logs in by its exact username only, and none was merged; delete all but one (aspengo user delete NAME)\n", strings.Join(c.Usernames, ", "))
		}
	}
	return nil
}

// readPassword reads the new password: the first line of stdin with
// --password-stdin, else twice from the terminal without echo.
func readPassword(fromStdin bool, stdin io.Reader, prompt passwordPrompt) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			if errors.Is(err, io.EOF) {
				return "", auth.ErrPasswordEmpty
			}
			return "", fmt.Errorf("reading the password: %w", err)
		}
		return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
	}
	if prompt == nil {
		return "", errors.New("standard input is not a terminal: give the password with --password-stdin")
	}
	first, err := prompt("Password: ")
	if err != nil {
		return "", err
	}
	second, err := prompt("Repeat password: ")
	if err != nil {
		return "", err
	}
	if !bytes.Equal(first, second) {
		return "", errors.New("the passwords do not match")
	}
	return string(first), nil
}
