package trembling

import "github.com/aspengo/aspengo"

// UserReads returns how many accounts the started website w has read for
// its requests' users, or -1 when it has no accounts.
func UserReads(t *Trembling, w *aspengo.Website) int64 {
	a, err := t.authOf(w)
	if err != nil {
		return -1
	}
	return a.reads.Load()
}
