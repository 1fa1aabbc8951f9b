//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package embedded_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aspengo/aspengo/embedded"
)

func TestLockedWithoutServerFails(t *testing.T) {
	dir := t.TempDir()
	// An owner that holds the lock but never serves.
	f, err := os.OpenFile(filepath.Join(dir, embedded.LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("4242\n"); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	e, err := embedded.Open(context.Background(), embedded.Config{Dir: dir, OwnerWait: 300 * time.Millisecond})
	if err == nil {
		t.Fatalf("Open succeeded (owner %v)", e.Owner())
	}
	for _, want := range []string{"locked by process 4242", "does not answer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if elapsed := time.Since(start); elapsed < 300*time.Millisecond {
		t.Errorf("gave up after %v, before OwnerWait", elapsed)
	}

	// Once the lock is free, Open takes over.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	e, err = embedded.Open(context.Background(), embedded.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer closeEngine(t, e)
	if !e.Owner() {
		t.Error("Open on a free lock is not the owner")
	}
	b, _ := os.ReadFile(filepath.Join(dir, embedded.LockFile))
	if got := strings.TrimSpace(string(b)); got != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock file holds %q, want this pid", got)
	}
}
