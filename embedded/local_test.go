package embedded_test

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/aspengo/aspengo/embedded/enginetest"
)

// tcpListeners counts the TCP sockets of this process in the LISTEN
// state. Linux only (it reads /proc): elsewhere the test is skipped.
func tcpListeners(t *testing.T) int {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("socket check skipped: needs /proc")
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if inode, ok := strings.CutPrefix(target, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	const listen = "0A" // TCP_LISTEN in /proc/net/tcp's st column
	n := 0
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue // no IPv6
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 10 && inodes[fields[9]] && fields[3] == listen {
				n++
			}
		}
		f.Close()
	}
	return n
}

// TestNoTCPListener checks that a running engine, with a client, listens
// on no TCP port: it has no authentication.
func TestNoTCPListener(t *testing.T) {
	e := enginetest.Engine(t, filepath.Join(t.TempDir(), "data"))
	ping(t, enginetest.Connect(t, e.URI()))
	if n := tcpListeners(t); n != 0 {
		t.Errorf("%d TCP sockets listening, want none", n)
	}
	// The check sees a listener when there is one.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if n := tcpListeners(t); n != 1 {
		t.Errorf("with one listener of the test's own, found %d", n)
	}
}

// TestNoTelemetryOrDebugServerLinked checks the import graph: FerretDB's
// telemetry reporter (which would call beacon.ferretdb.com) and its debug
// HTTP server (metrics, pprof) live in packages that only its own command
// imports. If a FerretDB upgrade pulled them into the embedded engine, this
// fails.
func TestNoTelemetryOrDebugServerLinked(t *testing.T) {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		t.Skipf("go command not available: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if !contains(deps, "github.com/FerretDB/FerretDB/ferretdb") {
		t.Fatal("go list output does not include FerretDB; the check checks nothing")
	}
	for _, banned := range []string{
		"github.com/FerretDB/FerretDB/internal/util/telemetry",
		"github.com/FerretDB/FerretDB/internal/util/debug",
	} {
		if contains(deps, banned) {
			t.Errorf("the embedded engine links %s", banned)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
