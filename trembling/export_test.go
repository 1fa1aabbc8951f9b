package trembling

import (
	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/trembling/auth"
	"github.com/aspengo/aspengo/trembling/session"
)

// UserReads returns how many accounts the started website w has read for
// its requests' users, or -1 when it has no accounts.
func UserReads(t *Trembling, w *aspengo.Website) int64 {
	a, err := t.authOf(w)
	if err != nil {
		return -1
	}
	return a.reads.Load()
}

// WrapSweep makes the sweeper of each website t starts sweep wrap(store)
// instead of the store, so that a test can see its sweeps.
func WrapSweep(t *Trembling, wrap func(session.Store) session.Store) { t.wrapSweep = wrap }

// Manager returns the session manager of the started website w, or nil.
func (t *Trembling) Manager(w *aspengo.Website) *session.Manager {
	if s := t.site(w); s != nil {
		return s.mgr
	}
	return nil
}

// StoreName returns the name of the store the started website w uses, or
// "" when w is not started.
func (t *Trembling) StoreName(w *aspengo.Website) string {
	if s := t.site(w); s != nil {
		return s.storeName
	}
	return ""
}

// Users returns the accounts of the started website w, or nil when w is
// not started or has no website.db.
func (t *Trembling) Users(w *aspengo.Website) *auth.Users {
	a, err := t.authOf(w)
	if err != nil {
		return nil
	}
	return a.users
}
