package trembling

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	starlarktime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/database"
	"github.com/aspengo/aspengo/simplate"
	"github.com/aspengo/aspengo/trembling/auth"
)

// HookAuth is the name under which Register adds the auth hook. It serves
// the inbound phases only and must be listed after [HookInbound].
const HookAuth = "trembling.auth:inbound"

// DefaultLoginURL is where login_required sends anonymous visitors when
// neither the page, website.login_url nor [Config.LoginURL] says otherwise.
const DefaultLoginURL = "/account/login.html"

// DefaultChangePasswordURL is where login_required sends a user who must
// change their password (an operator set a temporary one) when
// website.change_password_url does not say otherwise.
const DefaultChangePasswordURL = "/account/password.html"

// Values of request.login_error after a failed login(request, ...).
const (
	// LoginErrorInvalid: unknown username, wrong password or inactive
	// account, which are not told apart.
	LoginErrorInvalid = "invalid"
	// LoginErrorThrottled: too many recent attempts for that username
	// (existing or not) from browsers without a device cookie for it, or
	// with the device cookie presented; the right password fails too
	// until the window passes.
	LoginErrorThrottled = "throttled"
)

// DeviceCookieName is the cookie that marks a browser as one that has
// logged in as a user (OWASP's "device cookie"): failed logins from other
// clients do not lock it out of that account.
const DeviceCookieName = "login_device"

// DeviceKeyFileName is the file in [Config.KeyDir] that holds the key
// signing device cookies, when that directory exists; otherwise the key
// is kept in the database (see auth.Options.DeviceKey).
const DeviceKeyFileName = "login-device.key"

// PepperFileName is the file in [Config.KeyDir] that holds the pepper,
// the secret key of the password hashes (see auth.Options.Pepper), when
// that directory exists; otherwise it is kept in the database. Losing it
// makes every password hashed with it fail: back it up with the
// database, apart from it.
const PepperFileName = "password-pepper.key"

// deviceCookieMaxAge is how long a browser keeps its device cookie.
const deviceCookieMaxAge = 365 * 24 * time.Hour

// loginKey is the reserved session key that holds the login:
// {"username": ..., "fingerprint": auth.Fingerprint(user)}. request.session
// neither shows it nor lets a page set it, so no page can log a visitor in
// by writing to the session; only login() writes it.
const loginKey = "_auth"

// Fields of the login stored under loginKey.
const (
	loginUser        = "username"
	loginFingerprint = "fingerprint"
)

// authSite is the auth setup of one started Website.
type authSite struct {
	users    *auth.Users // nil when err is set
	err      error       // why the site has no accounts (no website.db)
	loginURL string
	// changePasswordURL is where a user who must change their password
	// is sent (website.change_password_url).
	changePasswordURL string
	trusted           []netip.Prefix // website.trusted_proxies
	timeout           time.Duration
	log               *slog.Logger
	now               func() time.Time

	lookups lookupLimiter // of user_exists
	reads   atomic.Int64  // accounts read for requests' users, for tests

	sweepEvery time.Duration
	mu         sync.Mutex
	lastSweep  time.Time // of the stale login-failure counters
}

// registerAuth adds the auth hook, request attributes, builtins and start
// function to reg.
func (t *Trembling) registerAuth(reg *aspengo.Registry) error {
	if c := t.cfg.BcryptCost; c != 0 && (c < auth.MinCost || c > auth.MaxCost) {
		return fmt.Errorf("trembling: bcrypt cost %d is outside %d..%d", c, auth.MinCost, auth.MaxCost)
	}
	if err := reg.Hook(HookAuth, aspengo.Hook{Inbound: t.authInbound, After: []string{HookInbound}, Requires: []string{HookOutbound}}); err != nil {
		return err
	}
	builtins := []struct {
		name string
		fn   func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error)
	}{
		{"login", t.loginFn},
		{"logout", t.logoutFn},
		{"login_required", t.loginRequiredFn},
		{"create_user", t.createUserFn},
		{"set_password", t.setPasswordFn},
		{"user_exists", t.userExistsFn},
		{"safe_next", safeNextFn},
		{"check_password", checkPasswordFn},
	}
	for _, bi := range builtins {
		if err := reg.Builtin(bi.name, starlark.NewBuiltin(bi.name, bi.fn)); err != nil {
			return err
		}
	}
	// What aspengo check looks for in hooks.conf when a page calls these.
	reg.BuiltinNeeds("login", HookInbound, HookAuth, HookOutbound)
	reg.BuiltinNeeds("logout", HookInbound, HookOutbound)
	reg.BuiltinNeeds("login_required", HookInbound, HookAuth, HookOutbound)
	reg.RequestAttr("user", HookAuth)
	reg.RequestAttr("authenticated", HookAuth)
	reg.RequestAttr("login_error", HookAuth)
	reg.OnStart(t.startAuth)
	return nil
}

