package trembling

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/database"
	"github.com/aspengo/aspengo/trembling/session"
	"github.com/aspengo/aspengo/trembling/session/cookiestore"
	"github.com/aspengo/aspengo/trembling/session/memstore"
	"github.com/aspengo/aspengo/trembling/session/mongostore"
)

// site is the session and account setup of one started Website, held by
// the website itself (Website.SetValue) under the Trembling's siteKey.
type site struct {
	storeName string
	mgr       *session.Manager
	stop      context.CancelFunc // stops the sweeper; nil when there is none
	done      chan struct{}      // closed when the sweeper has returned
	auth      *authSite          // set by startAuth (accounts.go)
}

// siteKey is the key of a website's *site among its values: one per
// Trembling, so that two registries' trembling never share a site.
type siteKey struct{ t *Trembling }

// site returns the setup of the started website w, or nil.
func (t *Trembling) site(w *aspengo.Website) *site {
	s, _ := w.Value(siteKey{t}).(*site)
	return s
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
		Owner:            loginOwner,
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

	if t.site(w) != nil {
		return errors.New("trembling: website started twice")
	}
	if err := w.SetValue(siteKey{t}, s); err != nil {
		return fmt.Errorf("trembling: %w", err)
	}
	if sweep != nil && t.wrapSweep != nil {
		sweep = t.wrapSweep(sweep)
	}
	if sweep != nil {
		sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		s.stop, s.done = stop, make(chan struct{})
		go func() {
			defer close(s.done)
			session.Sweep(sctx, sweep, t.cfg.SweepEvery, log)
		}()
	}
	if sweep != nil {
		log.Info("sessions", "store", name, "sweep_every", t.cfg.SweepEvery)
	} else {
		log.Info("sessions", "store", name)
	}
	return nil
}

// shutdown stops the sweeper of w's store, waiting for it (or for ctx).
func (t *Trembling) shutdown(ctx context.Context, w *aspengo.Website) error {
	s := t.site(w)
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
			return "", fmt.Errorf("trembling: website.session_store must be a str naming a session store, not %s", v.Type())
		}
		name = s
	}
	if name == "" {
		return StoreMongo, nil
	}
	if err := CheckStore(name); err != nil {
		return "", fmt.Errorf("trembling: website.session_store: %w", err)
	}
	return name, nil
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
