package bench_test

import (
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/aspengo/aspengo/bench"
	"github.com/aspengo/aspengo/bench/peer"
)

// TestSameBytes checks that aspengo and the peer answer every page of the
// benchmark with the same status, Content-Type and body, so that the
// benchmark compares equal work.
func TestSameBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs aspengo")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build aspengo with")
	}
	bin := filepath.Join(t.TempDir(), "aspengo")
	if out, err := exec.CommandContext(t.Context(), goBin, "build", "-o", bin, "../cmd/aspengo").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	root := filepath.Join("site", "www")
	h, err := peer.New(root)
	if err != nil {
		t.Fatal(err)
	}
	ps := httptest.NewServer(h)
	defer ps.Close()

	for _, store := range []string{"memory", "cookie"} {
		t.Run(store, func(t *testing.T) {
			p := bench.NewServer("peer", ps.URL) // a new visitor
			a, err := bench.StartAspengo(t.Context(), "aspengo", bench.AspengoOptions{
				Bin: bin, Root: root, Data: t.TempDir(), Sessions: store,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Stop()
			for _, pg := range bench.Pages {
				want, err := p.Get(pg)
				if err != nil {
					t.Fatal(err)
				}
				if want.Status != 200 {
					t.Fatalf("peer: %s: status %d", pg.Path, want.Status)
				}
				got, err := a.Get(pg)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s: aspengo differs from the peer (-peer +aspengo):\n%s", pg.Path, diff)
				}
			}
		})
	}
}
