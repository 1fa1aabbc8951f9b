package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/aspengo/aspengo"
)

// Server limits: slow or oversized clients are cut off rather than
// allowed to hold a connection.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 60 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	drainTimeout      = 30 * time.Second
	shutdownTimeout   = 30 * time.Second
)

// serveFlags are the flags of aspengo serve.
type serveFlags struct {
	siteOptions
	addr           string
	showTracebacks bool
	dev            bool
	maxBody        int64
	trustedOrigins listFlag
	requestTimeout time.Duration
	health         string
	accessLog      string        // --access-log: stderr, off or a file
	access         *accessLogger // opened from accessLog by serveCmd
	drain          time.Duration // 0 means drainTimeout; shorter in tests
}

// serveCmd runs the site until ctx is done (SIGINT/SIGTERM), then stops
// accepting connections, drains in-flight requests, runs the shutdown
// hooks and returns 0. ready, when not nil, is called with the listening
// address once the server accepts connections (for tests).
func serveCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready func(addr string)) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var f serveFlags
	f.site.register(fs)
	f.storage.register(fs)
	f.sessions.register(fs)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "the address to listen on")
	fs.BoolVar(&f.showTracebacks, "show-tracebacks", false, "show tracebacks of 500s in the page (they are always logged)")
	fs.BoolVar(&f.dev, "dev", false, "development: implies --show-tracebacks (never on a public server)")
	fs.Var(&f.trustedOrigins, "trusted-origins", "comma-separated origins (https://admin.example.com) allowed to POST cross-site")
	fs.StringVar(&f.health, "health", defaultHealthPath, "the URL path of the health check for load balancers (200 when the database answers, else 503); empty turns it off")
	fs.Int64Var(&f.maxBody, "max-body", aspengo.DefaultMaxBodyBytes, "the largest request body in bytes (413 beyond)")
	fs.DurationVar(&f.requestTimeout, "request-timeout", aspengo.DefaultRequestTimeout, "the longest a request may run before it is cancelled and answered 503 (0: no limit)")
	fs.StringVar(&f.accessLog, "access-log", "stderr", "where to log one line per request: stderr, off, or a file to append to")
	setUsage(fs, serveSynopsis, stdout)
	if code := parseFlags(fs, args, getenv, stderr, storageEnv); code >= 0 {
		return code
	}
	if err := checkSessionStore(f.sessions.store); err != nil {
		fmt.Fprintf(stderr, "aspengo serve: %v\n", err)
		return 2
	}
	if err := checkHealthPath(f.health); err != nil {
		fmt.Fprintf(stderr, "aspengo serve: %v\n", err)
		return 2
	}
	log := newTextLogger(stderr, nil)
	access, err := openAccessLog(f.accessLog, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "aspengo serve: %v\n", err)
		return 2
	}
	f.access = access
	err = serve(ctx, f, log, ready)
	access.Close()
	if err != nil {
		printErrors(stderr, err)
		return 1
	}
	return 0
}

// serve runs the server of serveCmd.
func serve(ctx context.Context, f serveFlags, log *slog.Logger, ready func(addr string)) error {
	f.config = aspengo.Config{
		ShowTracebacks: f.showTracebacks || f.dev,
		MaxBodyBytes:   f.maxBody,
		TrustedOrigins: f.trustedOrigins,
		RequestTimeout: f.requestTimeout,
	}
	if f.requestTimeout == 0 {
		f.config.RequestTimeout = -1 // no limit
	}
	f.storage.mustOwn = true
	site, err := startSite(ctx, f.siteOptions, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		site.Close(context.Background())
		return err
	}
	srv := &http.Server{
		Handler:           withHealth(f.health, site.storage.conn.Ping, log, f.access.handler(site.w)),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ctx = watchDataDir(ctx, site.storage, log) // ends ctx if the data directory goes
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("serving", append([]any{"root", site.w.Root(), "url", "http://" + ln.Addr().String() + "/"}, site.storage.describe()...)...)
	if ready != nil {
		ready(ln.Addr().String())
	}

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("stopping: draining in-flight requests")
	case serveErr = <-served:
	}
	if f.drain == 0 {
		f.drain = drainTimeout
	}
	drain, cancel := context.WithTimeout(context.Background(), f.drain)
	defer cancel()
	errs := []error{serveErr, dataDirLost(ctx)}
	if err := srv.Shutdown(drain); err != nil {
		// A client still sending or a page still running after
		// drainTimeout is cut off, so that the shutdown hooks run.
		log.Warn("stopping: requests still in flight were cut off", "after", f.drain, "err", err.Error())
		srv.Close()
	}
	// The shutdown hooks get a time of their own, not what the drain left.
	stopping, cancelStop := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancelStop()
	if err := site.Close(stopping); err != nil {
		errs = append(errs, err)
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		errs[0] = nil
	}
	if err := f.access.Close(); err != nil { // every line before "stopped"
		errs = append(errs, err)
	}
	log.Info("stopped")
	return errors.Join(errs...)
}

// quietLogger logs warnings and errors only, for commands other than serve.
func quietLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
