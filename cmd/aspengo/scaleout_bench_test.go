package main

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aspengo/aspengo/internal/dbserver"
)

// BenchmarkScaleOut measures one, two and three aspengo processes on one
// FerretDB-on-PostgreSQL server with the same load: 50 visitors, each
// with its own session, sending requests back to back, spread over the
// processes in turn. "save" increments a session counter (a session read
// and a save per request); "read" is a logged-in page (a session read and
// the user). It reports requests/s and the 99th percentile latency.
//
// Every process, the database server and the load share this machine's
// cores, so on a small machine more processes show their overhead, not a
// speed-up.
func BenchmarkScaleOut(b *testing.B) {
	server := dbserver.StartForTest(b)
	bin := buildAspengo(b)
	for _, page := range []string{"save", "read"} {
		for n := 1; n <= 3; n++ {
			b.Run(fmt.Sprintf("%s/procs=%d", page, n), func(b *testing.B) {
				uri := server.URI() + fmt.Sprintf("bench_%s_%d", page, n)
				ps := startProcs(b, bin, scaleoutSite, uri, n)
				benchLoad(b, ps, page, 50)
			})
		}
	}
}

// benchLoad runs b.N requests of page from clients visitors over ps.
func benchLoad(b *testing.B, ps []*proc, page string, clients int) {
	bs := browsers(clients, 30*time.Second)
	send := func(ctx context.Context, c, i int) (result, error) {
		base := ps[(c+i)%len(ps)].base
		if page == "save" {
			return do(ctx, bs[c].c, "POST", base+"/incr.json?client=bench", url.Values{}, nil)
		}
		return do(ctx, bs[c].c, "GET", base+"/whoami.json", nil, nil)
	}
	// Every visitor has a session (and, for "read", is logged in) before
	// the clock starts.
	if page == "read" {
		// A benchmark function runs more than once: the account may
		// exist already (409).
		r, err := do(b.Context(), bs[0].c, "POST", ps[0].base+"/register.json", url.Values{"username": {"bench"}, "password": {"bench password"}}, nil)
		if err != nil || r.code != 200 && r.code != 409 {
			b.Fatalf("register: %d %v", r.code, err)
		}
	}
	for c, br := range bs {
		if page == "read" {
			login(b, br, ps[c%len(ps)].base, "bench", "bench password")
		} else if _, err := send(b.Context(), c, 0); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for c := range bs {
		wg.Go(func() {
			var mine []time.Duration
			for i := 0; next.Add(1) <= int64(b.N); i++ {
				t0 := time.Now()
				r, err := send(b.Context(), c, i)
				mine = append(mine, time.Since(t0))
				if err != nil || r.code != 200 {
					failed.Add(1)
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.ReportMetric(float64(failed.Load()), "failed")
}