// startAuth sets up the accounts of w once the session store is set up.
// A site without website.db starts (it may not use auth); the auth hook
// and the account builtins then fail with an error that says to set it.
func (t *Trembling) startAuth(ctx context.Context, w *aspengo.Website) error {
	st := t.site(w)
	if st == nil {
		return errors.New("trembling: auth: sessions are not set up for this website")
	}
	a := &authSite{
		loginURL:   t.cfg.LoginURL,
		timeout:    t.cfg.StoreTimeout,
		log:        t.logger(w),
		now:        t.cfg.Now,
		sweepEvery: t.cfg.SweepEvery,
	}
	if a.now == nil {
		a.now = time.Now
	}
	if v, ok := w.Attr("login_url"); ok {
		s, ok := starlark.AsString(v)
		if !ok || s == "" {
			return fmt.Errorf("trembling: website.login_url must be a non-empty str, not %s", v)
		}
		a.loginURL = s
	}
	if a.loginURL == "" {
		a.loginURL = DefaultLoginURL
	}
	maxHashes, hashWait, err := hashLimits(w)
	if err != nil {
		return err
	}
	a.changePasswordURL = DefaultChangePasswordURL
	if v, ok := w.Attr("change_password_url"); ok {
		s, ok := starlark.AsString(v)
		if !ok || !strings.HasPrefix(s, "/") {
			return fmt.Errorf("trembling: website.change_password_url must be a local path (a str starting with /), not %s", v)
		}
		a.changePasswordURL = s
	}
	if _, err := accountEventFunc(w); err != nil {
		return err
	}
	if a.trusted, err = parseTrustedProxies(w); err != nil {
		return err
	}
	a.lookups.perMinute = DefaultLookupsPerMinute
	if v, ok := w.Attr("user_exists_per_minute"); ok {
		i, ok := v.(starlark.Int)
		n, exact := i.Int64()
		if !ok || !exact || n < 0 || n > 1<<20 {
			return fmt.Errorf("trembling: website.user_exists_per_minute must be an int from 0 (no limit) to %d, not %s", 1<<20, v)
		}
		a.lookups.perMinute = int(n)
	}
	var perClient int
	if v, ok := w.Attr("login_failures_per_client"); ok {
		i, ok := v.(starlark.Int)
		n, exact := i.Int64()
		if !ok || !exact || n < 1 || n > 1<<16 {
			return fmt.Errorf("trembling: website.login_failures_per_client must be an int from 1 to 65536, not %s", v)
		}
		perClient = int(n)
	}
	v, set := w.Attr("db")
	h, isHandle := v.(*database.Handle)
	switch {
	case !set:
		a.err = errors.New(`trembling: user accounts need website.db: set it in a startup hook (website.db = connect("mydb"))`)
	case !isHandle:
		a.err = fmt.Errorf("trembling: user accounts need website.db to be a database handle from connect(), not a %s", v.Type())
	default:
		deviceKey, pepper, err := KeyFiles(t.cfg.KeyDir, a.log)
		if err != nil {
			return err
		}
		users, err := auth.NewUsers(h.Database(), auth.Options{
			Cost: t.cfg.BcryptCost, Now: t.cfg.Now, Logger: a.log, DeviceKey: deviceKey,
			Pepper: pepper, MaxHashes: maxHashes, HashWait: hashWait, MaxClientFailures: perClient,
			Versions: t.cfg.Versioner,
		})
		if err != nil {
			return fmt.Errorf("trembling: %w", err)
		}
		a.users = users
		// With the mongo session store the database has just answered
		// (or startup has failed); make the indexes now. Otherwise the
		// database may not be needed at all (a site without the auth
		// hook): the first create_user or login makes them.
		if st.storeName == StoreMongo {
			ictx, cancel := context.WithTimeout(ctx, a.timeout)
			err := a.users.EnsureIndexes(ictx)
			cancel()
			if err != nil {
				return fmt.Errorf("trembling: accounts in %s: %w", h.Name(), err)
			}
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	st.auth = a
	return nil
}

// hashLimits reads the bound on password checks that a startup hook may
// set: website.max_password_checks (an int, default the number of CPUs)
// and website.password_check_wait (seconds a login waits for one of them
// before its 503, default auth.DefaultHashWait).
func hashLimits(w *aspengo.Website) (n int, wait time.Duration, err error) {
	if v, ok := w.Attr("max_password_checks"); ok {
		i, ok := v.(starlark.Int)
		n64, exact := i.Int64()
		if !ok || !exact || n64 < 1 || n64 > 1<<16 {
			return 0, 0, fmt.Errorf("trembling: website.max_password_checks must be an int from 1 to 65536, not %s", v)
		}
		n = int(n64)
	}
	if v, ok := w.Attr("password_check_wait"); ok {
		f, ok := starlark.AsFloat(v)
		if !ok || f <= 0 || f > 60 {
			return 0, 0, fmt.Errorf("trembling: website.password_check_wait must be a number of seconds above 0 and at most 60, not %s", v)
		}
		wait = time.Duration(f * float64(time.Second))
	}
	return n, wait, nil
}

// busy answers a request whose password check found every slot taken:
// 503 with Retry-After, logged as a warning.
func (a *authSite) busy(r *aspengo.Request, b *starlark.Builtin, err error) error {
	retry := time.Second
	var be *auth.BusyError
	if errors.As(err, &be) {
		retry = be.RetryAfter
	}
	a.log.Warn("trembling: too many password checks at once; answered 503", "builtin", b.Name(), "path", r.URL.Path)
	resp := r.Abort(http.StatusServiceUnavailable, "")
	resp.Header.Set("Retry-After", strconv.Itoa(int(retry.Round(time.Second)/time.Second)))
	return fmt.Errorf("%s: %w", b.Name(), resp)
}

// KeyFiles returns the keys of the accounts kept in the key directory
// dir (Config.KeyDir): the key of the device cookies (DeviceKeyFileName)
// and the pepper of the password hashes (PepperFileName), each made on
// first use. When dir is "" or does not exist both are nil, and the
// accounts keep them in the database, shared by every process that uses
// it (with a MongoDB server there may be no data directory at all).
// Every program that opens the accounts of a site (aspengo serve and
// aspengo user) must use the same keys.
func KeyFiles(dir string, log *slog.Logger) (deviceKey, pepper []byte, err error) {
	if dir == "" {
		return nil, nil, nil
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		log.Info("trembling: no key directory; the device cookie key and the password pepper are kept in the database", "dir", dir)
		return nil, nil, nil
	}
	deviceKey, err = loadOrCreateFileKey(filepath.Join(dir, DeviceKeyFileName), auth.MinDeviceKeySize)
	if err != nil {
		return nil, nil, fmt.Errorf("trembling: device cookie key: %w", err)
	}
	pepper, err = loadOrCreateFileKey(filepath.Join(dir, PepperFileName), auth.MinPepperSize)
	if err != nil {
		return nil, nil, fmt.Errorf("trembling: password pepper: %w", err)
	}
	return deviceKey, pepper, nil
}

// loadOrCreateFileKey reads the key in path, or makes one of size random
// bytes there (mode 0600, atomically: of two processes starting at once,
// both end up with the first one's key).
func loadOrCreateFileKey(path string, size int) ([]byte, error) {
	key, err := readFileKey(path, size)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*") // mode 0600
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	key = make([]byte, size)
	rand.Read(key)
	_, err = tmp.Write(key)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readFileKey(path, size)
		}
		return nil, err
	}
	return key, nil
}

