package trembling

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/database"
	"github.com/aspengo/aspengo/trembling/session"
	"github.com/aspengo/aspengo/trembling/session/cookiestore"
	"github.com/aspengo/aspengo/trembling/session/memstore"
	"github.com/aspengo/aspengo/trembling/session/mongostore"
)

// Names under which Register adds the session hooks.
const (
	HookInbound  = "trembling.session:inbound"
	HookOutbound = "trembling.session:outbound"
)

// Store names, for [Config.Store] and website.session_store.
const (
	StoreMongo  = "mongo"
	StoreMemory = "memory"
	StoreCookie = "cookie"
)

// KeyFileName is the file in [Config.KeyDir] that holds the cookie store's
// key when no [Config.CookieSecrets] are given.
const KeyFileName = "cookie-session.key"

// Defaults of a [Config].
const (
	DefaultStoreTimeout = 5 * time.Second
	DefaultSweepEvery   = 10 * time.Minute
)

// Config configures the sessions of the websites a [Trembling] serves.
type Config struct {
	// Store is the session store, "mongo" (the default when empty),
	// "memory" or "cookie". A startup hook that sets
	// website.session_store overrides it.
	Store string

	// CookieSecrets are the cookie store's keys, each at least 32 random
	// bytes: the first seals, every one opens. When empty, the cookie
	// store uses the key file KeyFileName in KeyDir.
	CookieSecrets [][]byte
	// KeyDir is where the cookie store keeps its key file, created (0600)
	// on first use. It must be set for the cookie store when
	// CookieSecrets is empty. Keep it out of the www root's version
	// control.
	KeyDir string

	// IdleTimeout ends an anonymous session unused this long; 0 means
	// session.DefaultIdleTimeout (24 hours).
	IdleTimeout time.Duration
	// Lifetime ends an anonymous session this long after it began; 0
	// means session.DefaultLifetime (14 days).
	Lifetime time.Duration
	// LoginIdleTimeout ends a logged-in session unused this long
	// (aspengo serve --session-idle); website.session_idle, in seconds,
	// overrides it. 0 means session.DefaultLoginIdleTimeout (30 minutes).
	LoginIdleTimeout time.Duration
	// LoginLifetime ends a logged-in session this long after the login
	// (aspengo serve --session-lifetime); website.session_lifetime, in
	// seconds, overrides it. 0 means session.DefaultLoginLifetime (12
	// hours).
	LoginLifetime time.Duration
	// SecureCookies marks the session and device cookies Secure on every
	// response, loopback hosts included (aspengo serve --secure-cookies).
	// Without it a cookie is Secure unless the request is plain HTTP to
	// a loopback host (localhost, 127.0.0.1, ::1): see
	// [session.Cookie.SecureFor].
	SecureCookies bool
	// InsecureCookies marks cookies Secure only over TLS (aspengo serve
	// --insecure-cookies), for a site served over plain HTTP under a
	// name that is not loopback; SecureCookies wins.
	InsecureCookies bool
	// CookieName is the session cookie's name; "" means
	// session.DefaultCookieName ("session_key"). A Secure cookie gets the
	// "__Host-" prefix ("__Host-session_key").
	CookieName string

	// MaxSessionSize limits the data of one session, in bytes of its
	// JSON form: a request whose save would store more fails with an
	// error naming the limit, and nothing is written. 0 means
	// session.DefaultMaxSize (64 KiB); a negative value means no limit.
	MaxSessionSize int

	// Versioner, when set, gives the mongo session store and the
	// accounts an in-process cache validated by it (see
	// mongostore.WithCache and auth.Options.Versions): set it to the
	// embedded engine this process owns, whose version tracker sees every
	// change to its data, from any connection, so that a logout, a
	// password change or `aspengo user disable` from another process
	// takes effect at the next request. Leave it nil with a MongoDB
	// server, which other processes write to unseen.
	Versioner mongostore.Versioner
	// SessionCacheSize bounds that cache, in sessions; 0 means 10,000.
	SessionCacheSize int

	// StoreTimeout bounds each call to the store; 0 means
	// DefaultStoreTimeout. A call that takes longer fails the request
	// with 503.
	StoreTimeout time.Duration
	// SweepEvery is how often expired sessions are removed from the
	// mongo and memory stores; 0 means DefaultSweepEvery.
	SweepEvery time.Duration

	// BcryptCost is the bcrypt cost of new password hashes: 0 means
	// auth.DefaultCost (12). Register refuses a cost below auth.MinCost
	// (10) or above auth.MaxCost.
	BcryptCost int
	// LoginURL is where login_required sends anonymous visitors when the
	// page names no login_url and no startup hook set website.login_url;
	// "" means DefaultLoginURL.
	LoginURL string

	// Logger receives what the stores report; nil means the website's
	// logger.
	Logger *slog.Logger
	// Now returns the current time, for tests (session expiry, login
	// throttling); nil means time.Now.
	Now func() time.Time
}

