package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/trembling"
	"github.com/aspengo/aspengo/trembling/auth"
	"github.com/aspengo/aspengo/trembling/session"
)

// sessionFlags configure trembling's sessions.
type sessionFlags struct {
	store           string
	secureCookies   bool
	insecureCookies bool
	bcryptCost      int
	// idle and lifetime are --session-idle and --session-lifetime: the
	// limits of a logged-in session.
	idle, lifetime time.Duration
	// trustedProxies is --trusted-proxies: CIDR networks, comma-separated.
	trustedProxies string
}

func (f *sessionFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.store, "sessions", trembling.StoreMongo, "the session store: mongo, memory or cookie")
	fs.BoolVar(&f.secureCookies, "secure-cookies", false, "mark session cookies Secure on every host, loopback included (by default they are Secure unless the request is plain HTTP to a loopback host: localhost, *.localhost, 127.0.0.0/8 or ::1)")
	fs.BoolVar(&f.insecureCookies, "insecure-cookies", false, "mark session cookies Secure only over TLS (plain HTTP under a LAN name)")
	fs.DurationVar(&f.idle, "session-idle", session.DefaultLoginIdleTimeout, "end a logged-in session unused this long")
	fs.DurationVar(&f.lifetime, "session-lifetime", session.DefaultLoginLifetime, "end a logged-in session this long after the login")
	fs.IntVar(&f.bcryptCost, "bcrypt-cost", auth.DefaultCost, "bcrypt cost of new password hashes (at least 10); lower-cost hashes are upgraded at login")
	fs.StringVar(&f.trustedProxies, "trusted-proxies", "", "comma-separated CIDR networks of reverse proxies whose X-Forwarded-For names the client (for the per-client login limits)")
}

// proxies returns --trusted-proxies as website.trusted_proxies, or nil.
func (f *sessionFlags) proxies() (starlark.Value, error) {
	if strings.TrimSpace(f.trustedProxies) == "" {
		return nil, nil
	}
	var list []starlark.Value
	for _, p := range strings.Split(f.trustedProxies, ",") {
		prefix, err := trembling.ParseProxy(p)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %w", err)
		}
		list = append(list, starlark.String(prefix.String()))
	}
	return starlark.NewList(list), nil
}

// siteOptions is everything needed to open a site with its database.
type siteOptions struct {
	site     siteFlags
	storage  storageFlags
	sessions sessionFlags
	config   aspengo.Config // Root, Registry, HooksFile are filled in by openSite

	// extend adds to the registry before the site is created (tests
	// register their own hooks with it).
	extend func(*aspengo.Registry) error
}

// openSite is a started site on its database: what serve serves and what
// the user command works on.
type openSite struct {
	w       *aspengo.Website
	storage *storage
}

// startSite opens the database (the embedded engine unless --mongodb-uri
// is given), builds the registry, creates the Website, gives it the
// default website.db and runs its startup hooks.
func startSite(ctx context.Context, o siteOptions, log *slog.Logger) (*openSite, error) {
	root := o.site.wwwRoot()
	// Before the database: a mistyped --root must not get a data
	// directory created under it.
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("www root %s: not a directory", root)
	}
	if o.sessions.idle < 0 || o.sessions.lifetime < 0 {
		return nil, fmt.Errorf("--session-idle and --session-lifetime must be positive")
	}
	if c := o.sessions.bcryptCost; c != 0 { // 0: trembling's default
		if err := checkBcryptCost(c); err != nil {
			return nil, err
		}
	}
	if o.sessions.secureCookies && o.sessions.insecureCookies {
		return nil, fmt.Errorf("--secure-cookies and --insecure-cookies contradict each other: give one")
	}
	st, err := openStorage(ctx, o.storage, root, log)
	if err != nil {
		return nil, err
	}
	tc := trembling.Config{
		Store:            o.sessions.store,
		SecureCookies:    o.sessions.secureCookies,
		InsecureCookies:  o.sessions.insecureCookies,
		LoginIdleTimeout: o.sessions.idle,
		LoginLifetime:    o.sessions.lifetime,
		BcryptCost:       o.sessions.bcryptCost,
		KeyDir:           o.storage.dataDir(root),
		Logger:           log,
	}
	if st.engine != nil && st.engine.Owner() {
		// Every write to the data, from any process, passes through this
		// engine, so sessions and accounts may be cached exactly.
		tc.Versioner = st.engine
	}
	reg, err := newRegistry(st.conn, tc)
	if err == nil && o.extend != nil {
		err = o.extend(reg)
	}
	if err != nil {
		st.Close(context.Background())
		return nil, err
	}
	cfg := o.config
	cfg.Root, cfg.HooksFile, cfg.Registry, cfg.Logger = root, o.site.hooks, reg, log
	w, err := aspengo.New(cfg)
	if err != nil {
		st.Close(context.Background())
		return nil, err
	}
	s := &openSite{w: w, storage: st}
	// The default website.db, which a startup hook may replace
	// (website.db = connect("todoy")).
	db, err := st.conn.Handle(st.conn.DefaultDatabase())
	if err == nil {
		err = w.SetAttr("db", db)
	}
	if err == nil {
		var proxies starlark.Value
		if proxies, err = o.sessions.proxies(); err == nil && proxies != nil {
			err = w.SetAttr(trembling.TrustedProxiesAttr, proxies)
		}
	}
	if err == nil {
		err = w.Start(ctx)
	}
	if err != nil {
		s.Close(context.Background())
		return nil, err
	}
	return s, nil
}

// Close runs the shutdown hooks and closes the database.
func (s *openSite) Close(ctx context.Context) error {
	return errors.Join(s.w.Shutdown(ctx), s.storage.Close(ctx))
}

// minBcryptCost is the lowest --bcrypt-cost the commands accept: policy
// (auth.MinCost, 10), below which a stolen hash is too cheap to attack,
// although package auth goes down to bcrypt's own minimum. This
// package's tests lower it, so that their hashes are quick.
var minBcryptCost = auth.MinCost

// checkBcryptCost refuses a --bcrypt-cost outside minBcryptCost to
// auth.MaxCost.
func checkBcryptCost(c int) error {
	if c < minBcryptCost || c > auth.MaxCost {
		return fmt.Errorf("bcrypt cost %d is outside %d..%d", c, minBcryptCost, auth.MaxCost)
	}
	return nil
}

// checkSessionStore refuses an unknown --sessions value early.
func checkSessionStore(name string) error {
	if err := trembling.CheckStore(name); err != nil {
		return fmt.Errorf("--sessions: %w", err)
	}
	return nil
}
