package trembling

import (
	"fmt"
	"log/slog"
	"slices"
	"time"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/trembling/session"
	"github.com/aspengo/aspengo/trembling/session/cookiestore"
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

// storeNames lists the stores, in the order error messages name them.
var storeNames = []string{StoreMongo, StoreMemory, StoreCookie}

// CheckStore reports whether name is one of the session stores (StoreMongo,
// StoreMemory, StoreCookie), with an error that lists them if not.
func CheckStore(name string) error {
	if slices.Contains(storeNames, name) {
		return nil
	}
	return fmt.Errorf("unknown session store %q (want %s, %s or %s)", name, storeNames[0], storeNames[1], storeNames[2])
}

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
	// auth.DefaultCost (12). Register accepts bcrypt's own range,
	// auth.LowestCost to auth.MaxCost, so that tests may hash quickly;
	// the floor of a real site is policy (aspengo's --bcrypt-cost refuses
	// less than auth.MinCost, 10).
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
	// wrapSweep, when set by a test, wraps the store the sweeper sweeps.
	wrapSweep func(session.Store) session.Store
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
	if cfg.Store != "" {
		if err := CheckStore(cfg.Store); err != nil {
			return nil, fmt.Errorf("trembling: %w", err)
		}
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
	t := &Trembling{cfg: cfg}
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
	if err := t.registerAuth(reg); err != nil { // accounts.go
		return nil, err
	}
	return t, nil
}

func (t *Trembling) logger(w *aspengo.Website) *slog.Logger {
	if t.cfg.Logger != nil {
		return t.cfg.Logger
	}
	return w.Logger()
}