// Trembling is trembling's sessions and messages registered in an
// [aspengo.Registry]. It keeps one session store per started Website and
// is safe for concurrent use.
type Trembling struct {
	cfg Config

	mu    sync.RWMutex
	sites map[*aspengo.Website]*site
}

// site is the session setup of one started Website.
type site struct {
	storeName string
	mgr       *session.Manager
	stop      context.CancelFunc // stops the sweeper; nil when there is none
	done      chan struct{}      // closed when the sweeper has returned
	auth      *authSite          // set by startAuth; see auth.go
}

// Register adds trembling's sessions, messages and auth to reg: the hooks
// HookInbound, HookOutbound and HookAuth, the request attributes session,
// messages, user, authenticated and login_error, the builtins add_message,
// login, logout, login_required, create_user, set_password, user_exists
// and safe_next, and the start and shutdown functions that set up and
// stop each website's store and accounts (see the package
// documentation). It fails if cfg names an unknown store or a bcrypt cost
// out of range, or if reg already has something of the same name.
func Register(reg *aspengo.Registry, cfg Config) (*Trembling, error) {
	switch cfg.Store {
	case "", StoreMongo, StoreMemory, StoreCookie:
	default:
		return nil, fmt.Errorf("trembling: unknown session store %q (want %q, %q or %q)", cfg.Store, StoreMongo, StoreMemory, StoreCookie)
	}
	for i, s := range cfg.CookieSecrets {
		if len(s) < cookiestore.MinSecretSize {
			return nil, fmt.Errorf("trembling: cookie secret %d has %d bytes, fewer than %d", i, len(s), cookiestore.MinSecretSize)
		}
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = DefaultStoreTimeout
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = DefaultSweepEvery
	}
	t := &Trembling{cfg: cfg, sites: map[*aspengo.Website]*site{}}
	if err := reg.Hook(HookInbound, aspengo.Hook{Inbound: t.inbound, Requires: []string{HookOutbound}}); err != nil {
		return nil, err
	}
	if err := reg.Hook(HookOutbound, aspengo.Hook{Outbound: t.outbound, Requires: []string{HookInbound}}); err != nil {
		return nil, err
	}
	if err := reg.Builtin("add_message", starlark.NewBuiltin("add_message", addMessageFn)); err != nil {
		return nil, err
	}
	reg.BuiltinNeeds("add_message", HookInbound, HookOutbound)
	reg.RequestAttr("session", HookInbound)
	reg.RequestAttr("messages", HookInbound)
	reg.OnStart(t.start)
	reg.OnShutdown(t.shutdown)
	if err := t.registerAuth(reg); err != nil { // auth.go
		return nil, err
	}
	return t, nil
}

// Manager returns the session manager of the started website w, or nil.
// Its Store, when it has one, is bounded by Config.StoreTimeout.
func (t *Trembling) Manager(w *aspengo.Website) *session.Manager {
	if s := t.site(w); s != nil {
		return s.mgr
	}
	return nil
}

