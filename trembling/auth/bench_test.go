package auth_test

import (
	"testing"

	"github.com/aspengo/aspengo/embedded/enginetest"
	"github.com/aspengo/aspengo/trembling/auth"
)

// BenchmarkAuthenticate compares the failures an attacker could try to
// tell apart by timing, at the default cost: their ns/op should be close.
func BenchmarkAuthenticate(b *testing.B) {
	ctx := b.Context()
	db := enginetest.DB(b)
	u := newUsers(b, db, auth.Options{Cost: auth.DefaultCost, MaxFailures: 1 << 30})
	mustCreate(b, u, "victor", "the right one")
	// walter's hash was made at the lowest cost, before the cost was
	// raised to the default; his wrong passwords should not be faster.
	low := newUsers(b, db, auth.Options{Cost: auth.MinCost, MaxFailures: 1 << 30})
	mustCreate(b, low, "walter", "the right one")
	if err := u.SetActive(ctx, "victor", true); err != nil {
		b.Fatal(err)
	}
	// Make the dummy hash before timing.
	if _, err := u.Authenticate(ctx, "warmup", "x"); err != auth.ErrInvalidCredentials {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, username string }{
		{"unknown_user", "nobody"},
		{"wrong_password", "victor"},
		{"wrong_password_lower_cost_hash", "walter"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := u.Authenticate(ctx, bc.username, "a wrong one"); err != auth.ErrInvalidCredentials {
					b.Fatal(err)
				}
			}
		})
	}
}