// readFileKey reads a key file, refusing one that others may read or
// that is shorter than size.
func readFileKey(path string, size int) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(key) < size {
		return nil, fmt.Errorf("%s holds %d bytes, fewer than %d", path, len(key), size)
	}
	return key, nil
}

// sweepFailures removes stale login-failure counters (the embedded engine
// has no TTL index to do it) at most once per Config.SweepEvery. Login
// calls it; failures are only logged.
func (a *authSite) sweepFailures(ctx context.Context) {
	now := a.now()
	a.mu.Lock()
	due := a.lastSweep.IsZero() || now.Sub(a.lastSweep) >= a.sweepEvery
	if due {
		a.lastSweep = now
	}
	a.mu.Unlock()
	if !due {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	err := a.users.EnsureIndexes(ctx)
	if err == nil {
		_, err = a.users.DeleteStaleFailures(ctx)
	}
	if err != nil {
		a.log.Warn("trembling: removing stale login failure counters", "err", err)
	}
}

// authOf returns the auth setup of the started website w, or the error
// that explains why there is none.
func (t *Trembling) authOf(w *aspengo.Website) (*authSite, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	st := t.sites[w]
	if st == nil || st.auth == nil {
		return nil, errors.New("trembling: auth is not set up for this website (Website.Start has not run)")
	}
	if st.auth.err != nil {
		return nil, st.auth.err
	}
	return st.auth, nil
}

// Users returns the accounts of the started website w, in website.db, or
// nil when w is not started or has no website.db.
func (t *Trembling) Users(w *aspengo.Website) *auth.Users {
	a, err := t.authOf(w)
	if err != nil {
		return nil
	}
	return a.users
}

// LoginURL returns where login_required sends the anonymous visitors of
// the started website w when the page names no login_url, or "".
func (t *Trembling) LoginURL(w *aspengo.Website) string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if st := t.sites[w]; st != nil && st.auth != nil {
		return st.auth.loginURL
	}
	return ""
}

// context returns the context of a call to the accounts for r that only
// reads the database.
func (a *authSite) context(r *aspengo.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), a.timeout)
}

// bcryptContext returns the context of a call to the accounts that also
// hashes or compares a password (login, create_user, set_password). It
// has no deadline of its own: bcrypt's CPU time must not count against
// the database's timeout, or a busy machine would answer 503 to correct
// logins. Each database operation is still bounded by the client's own
// operation and server selection timeouts (package database sets both),
// so a database that is down still fails quickly.
func (a *authSite) bcryptContext(r *aspengo.Request) (context.Context, context.CancelFunc) {
	return context.WithCancel(r.Context())
}

// ---------------------------------------------------------------------------
// the request's user

// authValueKey is the key of a request's *requestAuth among its Go values.
type authValueKey struct{}