// StoreName returns the name of the store the started website w uses
// ("mongo", "memory" or "cookie"), or "" when w is not started.
func (t *Trembling) StoreName(w *aspengo.Website) string {
	if s := t.site(w); s != nil {
		return s.storeName
	}
	return ""
}

func (t *Trembling) site(w *aspengo.Website) *site {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.sites[w]
}

func (t *Trembling) logger(w *aspengo.Website) *slog.Logger {
	if t.cfg.Logger != nil {
		return t.cfg.Logger
	}
	return w.Logger()
}

// start sets up the session store of w once its startup hooks have run.
func (t *Trembling) start(ctx context.Context, w *aspengo.Website) error {
	name, err := t.storeName(w)
	if err != nil {
		return err
	}
	log := t.logger(w)
	loginIdle, err := durationAttr(w, "session_idle", t.cfg.LoginIdleTimeout)
	if err != nil {
		return err
	}
	loginLifetime, err := durationAttr(w, "session_lifetime", t.cfg.LoginLifetime)
	if err != nil {
		return err
	}
	s := &site{storeName: name}
	mgr := &session.Manager{
		IdleTimeout:      t.cfg.IdleTimeout,
		Lifetime:         t.cfg.Lifetime,
		LoggedIn:         hasLogin,
		LoginIdleTimeout: loginIdle,
		LoginLifetime:    loginLifetime,
		Cookie:           t.cookie(),
		MaxSize:          t.cfg.MaxSessionSize,
		Now:              t.cfg.Now,
	}
	var sweep session.Store
	switch name {
	case StoreMongo:
		db, err := websiteDB(w)
		if err != nil {
			return err
		}
		var opts []mongostore.Option
		if t.cfg.Versioner != nil {
			opts = append(opts, mongostore.WithCache(t.cfg.Versioner, t.cfg.SessionCacheSize))
		}
		ms := mongostore.New(db.Database(), opts...)
		ms.Now, ms.Logger = t.cfg.Now, log
		ictx, cancel := context.WithTimeout(ctx, t.cfg.StoreTimeout)
		err = ms.EnsureIndexes(ictx)
		cancel()
		if err != nil {
			return fmt.Errorf("trembling: sessions in %s.%s: %w", db.Name(), mongostore.Collection, err)
		}
		mgr.Store = &boundedStore{s: ms, timeout: t.cfg.StoreTimeout}
		sweep = mgr.Store
	case StoreMemory:
		ms := memstore.New()
		ms.Now = t.cfg.Now
		mgr.Store = &boundedStore{s: ms, timeout: t.cfg.StoreTimeout}
		sweep = mgr.Store
	case StoreCookie:
		secrets := t.cfg.CookieSecrets
		if len(secrets) == 0 {
			if t.cfg.KeyDir == "" {
				return errors.New("trembling: the cookie session store needs keys: set Config.CookieSecrets or Config.KeyDir")
			}
			key, err := loadOrCreateKey(t.cfg.KeyDir)
			if err != nil {
				return err
			}
			secrets = [][]byte{key}
		}
		codec, err := cookiestore.New(secrets...)
		if err != nil {
			return fmt.Errorf("trembling: cookie session store: %w", err)
		}
		codec.Now = t.cfg.Now
		mgr.Codec = codec
	}
	s.mgr = mgr

	t.mu.Lock()
	defer t.mu.Unlock()
	if _, dup := t.sites[w]; dup {
		return errors.New("trembling: website started twice")
	}
	if sweep != nil {
		sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		s.stop, s.done = stop, make(chan struct{})
		go func() {
			defer close(s.done)
			session.Sweep(sctx, sweep, t.cfg.SweepEvery, log)
		}()
	}
	t.sites[w] = s
	if sweep != nil {
		log.Info("sessions", "store", name, "sweep_every", t.cfg.SweepEvery)
	} else {
		log.Info("sessions", "store", name)
	}
	return nil
}

// shutdown stops the sweeper of w's store, waiting for it (or for ctx),
// and forgets the store.
func (t *Trembling) shutdown(ctx context.Context, w *aspengo.Website) error {
	t.mu.Lock()
	s := t.sites[w]
	delete(t.sites, w)
	t.mu.Unlock()
	if s == nil || s.stop == nil {
		return nil
	}
	s.stop()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("trembling: waiting for the session sweeper: %w", context.Cause(ctx))
	}
}

