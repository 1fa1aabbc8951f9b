package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Load is one load run's settings.
type Load struct {
	Conns    int           // connections kept open
	Threads  int           // wrk threads
	Duration time.Duration // of each run
	GoClient bool          // use the Go client even when wrk is installed
}

// Result is what one load run measured.
type Result struct {
	RPS      float64
	P50, P99 time.Duration
	Non2xx   int64 // answers that were not 2xx (a broken run)
	Tool     string
}

// Run drives url with the load l, every request carrying cookie.
func (l Load) Run(ctx context.Context, url, cookie string) (Result, error) {
	if !l.GoClient {
		if _, err := exec.LookPath("wrk"); err == nil {
			return l.runWrk(ctx, url, cookie)
		}
	}
	return l.runGo(ctx, url, cookie)
}

// runWrk runs wrk and reads its report.
func (l Load) runWrk(ctx context.Context, url, cookie string) (Result, error) {
	args := []string{"-t", strconv.Itoa(max(l.Threads, 1)), "-c", strconv.Itoa(l.Conns),
		"-d", fmt.Sprintf("%ds", max(int(l.Duration.Seconds()), 1)), "--latency"}
	if cookie != "" {
		args = append(args, "-H", "Cookie: "+cookie)
	}
	out, err := exec.CommandContext(ctx, "wrk", append(args, url)...).CombinedOutput()
	if err != nil {
		return Result{}, fmt.Errorf("wrk: %w: %s", err, out)
	}
	return parseWrk(out)
}

// parseWrk reads the lines of wrk --latency's report that the table needs.
func parseWrk(out []byte) (Result, error) {
	r := Result{Tool: "wrk"}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			r.RPS, _ = strconv.ParseFloat(f[1], 64)
		case len(f) == 2 && f[0] == "50%":
			r.P50 = parseWrkDuration(f[1])
		case len(f) == 2 && f[0] == "99%":
			r.P99 = parseWrkDuration(f[1])
		case len(f) == 5 && f[0] == "Non-2xx":
			r.Non2xx, _ = strconv.ParseInt(f[4], 10, 64)
		}
	}
	if r.RPS == 0 {
		return r, fmt.Errorf("wrk: no Requests/sec in its report:\n%s", out)
	}
	return r, nil
}

// parseWrkDuration parses wrk's 635.00us, 3.21ms, 1.02s.
func parseWrkDuration(s string) time.Duration {
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"m", time.Minute}, {"s", time.Second}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(n, 64)
			if err != nil {
				return 0
			}
			return time.Duration(f * float64(u.unit))
		}
	}
	return 0
}

// runGo is the load generator used when wrk is not installed: l.Conns
// goroutines, each with its own keep-alive connection, request in a loop.
func (l Load) runGo(ctx context.Context, url, cookie string) (Result, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: l.Conns, MaxConnsPerHost: l.Conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ctx, cancel := context.WithTimeout(ctx, l.Duration)
	defer cancel()
	var (
		mu     sync.Mutex
		lat    []time.Duration
		non2xx int64
		first  error
		wg     sync.WaitGroup
	)
	start := time.Now()
	for range l.Conns {
		wg.Go(func() {
			var mine []time.Duration
			var bad int64
			for ctx.Err() == nil {
				req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
				if err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
					return
				}
				if cookie != "" {
					req.Header.Set("Cookie", cookie)
				}
				t0 := time.Now()
				resp, err := c.Do(req)
				if err != nil {
					break // the deadline, most likely
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mine = append(mine, time.Since(t0))
				if resp.StatusCode < 200 || resp.StatusCode > 299 {
					bad++
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			non2xx += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	if first != nil {
		return Result{}, first
	}
	elapsed := time.Since(start)
	if len(lat) == 0 {
		return Result{}, fmt.Errorf("go client: no request completed on %s", url)
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	return Result{
		RPS:    float64(len(lat)) / elapsed.Seconds(),
		P50:    pct(0.50),
		P99:    pct(0.99),
		Non2xx: non2xx,
		Tool:   "go client",
	}, nil
}