// requestAuth is who the request is authenticated as, found on first use.
type requestAuth struct {
	load   func() (*auth.User, error) // reads the login and its account; nil once done
	user   *auth.User                 // nil when anonymous
	err    error                      // why the user could not be read
	loaded bool
}

// get returns the request's user, reading it on the first call.
func (ra *requestAuth) get() (*auth.User, error) {
	if !ra.loaded {
		ra.user, ra.err = ra.load()
		ra.loaded, ra.load = true, nil
	}
	return ra.user, ra.err
}

// UserOf returns the account the request r is logged in as, reading it
// if nothing has yet (see [LoadUser]), and false when r is anonymous,
// when the hook trembling.auth:inbound did not run, or when the account
// could not be read.
func UserOf(r *aspengo.Request) (auth.User, bool) {
	u, ok, _ := LoadUser(r)
	return u, ok
}

// LoadUser returns the account the request r is logged in as: the one a
// login during the request gave, or the one its session names, read on
// the first call (of LoadUser, UserOf, request.user or
// request.authenticated) and kept for the rest of the request. ok is
// false when r is anonymous or the hook trembling.auth:inbound did not
// run; err says why the account could not be read (the database is
// unavailable: an error with HTTPStatus 503).
func LoadUser(r *aspengo.Request) (u auth.User, ok bool, err error) {
	ra, found := r.Value(authValueKey{}).(*requestAuth)
	if !found {
		return auth.User{}, false, nil
	}
	user, err := ra.get()
	if err != nil || user == nil {
		return auth.User{}, false, err
	}
	return *user, true, nil
}

// setUser makes r authenticated as u, or anonymous when u is nil:
// request.user and request.authenticated.
func setUser(r *aspengo.Request, u *auth.User) {
	r.SetValue(authValueKey{}, &requestAuth{user: u, loaded: true})
	if u == nil {
		r.SetAttr("user", starlark.None)
		r.SetAttr("authenticated", starlark.False)
		return
	}
	r.SetAttr("user", userValue{u: *u})
	r.SetAttr("authenticated", starlark.True)
}

// setLoginError sets request.login_error.
func setLoginError(r *aspengo.Request, reason string) {
	r.SetAttr("login_error", starlark.String(reason))
}

// loggedIn returns the login stored in the session.
func (s *Session) loggedIn() (username, fingerprint string, ok bool) {
	username, _ = s.login[loginUser].(string)
	fingerprint, _ = s.login[loginFingerprint].(string)
	return username, fingerprint, username != ""
}

// hasLogin reports whether session data holds a login: the session
// manager gives such a session the shorter limits of a logged-in one.
func hasLogin(data map[string]any) bool {
	login, _ := data[loginKey].(map[string]any)
	username, _ := login[loginUser].(string)
	return username != ""
}

// setLogin stores the login of u in the session.
func (s *Session) setLogin(u auth.User) {
	s.login = map[string]any{loginUser: u.Username, loginFingerprint: auth.Fingerprint(u)}
}

// authInbound is the hook trembling.auth:inbound. It reads nothing: it
// makes request.user and request.authenticated lazy, so that a request
// that uses neither (a static file, most API pages) costs no session and
// no account read. The first use reads the login from the session and
// loads its account, once for the request (see readUser).
func (t *Trembling) authInbound(r *aspengo.Request) error {
	a, err := t.authOf(r.Website)
	if err != nil {
		return err
	}
	ra := &requestAuth{load: func() (*auth.User, error) { return a.readUser(r) }}
	r.SetValue(authValueKey{}, ra)
	r.SetLazyAttr("user", func() (starlark.Value, error) {
		u, err := ra.get()
		if err != nil || u == nil {
			return starlark.None, err
		}
		return userValue{u: *u}, nil
	})
	r.SetLazyAttr("authenticated", func() (starlark.Value, error) {
		u, err := ra.get()
		return starlark.Bool(u != nil), err
	})
	setLoginError(r, "")
	return nil
}

// readUser reads the login from the session of r and loads its account:
// an account that is gone, inactive or whose password changed since the
// login (its fingerprint differs) ends the session (Session.Destroy),
// and the request goes on anonymous.
func (a *authSite) readUser(r *aspengo.Request) (*auth.User, error) {
	s, err := SessionOf(r)
	if err != nil {
		return nil, err
	}
	name, fp, ok := s.loggedIn()
	if !ok {
		return nil, nil
	}
	ctx, cancel := a.context(r)
	defer cancel()
	a.reads.Add(1)
	u, err := a.users.Get(ctx, name)
	var why string
	switch {
	case errors.Is(err, auth.ErrNoUser):
		why = "account deleted"
	case err != nil:
		// Not a reason to end the session: the database may be back soon.
		return nil, dbError("reading the logged-in account", err)
	case !u.IsActive:
		why = "account disabled"
	case fp == "" || auth.Fingerprint(u) != fp:
		why = "password changed"
	default:
		return &u, nil
	}
	a.log.Info("trembling: session ended", "user", name, "reason", why)
	return nil, s.Destroy(r.Context())
}