// storeName returns website.session_store if a startup hook set it, else
// the configured store.
func (t *Trembling) storeName(w *aspengo.Website) (string, error) {
	name := t.cfg.Store
	if v, ok := w.Attr("session_store"); ok {
		s, ok := starlark.AsString(v)
		if !ok {
			return "", fmt.Errorf("trembling: website.session_store must be a str (%q, %q or %q), not %s", StoreMongo, StoreMemory, StoreCookie, v.Type())
		}
		name = s
	}
	switch name {
	case "":
		return StoreMongo, nil
	case StoreMongo, StoreMemory, StoreCookie:
		return name, nil
	}
	return "", fmt.Errorf("trembling: website.session_store: unknown session store %q (want %q, %q or %q)", name, StoreMongo, StoreMemory, StoreCookie)
}

// cookie returns the session cookie's settings.
func (t *Trembling) cookie() session.Cookie {
	return session.Cookie{Name: t.cfg.CookieName, Secure: t.cfg.SecureCookies, Insecure: t.cfg.InsecureCookies}
}

// durationAttr returns website.<name>, a positive number of seconds a
// startup hook may set, else def.
func durationAttr(w *aspengo.Website, name string, def time.Duration) (time.Duration, error) {
	v, ok := w.Attr(name)
	if !ok {
		return def, nil
	}
	var secs float64
	switch v := v.(type) {
	case starlark.Int:
		n, ok := v.Int64()
		if !ok {
			return 0, fmt.Errorf("trembling: website.%s: %s seconds is too long", name, v)
		}
		secs = float64(n)
	case starlark.Float:
		secs = float64(v)
	default:
		return 0, fmt.Errorf("trembling: website.%s must be a number of seconds, not %s", name, v.Type())
	}
	if !(secs >= 1) || secs > float64(math.MaxInt64/int64(time.Second)) {
		return 0, fmt.Errorf("trembling: website.%s: %v seconds is out of range (at least 1)", name, secs)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// websiteDB returns website.db as a database handle.
func websiteDB(w *aspengo.Website) (*database.Handle, error) {
	v, ok := w.Attr("db")
	if !ok {
		return nil, errors.New(`trembling: the mongo session store needs website.db: set it in a startup hook (website.db = connect("mydb")), or choose another store (website.session_store = "memory")`)
	}
	h, ok := v.(*database.Handle)
	if !ok {
		return nil, fmt.Errorf("trembling: the mongo session store needs website.db to be a database handle from connect(), not a %s", v.Type())
	}
	return h, nil
}

// loadOrCreateKey reads the cookie store's key from dir/KeyFileName,
// creating the file with 32 random bytes (mode 0600) if it does not exist.
// Two processes creating it at once end up with the same key: the file
// appears whole (a hard link of a complete temporary file) or not at all.
func loadOrCreateKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, KeyFileName)
	key, err := readKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("trembling: cookie session key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+KeyFileName+".*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("trembling: cookie session key: %w", err)
	}
	defer os.Remove(tmp.Name())
	key = make([]byte, cookiestore.MinSecretSize)
	rand.Read(key)
	_, err = tmp.Write(key)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("trembling: cookie session key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKey(path) // another process made it first
		}
		return nil, fmt.Errorf("trembling: cookie session key: %w", err)
	}
	return key, nil
}

// readKey reads a key file, refusing one that others may read or that is
// too short.
func readKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("trembling: cookie session key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("trembling: cookie session key %s: mode %v lets others read it; chmod 600 it", path, fi.Mode().Perm())
	}
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trembling: cookie session key: %w", err)
	}
	if len(key) < cookiestore.MinSecretSize {
		return nil, fmt.Errorf("trembling: cookie session key %s: %d bytes, fewer than %d", path, len(key), cookiestore.MinSecretSize)
	}
	return key, nil
}
