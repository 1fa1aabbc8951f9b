package auth_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aspengo/aspengo/embedded/enginetest"
	"github.com/aspengo/aspengo/trembling/auth"
)

// TestClientLimitParallel: one client trying one password on many
// accounts at once, through two Users on one database (two processes),
// gets exactly MaxClientFailures full checks; the rest are throttled as
// a client. Another client, and a browser with a device cookie of its
// account, are not; successes do not count.
func TestClientLimitParallel(t *testing.T) {
	ctx := t.Context()
	db := enginetest.DB(t)
	clk := newClock()
	opts := auth.Options{MaxFailures: 100, MaxClientFailures: 5, Window: time.Hour, Now: clk.Now}
	u1, u2 := newUsers(t, db, opts), newUsers(t, db, opts)
	mustCreate(t, u1, "vera", "vera-password-1")
	_, vdev, err := u1.LoginFrom(ctx, "vera", "vera-password-1", "", "203.0.113.9")
	if err != nil {
		t.Fatal(err)
	}
	// Successes from the sprayer's address do not count against it.
	for range 10 {
		if _, _, err := u1.LoginFrom(ctx, "vera", "vera-password-1", "", "203.0.113.7"); err != nil {
			t.Fatalf("a correct login: %v", err)
		}
	}

	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := u1
			if i%2 == 1 {
				u = u2
			}
			_, _, errs[i] = u.LoginFrom(ctx, fmt.Sprintf("user%d", i), "Summer2025!!", "", "203.0.113.7")
		}()
	}
	wg.Wait()
	invalid, client := 0, 0
	for i, err := range errs {
		var te *auth.ThrottledError
		switch {
		case err == auth.ErrInvalidCredentials:
			invalid++
		case errors.As(err, &te) && te.Client:
			client++
		default:
			t.Errorf("attempt %d: %v; want invalid or throttled as a client", i, err)
		}
	}
	if invalid != 5 || client != n-5 {
		t.Errorf("%d invalid and %d throttled as a client; want 5 and %d", invalid, client, n-5)
	}
	// The sprayer is throttled even on a right password...
	if _, _, err := u2.LoginFrom(ctx, "vera", "vera-password-1", "", "203.0.113.7"); !errors.Is(err, auth.ErrThrottled) {
		t.Errorf("the right password from the throttled client: %v; want ErrThrottled", err)
	}
	// ...but not a browser there that has logged in as vera before,
	if _, _, err := u2.LoginFrom(ctx, "vera", "vera-password-1", vdev, "203.0.113.7"); err != nil {
		t.Errorf("with vera's device cookie from the throttled client: %v", err)
	}
	// nor another client,
	if _, _, err := u1.LoginFrom(ctx, "vera", "vera-password-1", "", "198.51.100.1"); err != nil {
		t.Errorf("another client: %v", err)
	}
	// and the limit ends with the window.
	clk.Advance(time.Hour)
	if _, _, err := u1.LoginFrom(ctx, "user1", "Summer2025!!", "", "203.0.113.7"); err != auth.ErrInvalidCredentials {
		t.Errorf("next window: %v; want ErrInvalidCredentials", err)
	}
}

// TestKnownDevice: a device cookie is known for the account it was
// issued for only.
func TestKnownDevice(t *testing.T) {
	ctx := t.Context()
	u := newUsers(t, enginetest.DB(t), auth.Options{})
	mustCreate(t, u, "Walt", "walt-password-1")
	_, dev, err := u.Login(ctx, "walt", "walt-password-1", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		device, user string
		want         bool
	}{{dev, "walt", true}, {dev, "WALT", true}, {dev, "vera", false}, {"", "walt", false}, {dev + "x", "walt", false}} {
		if got := u.KnownDevice(ctx, tc.device, tc.user); got != tc.want {
			t.Errorf("KnownDevice(%.8q…, %q) = %v; want %v", tc.device, tc.user, got, tc.want)
		}
	}
}

// TestClientLimitIPv6: the addresses of one IPv6 /64 share the per-client
// limit; another /64 has its own.
func TestClientLimitIPv6(t *testing.T) {
	ctx := t.Context()
	u := newUsers(t, enginetest.DB(t), auth.Options{MaxFailures: 100, MaxClientFailures: 2, Window: time.Hour, Now: newClock().Now})
	for _, tc := range []struct {
		client        string
		wantThrottled bool
	}{
		{"2001:db8:0:7::1", false},
		{"2001:db8:0:7::2", false},
		{"2001:db8:0:7:ffff:ffff:ffff:ffff", true}, // the /64's third failure
		{"2001:db8:0:8::1", false},                 // another /64
		{"203.0.113.5", false},
	} {
		_, _, err := u.LoginFrom(ctx, "nobody-"+tc.client, "Summer2025!!", "", tc.client)
		var te *auth.ThrottledError
		if got := errors.As(err, &te) && te.Client; got != tc.wantThrottled {
			t.Errorf("a failure from %s: %v; throttled as a client %v, want %v", tc.client, err, got, tc.wantThrottled)
		}
	}
}