// ---------------------------------------------------------------------------
// builtins

// requestArg returns the request passed as a builtin's first argument.
func requestArg(b *starlark.Builtin, v starlark.Value) (*aspengo.Request, error) {
	r, ok := aspengo.RequestFromValue(v)
	if !ok {
		return nil, fmt.Errorf("%s: the first argument must be the request, not %s", b.Name(), v.Type())
	}
	return r, nil
}

// sessionFor returns the session of r for builtin b.
func sessionFor(b *starlark.Builtin, r *aspengo.Request) (*Session, error) {
	s, err := SessionOf(r)
	if err != nil {
		return nil, fmt.Errorf("%s needs the hook %s in hooks.conf", b.Name(), HookInbound)
	}
	return s, nil
}

// threadAuth returns the request the thread serves and its website's
// accounts, for the builtins that take no request argument.
func (t *Trembling) threadAuth(thread *starlark.Thread, b *starlark.Builtin) (*aspengo.Request, *authSite, error) {
	r, ok := aspengo.RequestFromThread(thread)
	if !ok {
		return nil, nil, fmt.Errorf("%s: not called while serving a request (a startup hook runs before the accounts are set up; use aspengo user to manage accounts from the command line)", b.Name())
	}
	a, err := t.authOf(r.Website)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return r, a, nil
}

// loginFn is login(request, username, password) → bool.
//
// On success the session gets a new key (against session fixation) and
// keeps its data, unless it was logged in as another user: then its data
// is cleared first (waiting messages stay). request.user and
// request.authenticated change at once, and request.login_error is "".
// On failure the session is untouched, the result is False and
// request.login_error says why: LoginErrorInvalid or LoginErrorThrottled.
// username and password may be None (a missing form field), which fails.
func (t *Trembling) loginFn(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var reqv, userv, passv starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "request", &reqv, "username", &userv, "password", &passv); err != nil {
		return nil, err
	}
	r, err := requestArg(b, reqv)
	if err != nil {
		return nil, err
	}
	username, err := strOrNone(b, "username", userv)
	if err != nil {
		return nil, err
	}
	password, err := strOrNone(b, "password", passv)
	if err != nil {
		return nil, err
	}
	s, err := sessionFor(b, r)
	if err != nil {
		return nil, err
	}
	a, err := t.authOf(r.Website)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	var device string
	if c, err := r.Cookie(DeviceCookieName); err == nil {
		device = c.Value
	}
	ctx, cancel := a.bcryptContext(r)
	defer cancel()
	client := a.client(r)
	u, newDevice, err := a.users.LoginFrom(ctx, username, password, device, client)
	if err == nil || errors.Is(err, auth.ErrInvalidCredentials) || errors.Is(err, auth.ErrThrottled) {
		a.sweepFailures(r.Context())
	}
	switch {
	case errors.Is(err, auth.ErrInvalidCredentials):
		setLoginError(r, LoginErrorInvalid)
		return starlark.False, nil
	case errors.Is(err, auth.ErrThrottled):
		var te *auth.ThrottledError
		if errors.As(err, &te) && te.Client {
			a.log.Warn("trembling: too many failed logins from one client; throttled", "client", client)
		}
		setLoginError(r, LoginErrorThrottled)
		return starlark.False, nil
	case errors.Is(err, auth.ErrBusy):
		return nil, a.busy(r, b, err)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", b.Name(), dbError("checking the password", err))
	}
	if current, _, ok := s.loggedIn(); ok && current != u.Username { // both as registered
		if err := s.Clear(); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
	}
	if err := s.RenewToken(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	s.setLogin(u)
	setUser(r, &u)
	setLoginError(r, "")
	r.Response.SetCookie(&http.Cookie{
		Name:     DeviceCookieName,
		Value:    newDevice,
		Path:     "/",
		MaxAge:   int(deviceCookieMaxAge / time.Second),
		HttpOnly: true,
		Secure:   t.cookie().SecureFor(r.Request),
		SameSite: http.SameSiteStrictMode, // only the site's own login form needs it
	})
	if !a.users.KnownDevice(ctx, device, u.ID) {
		a.notify(r, AccountEvent{Type: EventNewDeviceLogin, Username: u.Username, Details: map[string]any{
			"client": client, "user_agent": r.UserAgent(),
		}})
	}
	return starlark.True, nil
}

// strOrNone unpacks a str argument, None giving "".
func strOrNone(b *starlark.Builtin, name string, v starlark.Value) (string, error) {
	if v == starlark.None {
		return "", nil
	}
	s, ok := starlark.AsString(v)
	if !ok {
		return "", fmt.Errorf("%s: %s must be a str, not %s", b.Name(), name, v.Type())
	}
	return s, nil
}

