package embedded_test

import (
	"bufio"
	"encoding/hex"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// checkLocalSockets fails the test if this process has a TCP socket bound
// to, or connected to, anything but loopback. Linux only (it reads /proc).
func checkLocalSockets(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Log("socket check skipped: needs /proc")
		return
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
	found := 0
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue // no IPv6
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || !inodes[fields[9]] {
				continue
			}
			found++
			local, remote := procAddr(t, fields[1]), procAddr(t, fields[2])
			if !local.IsLoopback() {
				t.Errorf("socket bound to %v, not loopback", local)
			}
			if !remote.IsLoopback() && !remote.IsUnspecified() {
				t.Errorf("socket connected to %v, not loopback", remote)
			}
		}
		f.Close()
	}
	if found == 0 {
		t.Error("no TCP socket of this process found; the check checked nothing")
	}
}

// procAddr parses an address of /proc/net/tcp{,6}: hex, in 32-bit words of
// host (little-endian) byte order, then ":port".
func procAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	ip, _, _ := strings.Cut(s, ":")
	b, err := hex.DecodeString(ip)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		t.Fatalf("bad /proc address %q", s)
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	a, _ := netip.AddrFromSlice(b)
	return a.Unmap()
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
