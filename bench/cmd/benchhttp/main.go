// Command benchhttp runs the benchmark site on aspengo and on the
// hand-written peer, side by side in one run, and prints requests per
// second, median and 99th-percentile latency for each page, and the ratio
// aspengo / peer. make bench-http builds the binaries and runs it.
//
// The load generator is wrk when it is installed, else a small Go client
// (-go forces it). Figures on a shared machine are noisy: read the
// ratios, which compare runs made one after the other, minutes apart.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aspengo/aspengo/bench"
)

// rounds is how many times each server is run on each page.
var rounds int

func main() {
	var (
		aspengoBin = flag.String("aspengo", "bin/aspengo", "the aspengo binary")
		peerBin    = flag.String("peer", "bin/benchpeer", "the peer's binary")
		root       = flag.String("root", "bench/site/www", "the benchmark site")
		stores     = flag.String("sessions", "memory,mongo,cookie", "aspengo's session stores to run, comma-separated (mongo is the embedded default)")
		logFile    = flag.String("log", "", "append the servers' logs to this file (default: discarded)")
		pages      = flag.String("pages", "", "run only the pages whose name contains this")
		extra      = flag.String("args", "", "more flags for aspengo serve, space-separated")
	)
	var l bench.Load
	flag.IntVar(&l.Conns, "c", 64, "connections")
	flag.IntVar(&l.Threads, "t", 2, "wrk threads")
	flag.DurationVar(&l.Duration, "d", 5*time.Second, "duration of each run")
	flag.BoolVar(&l.GoClient, "go", false, "use the Go load client even if wrk is installed")
	flag.IntVar(&rounds, "rounds", 3, "runs of each server on each page, alternating; the table shows the median")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *aspengoBin, *peerBin, *root, *stores, *logFile, *pages, strings.Fields(*extra), l); err != nil {
		fmt.Fprintln(os.Stderr, "benchhttp:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, aspengoBin, peerBin, root, stores, logFile, only string, extra []string, l bench.Load) error {
	var log io.Writer
	if logFile != "" {
		f, err := os.OpenFile(logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		log = f
	}
	var servers []*bench.Server
	defer func() {
		for _, s := range servers {
			s.Stop()
		}
	}()
	p, err := bench.StartPeer(ctx, "peer", peerBin, root, log)
	if err != nil {
		return err
	}
	servers = append(servers, p)
	for _, store := range strings.Split(stores, ",") {
		if store = strings.TrimSpace(store); store == "" {
			continue
		}
		data, err := os.MkdirTemp("", "aspengo-bench-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(data)
		s, err := bench.StartAspengo(ctx, "aspengo "+store, bench.AspengoOptions{
			Bin: aspengoBin, Root: root, Data: data, Sessions: store, Args: extra, Log: log,
		})
		if err != nil {
			return err
		}
		servers = append(servers, s)
	}

	tool := "wrk"
	if l.GoClient {
		tool = "the Go client"
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "page\tserver\treq/s\tp50\tp99\tratio\tp99 ratio\ttarget\t")
	for _, pg := range bench.Pages {
		if only != "" && !strings.Contains(pg.Name, only) {
			continue
		}
		want, err := p.Get(pg)
		if err != nil {
			return err
		}
		results := make([][]bench.Result, len(servers))
		notes := make([]string, len(servers))
		for i, s := range servers {
			got, err := s.Get(pg)
			if err != nil {
				return err
			}
			if !got.Equal(want) && pg.Path != "/session/write.html" {
				notes[i] = "  (answer differs from the peer's!)"
			}
			// A short warm-up.
			cookie, _ := s.Cookie(pg.Session)
			warm := l
			warm.Duration = time.Second
			warm.Run(ctx, s.URL+pg.Path, cookie)
		}
		// Rounds alternate the servers, so that a change in the load of
		// the machine falls on all of them.
		for r := range max(rounds, 1) {
			for i, s := range servers {
				fmt.Fprintf(os.Stderr, "%s: %s, round %d ...\n", pg.Name, s.Name, r+1)
				cookie, _ := s.Cookie(pg.Session)
				res, err := l.Run(ctx, s.URL+pg.Path, cookie)
				if err != nil {
					return fmt.Errorf("%s %s: %w", s.Name, pg.Name, err)
				}
				if res.Non2xx > 0 {
					notes[i] += fmt.Sprintf("  (%d answers not 2xx!)", res.Non2xx)
				}
				results[i] = append(results[i], res)
			}
		}
		peerRes := median(results[0])
		for i, s := range servers {
			res := median(results[i])
			ratio, p99, target := "", "", ""
			if i > 0 {
				ratio = fmt.Sprintf("%.2f", res.RPS/peerRes.RPS)
				p99 = fmt.Sprintf("%.2f", float64(res.P99)/float64(peerRes.P99))
				if i == 1 {
					target = targets[pg.Name]
				}
			}
			name := pg.Name
			if i > 0 {
				name = ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\n", name, s.Name, res.RPS, round(res.P50), round(res.P99), ratio, p99, target, notes[i])
		}
	}
	fmt.Printf("\n%d connections, %s per run, %d rounds (median shown), %s; ratio = aspengo / peer.\n", l.Conns, l.Duration, max(rounds, 1), tool)
	fmt.Printf("Figures from a shared machine are noisy: compare the ratios of one run, not absolute figures.\n\n")
	return tw.Flush()
}

// targets are the aims for the first aspengo server of the run (memory
// sessions by default): ratio of requests/s, and p99 at most 1.5 times
// the peer's.
var targets = map[string]string{
	"static file":               ">=0.95, p99 <=1.5",
	"template, query parameter": ">=0.90, p99 <=1.5",
	"session read":              ">=1.00, p99 <=1.5",
	"session write":             ">=1.00, p99 <=1.5",
	"logged-in page":            "p99 <=1.5",
}

// median returns the run with the median requests/s, and the median
// latencies.
func median(rs []bench.Result) bench.Result {
	by := func(key func(bench.Result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = key(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return bench.Result{
		RPS: by(func(r bench.Result) float64 { return r.RPS }),
		P50: time.Duration(by(func(r bench.Result) float64 { return float64(r.P50) })),
		P99: time.Duration(by(func(r bench.Result) float64 { return float64(r.P99) })),
	}
}

// round shortens a latency for the table.
func round(d time.Duration) string {
	switch {
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}