// logoutFn is logout(request): the session is deleted from the store, its
// cookie expired, and the request goes on with a new empty session
// (waiting messages stay, so a page may say "You are logged out").
func (t *Trembling) logoutFn(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var reqv starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "request", &reqv); err != nil {
		return nil, err
	}
	r, err := requestArg(b, reqv)
	if err != nil {
		return nil, err
	}
	s, err := sessionFor(b, r)
	if err != nil {
		return nil, err
	}
	if err := t.revokeSealed(r, s); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if err := s.Destroy(r.Context()); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	setUser(r, nil)
	setLoginError(r, "")
	return starlark.None, nil
}

// revokeSealed makes a logout stick on the cookie store, whose sealed
// session a replayed cookie would otherwise bring back: it moves the
// account's session epoch on, which changes its fingerprint, so every
// session logged in as that user before now ends at its next request
// (see readUser). The other stores delete the session instead.
func (t *Trembling) revokeSealed(r *aspengo.Request, s *Session) error {
	st := t.site(r.Website)
	if st == nil || st.storeName != StoreCookie {
		return nil
	}
	name, _, ok := s.loggedIn()
	if !ok {
		return nil
	}
	a, err := t.authOf(r.Website)
	if err != nil {
		return err
	}
	ctx, cancel := a.context(r)
	defer cancel()
	if err := a.users.EndSessions(ctx, name); err != nil && !errors.Is(err, auth.ErrNoUser) {
		return dbError("ending the sealed sessions", err)
	}
	return nil
}

// loginRequiredFn is login_required(request, login_url=None): None for a
// logged-in visitor; otherwise the request ends with a 302 to login_url
// (else website.login_url, else Config.LoginURL, else DefaultLoginURL)
// with ?next=<the path and query asked for> (&next= when login_url
// already has a query).
func (t *Trembling) loginRequiredFn(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var reqv, urlv starlark.Value = nil, starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "request", &reqv, "login_url?", &urlv); err != nil {
		return nil, err
	}
	r, err := requestArg(b, reqv)
	if err != nil {
		return nil, err
	}
	loginURL, err := strOrNone(b, "login_url", urlv)
	if err != nil {
		return nil, err
	}
	ra, ok := r.Value(authValueKey{}).(*requestAuth)
	if !ok {
		return nil, fmt.Errorf("%s needs the hook %s in hooks.conf", b.Name(), HookAuth)
	}
	if u, err := ra.get(); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	} else if u != nil {
		if u.MustChangePassword {
			if cp := t.changePasswordURL(r.Website); cp != "" && !samePath(cp, r.URL.Path) {
				return nil, fmt.Errorf("%s: %w", b.Name(), r.Redirect(withNext(cp, r.URL.RequestURI()), http.StatusFound))
			}
		}
		return starlark.None, nil
	}
	if loginURL == "" {
		loginURL = t.LoginURL(r.Website)
	}
	if loginURL == "" {
		loginURL = DefaultLoginURL
	}
	return nil, fmt.Errorf("%s: %w", b.Name(), r.Redirect(withNext(loginURL, r.URL.RequestURI()), http.StatusFound))
}

// withNext returns u with the query parameter next=target added.
func withNext(u, target string) string {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	return u + sep + "next=" + url.QueryEscape(target)
}

// samePath reports whether the local URL u (maybe with a query) names
// path.
func samePath(u, path string) bool {
	p, _, _ := strings.Cut(u, "?")
	return p == path
}

// changePasswordURL returns website.change_password_url of the started
// website w, or "".
func (t *Trembling) changePasswordURL(w *aspengo.Website) string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if st := t.sites[w]; st != nil && st.auth != nil {
		return st.auth.changePasswordURL
	}
	return ""
}

// client returns the address of the client of r: its connection's, or
// the one a trusted proxy supplied (website.trusted_proxies).
func (a *authSite) client(r *aspengo.Request) string {
	return clientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), a.trusted)
}

// createUserFn is create_user(username, password, email=None,
// fail_if_taken=True) → the new account, as request.user shows one. A
// username taken in any case fails the request with 409, or with
// fail_if_taken=False gives None: a registration page checks
// user_exists first for a friendly message, but of two registrations of
// one name at once both may pass that check, and the loser learns it
// here.
func (t *Trembling) createUserFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var username, password string
	var emailv starlark.Value = starlark.None
	failIfTaken := true
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "username", &username, "password", &password, "email?", &emailv, "fail_if_taken?", &failIfTaken); err != nil {
		return nil, err
	}
	email, err := strOrNone(b, "email", emailv)
	if err != nil {
		return nil, err
	}
	r, a, err := t.threadAuth(thread, b)
	if err != nil {
		return nil, err
	}
	ctx, cancel := a.bcryptContext(r)
	defer cancel()
	u, err := a.users.Create(ctx, username, password, email)
	switch {
	case errors.Is(err, auth.ErrBusy):
		return nil, a.busy(r, b, err)
	case errors.Is(err, auth.ErrUserExists) && !failIfTaken:
		return starlark.None, nil
	case err != nil:
		return nil, accountError(b, "creating the account", err)
	}
	return userValue{u: u}, nil
}

