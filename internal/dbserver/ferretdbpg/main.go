// Command ferretdbpg runs a FerretDB server with the postgresql handler,
// for tests that need a MongoDB-compatible server over the network.
//
// FerretDB's own command cannot be built from its module (a generated
// file is missing), so this wraps the embeddable package instead.
//
// Usage:
//
//	ferretdbpg -listen 127.0.0.1:0 -postgresql-url postgres://...
//
// Once it accepts connections it prints its mongodb:// URI on one line of
// standard output. It stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "TCP address to listen on")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL connection string")
	verbose := flag.Bool("v", false, "log at info level (default: warnings only)")
	flag.Parse()
	if *pgURL == "" {
		fmt.Fprintln(os.Stderr, "ferretdbpg: -postgresql-url is required")
		os.Exit(2)
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
		Handler:       "postgresql",
		PostgreSQLURL: *pgURL,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdbpg: %v\n", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	// MongoDBURI waits until the listener is up.
	fmt.Println(f.MongoDBURI())
	<-done
}
