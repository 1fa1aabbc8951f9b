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
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aspengo/aspengo/bench"
)

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
	fmt.Fprintf(os.Stderr, "%d connections, %s per run, %s; ratio = aspengo / peer (requests/s)\n\n", l.Conns, l.Duration, tool)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "page\tserver\treq/s\tp50\tp99\tratio\tp99 ratio\t")
	for _, pg := range bench.Pages {
		if only != "" && !strings.Contains(pg.Name, only) {
			continue
		}
		want, err := p.Get(pg)
		if err != nil {
			return err
		}
		var peerRes bench.Result
		for i, s := range servers {
			got, err := s.Get(pg)
			if err != nil {
				return err
			}
			note := ""
			if !got.Equal(want) && pg.Path != "/session/write.html" {
				note = "  (answer differs from the peer's!)"
			}
			fmt.Fprintf(os.Stderr, "%s: %s ...\n", pg.Name, s.Name)
			cookie, _ := s.Cookie(pg.Session)
			// A short warm-up, then the measured run.
			warm := l
			warm.Duration = time.Second
			warm.Run(ctx, s.URL+pg.Path, cookie)
			res, err := l.Run(ctx, s.URL+pg.Path, cookie)
			if err != nil {
				return fmt.Errorf("%s %s: %w", s.Name, pg.Name, err)
			}
			if res.Non2xx > 0 {
				note += fmt.Sprintf("  (%d answers not 2xx!)", res.Non2xx)
			}
			ratio, p99 := "", ""
			if i == 0 {
				peerRes = res
			} else {
				ratio = fmt.Sprintf("%.2f", res.RPS/peerRes.RPS)
				p99 = fmt.Sprintf("%.2f", float64(res.P99)/float64(peerRes.P99))
			}
			name := pg.Name
			if i > 0 {
				name = ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\n", name, s.Name, res.RPS, round(res.P50), round(res.P99), ratio, p99, note)
		}
	}
	fmt.Printf("%d connections, %s per run, %s; ratio = aspengo / peer\n\n", l.Conns, l.Duration, tool)
	return tw.Flush()
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