// setPasswordFn is set_password(username, password). The account's other
// sessions end (their fingerprint no longer matches). When the request is
// logged in as username, its own session stays logged in: it gets a new
// key and the new fingerprint.
func (t *Trembling) setPasswordFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var username, password string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "username", &username, "password", &password); err != nil {
		return nil, err
	}
	r, a, err := t.threadAuth(thread, b)
	if err != nil {
		return nil, err
	}
	ctx, cancel := a.bcryptContext(r)
	defer cancel()
	if err := a.users.SetPassword(ctx, username, password); errors.Is(err, auth.ErrBusy) {
		return nil, a.busy(r, b, err)
	} else if err != nil {
		return nil, accountError(b, "setting the password", err)
	}
	a.notify(r, AccountEvent{Type: EventPasswordChanged, Username: username, Details: map[string]any{"client": a.client(r)}})
	s, err := SessionOf(r)
	if err != nil {
		return starlark.None, nil // no session to keep logged in
	}
	if current, _, ok := s.loggedIn(); !ok || auth.Canonical(current) != auth.Canonical(username) {
		return starlark.None, nil
	}
	u, err := a.users.Get(ctx, username)
	if err != nil {
		return nil, accountError(b, "reading the account", err)
	}
	if err := s.RenewToken(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	s.setLogin(u)
	setUser(r, &u)
	return starlark.None, nil
}

// userExistsFn is user_exists(username) → bool, in any case. A username
// that no account may have is False without a database lookup. Each
// client address may ask it in at most website.user_exists_per_minute
// requests a minute (DefaultLookupsPerMinute; calls after the first in
// one request are free); beyond that the request ends with 429 and
// Retry-After, so that a page that exposes it cannot list the accounts
// quickly.
func (t *Trembling) userExistsFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var username string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "username", &username); err != nil {
		return nil, err
	}
	r, a, err := t.threadAuth(thread, b)
	if err != nil {
		return nil, err
	}
	if auth.CheckUsername(username) != nil {
		return starlark.False, nil
	}
	if r.Value(lookupCountedKey{}) == nil {
		r.SetValue(lookupCountedKey{}, true)
		client := a.client(r)
		if ok, retry := a.lookups.allow(client, a.now()); !ok {
			a.log.Warn("trembling: too many user_exists lookups from one client; answered 429", "client", client, "path", r.URL.Path)
			resp := r.Abort(http.StatusTooManyRequests, "")
			resp.Header.Set("Retry-After", strconv.Itoa(max(1, int(retry.Seconds()+0.999))))
			return nil, fmt.Errorf("%s: %w", b.Name(), resp)
		}
	}
	ctx, cancel := a.context(r)
	defer cancel()
	ok, err := a.users.Exists(ctx, username)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), dbError("looking up the account", err))
	}
	return starlark.Bool(ok), nil
}

// checkPasswordFn is check_password(password) → None when password
// follows the password policy of create_user and set_password (12 to 128
// characters, not one of the most common passwords), else a sentence
// saying why not, for the form that asked for it.
func checkPasswordFn(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var password string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "password", &password); err != nil {
		return nil, err
	}
	if p := auth.PasswordProblem(password); p != "" {
		return starlark.String(p), nil
	}
	return starlark.None, nil
}

// lookupCountedKey marks, among a request's values, that its user_exists
// calls are counted already.
type lookupCountedKey struct{}

// safeNextFn is safe_next(request, default="/"): the "next" parameter of
// the request — on a POST the form body's, else the query string's — if
// auth.SafeNext accepts it as a local path, else default (itself "/" if
// not a safe local path).
func safeNextFn(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var reqv starlark.Value
	dflt := "/"
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "request", &reqv, "default?", &dflt); err != nil {
		return nil, err
	}
	r, err := requestArg(b, reqv)
	if err != nil {
		return nil, err
	}
	var next string
	if r.Method == http.MethodPost {
		// Through request.body, which parses the body once for the page
		// too (url-encoded or multipart) and reports a bad one.
		if next, err = formValue(thread, reqv, "next"); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
	}
	if next == "" {
		next = r.URL.Query().Get("next")
	}
	return starlark.String(auth.SafeNext(next, dflt)), nil
}

// formValue returns request.body.one(name) as a str, "" when absent.
func formValue(thread *starlark.Thread, reqv starlark.Value, name string) (string, error) {
	rv, ok := reqv.(starlark.HasAttrs)
	if !ok {
		return "", fmt.Errorf("request has no body")
	}
	body, err := rv.Attr("body")
	if err != nil {
		return "", err
	}
	bv, ok := body.(starlark.HasAttrs)
	if !ok {
		return "", fmt.Errorf("request.body has no method one")
	}
	one, err := bv.Attr("one")
	if err != nil {
		return "", err
	}
	if one == nil {
		return "", fmt.Errorf("request.body has no method one")
	}
	v, err := starlark.Call(thread, one, starlark.Tuple{starlark.String(name)}, nil)
	if err != nil {
		return "", err
	}
	s, _ := starlark.AsString(v)
	return s, nil
}

// ---------------------------------------------------------------------------
// errors

