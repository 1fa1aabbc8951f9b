package trembling

import (
	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/trembling/auth"
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

// HashAtLowestCost makes t hash passwords at bcrypt's lowest cost, below
// the floor Register enforces, so that tests run quickly.
func HashAtLowestCost(t *Trembling) { t.cfg.BcryptCost = auth.LowestCost }
