//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package embedded

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// tryLock fails on systems without flock(2): without a lock two processes
// could open the same SQLite files, so the engine refuses to start.
func tryLock(*os.File) (bool, error) {
	return false, fmt.Errorf("locking the data directory is not supported on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// unlock is never reached on these systems.
func unlock(*os.File) error { return nil }

// maxSocketPath is conservative: the shortest sun_path in common use.
func maxSocketPath() int { return 103 }