// AccountError is what an account builtin (create_user, set_password)
// reports for what the page passed it: an invalid username, e-mail address
// or password, a username already taken, an unknown account. It is an
// error of the request rather than of the server, so the pipeline answers
// with its HTTPStatus instead of a 500; the page can avoid the common
// ones with user_exists.
type AccountError struct {
	// Builtin is the builtin that refused, such as "create_user".
	Builtin string
	// Err is the auth package's error: it matches auth.ErrUserExists,
	// auth.ErrNoUser, auth.ErrInvalidUsername, auth.ErrInvalidEmail,
	// auth.ErrPasswordEmpty, auth.ErrPasswordTooShort,
	// auth.ErrPasswordTooLong, auth.ErrPasswordCommon or
	// auth.ErrPasswordInvalid, and names the username or the limit.
	Err error
}

func (e *AccountError) Error() string { return e.Builtin + ": " + e.Err.Error() }

// Unwrap returns the auth package's error.
func (e *AccountError) Unwrap() error { return e.Err }

// HTTPStatus returns 409 (Conflict) for a username already taken, 404
// (Not Found) for an unknown account and 400 (Bad Request) otherwise.
func (e *AccountError) HTTPStatus() int {
	switch {
	case errors.Is(e.Err, auth.ErrUserExists):
		return http.StatusConflict
	case errors.Is(e.Err, auth.ErrNoUser):
		return http.StatusNotFound
	}
	return http.StatusBadRequest
}

// accountError classifies an error of the accounts for builtin b.
func accountError(b *starlark.Builtin, op string, err error) error {
	for _, target := range []error{
		auth.ErrUserExists, auth.ErrNoUser, auth.ErrInvalidUsername,
		auth.ErrInvalidEmail, auth.ErrPasswordEmpty, auth.ErrPasswordTooShort,
		auth.ErrPasswordTooLong, auth.ErrPasswordCommon, auth.ErrPasswordInvalid,
	} {
		if errors.Is(err, target) {
			return &AccountError{Builtin: b.Name(), Err: err}
		}
	}
	return fmt.Errorf("%s: %w", b.Name(), dbError(op, err))
}

// dbError gives an error of the accounts' database its class: an
// *database.UnavailableError (503) when the database could not be reached
// or did not answer in time, else an error with context (500).
func dbError(op string, err error) error {
	// A deadline of the request's own context counts too: the database
	// did not answer in time (a cancelled context is the visitor leaving).
	if database.IsUnavailable(err) || errors.Is(err, context.DeadlineExceeded) {
		return &database.UnavailableError{Op: "accounts: " + op, Err: err}
	}
	return fmt.Errorf("trembling: %s: %w", op, err)
}

// ---------------------------------------------------------------------------
// request.user

// userValue is request.user (and what create_user returns): a read-only
// view of an account, without its password hash.
type userValue struct{ u auth.User }

var (
	_ starlark.HasAttrs       = userValue{}
	_ simplate.TemplateValuer = userValue{}
)

var userAttrNames = []string{"created_at", "email", "id", "is_active", "last_login", "must_change_password", "username"}

func (v userValue) String() string        { return fmt.Sprintf("<user %q>", v.u.Username) }
func (v userValue) Type() string          { return "user" }
func (v userValue) Freeze()               {} // immutable
func (v userValue) Truth() starlark.Bool  { return starlark.True }
func (v userValue) Hash() (uint32, error) { return starlark.String(v.u.Username).Hash() }
func (v userValue) AttrNames() []string   { return userAttrNames }

// Attr returns username, email (None when there is none), is_active,
// created_at, last_login (time.time values in UTC; last_login is None
// before the first login), id (the account's _id, the canonical
// username) and must_change_password (True after an operator set a
// temporary password, until the user sets their own).
func (v userValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "username":
		return starlark.String(v.u.Username), nil
	case "email":
		if v.u.Email == "" {
			return starlark.None, nil
		}
		return starlark.String(v.u.Email), nil
	case "is_active":
		return starlark.Bool(v.u.IsActive), nil
	case "created_at":
		return starlarktime.Time(v.u.CreatedAt.UTC()), nil
	case "last_login":
		if v.u.LastLogin.IsZero() {
			return starlark.None, nil
		}
		return starlarktime.Time(v.u.LastLogin.UTC()), nil
	case "id":
		return starlark.String(v.u.ID), nil
	case "must_change_password":
		return starlark.Bool(v.u.MustChangePassword), nil
	}
	return nil, nil
}

// TemplateValue gives templates a map of the same attributes:
// {{ .request.user.username }}; times are time.Time (nil for no last
// login).
func (v userValue) TemplateValue() any {
	m := map[string]any{
		"username":   v.u.Username,
		"email":      nil,
		"is_active":  v.u.IsActive,
		"created_at": v.u.CreatedAt.UTC(),
		"last_login": nil,
		"id":         v.u.ID,

		"must_change_password": v.u.MustChangePassword,
	}
	if v.u.Email != "" {
		m["email"] = v.u.Email
	}
	if !v.u.LastLogin.IsZero() {
		m["last_login"] = v.u.LastLogin.UTC()
	}
	return m
}
