package trembling

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/database"
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
	if c := t.cfg.BcryptCost; c != 0 && (c < auth.LowestCost || c > auth.MaxCost) {
		return fmt.Errorf("trembling: bcrypt cost %d is outside %d..%d", c, auth.LowestCost, auth.MaxCost)
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
		{"reauth_required", t.reauthRequiredFn},
		{"change_password", t.changePasswordFn},
		{"user_sessions", t.userSessionsFn},
		{"end_session", t.endSessionFn},
		{"end_other_sessions", t.endOtherSessionsFn},
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
	for _, name := range []string{"reauth_required", "change_password", "user_sessions", "end_session", "end_other_sessions"} {
		reg.BuiltinNeeds(name, HookInbound, HookAuth, HookOutbound)
	}
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
	st.auth = a // before any request: the site is read-only afterwards
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
	st := t.site(w)
	if st == nil || st.auth == nil {
		return nil, errors.New("trembling: auth is not set up for this website (Website.Start has not run)")
	}
	if st.auth.err != nil {
		return nil, st.auth.err
	}
	return st.auth, nil
}

// loginURL returns where login_required sends the anonymous visitors of
// the started website w when the page names no login_url, or "".
func (t *Trembling) loginURL(w *aspengo.Website) string {
	if st := t.site(w); st != nil && st.auth != nil {
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

// changePasswordURL returns website.change_password_url of the started
// website w, or "".
func (t *Trembling) changePasswordURL(w *aspengo.Website) string {
	if st := t.site(w); st != nil && st.auth != nil {
		return st.auth.changePasswordURL
	}
	return ""
}

// client returns the address of the client of r: its connection's, or
// the one a trusted proxy supplied (website.trusted_proxies).
func (a *authSite) client(r *aspengo.Request) string {
	return clientAddr(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), a.trusted)
}
