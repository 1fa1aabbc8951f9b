package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aspengo/aspengo/embedded/enginetest"
	"github.com/aspengo/aspengo/trembling/auth"
)

// TestHashSlots: at most MaxHashes bcrypt computations run at once; a
// login that finds none free within HashWait is refused as busy, without
// counting against the throttle; a throttled one is answered without
// waiting for a slot.
func TestHashSlots(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	u := newUsers(t, enginetest.DB(t), auth.Options{MaxHashes: 2, HashWait: 10 * time.Millisecond, MaxFailures: 1})
	mustCreate(t, u, "una", "right-horse-battery")

	hold := func() func() {
		t.Helper()
		r1, err := u.HashSlot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := u.HashSlot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return func() { r1(); r2() }
	}
	release := hold()
	_, err := u.Authenticate(ctx, "una", "right-horse-battery")
	var busy *auth.BusyError
	if !errors.As(err, &busy) || !errors.Is(err, auth.ErrBusy) || busy.RetryAfter < time.Second {
		t.Errorf("login with every slot taken: %v; want a *BusyError with a RetryAfter of a second or more", err)
	}
	if _, err := u.Create(ctx, "vera", "pw-long-enough", ""); !errors.Is(err, auth.ErrBusy) {
		t.Errorf("Create with every slot taken: %v; want ErrBusy", err)
	}
	if err := u.SetPassword(ctx, "una", "pw-long-enough"); !errors.Is(err, auth.ErrBusy) {
		t.Errorf("SetPassword with every slot taken: %v; want ErrBusy", err)
	}
	release()

	// The refused login did not count (MaxFailures is 1): this one is
	// checked.
	if _, err := u.Authenticate(ctx, "una", "wrong"); err != auth.ErrInvalidCredentials {
		t.Fatalf("login after the busy one: %v; want ErrInvalidCredentials", err)
	}
	// Throttled now; answered as such even with every slot taken.
	release = hold()
	if _, err := u.Authenticate(ctx, "una", "right-horse-battery"); !errors.Is(err, auth.ErrThrottled) {
		t.Errorf("throttled login with every slot taken: %v; want ErrThrottled", err)
	}
	release()
	if _, err := u.Create(ctx, "vera", "pw-long-enough", ""); err != nil {
		t.Errorf("Create once the slots are free: %v", err)
	}
}

func TestHashSlotCancel(t *testing.T) {
	t.Parallel()
	u := newUsers(t, enginetest.DB(t), auth.Options{MaxHashes: 1, HashWait: time.Hour})
	release, err := u.HashSlot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := u.HashSlot(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("HashSlot with a cancelled context: %v; want context.Canceled", err)
	}
}
