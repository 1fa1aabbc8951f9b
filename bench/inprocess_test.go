package bench_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/bench"
	"github.com/aspengo/aspengo/bench/peer"
	"github.com/aspengo/aspengo/database"
	"github.com/aspengo/aspengo/trembling"
)

// BenchmarkInProcess serves the pages that need no database from both
// handlers in this process, with no network in between: the framework's
// cost per request (time and allocations) without the noise of a load
// generator. The logged-in page needs the database and is left to make
// bench-http.
func BenchmarkInProcess(b *testing.B) {
	ph, err := peer.New("site/www")
	if err != nil {
		b.Fatal(err)
	}
	aw := aspengoHandler(b)
	for _, pg := range bench.Pages {
		if pg.Session == bench.LoggedIn {
			continue
		}
		for _, h := range []struct {
			name string
			h    http.Handler
		}{{"peer", ph}, {"aspengo", aw}} {
			b.Run(strings.ReplaceAll(pg.Name, " ", "-")+"/"+h.name, func(b *testing.B) {
				cookie := ""
				if pg.Session == bench.Visitor {
					rec := httptest.NewRecorder()
					h.h.ServeHTTP(rec, httptest.NewRequest("GET", "/session/write.html", nil))
					for _, c := range rec.Result().Cookies() {
						cookie = c.Name + "=" + c.Value
					}
					if cookie == "" {
						b.Fatal("no session cookie")
					}
				}
				req := httptest.NewRequest("GET", pg.Path, nil)
				if cookie != "" {
					req.Header.Set("Cookie", cookie)
				}
				b.ReportAllocs()
				for b.Loop() {
					rec := httptest.NewRecorder()
					h.h.ServeHTTP(rec, req)
					io.Copy(io.Discard, rec.Body)
					if rec.Code != 200 {
						b.Fatalf("%s: %d %s", pg.Path, rec.Code, rec.Body)
					}
				}
			})
		}
	}
}

// aspengoHandler is the benchmark site on aspengo with memory sessions
// and a database handle that is never contacted.
func aspengoHandler(b *testing.B) http.Handler {
	reg := aspengo.NewRegistry()
	conn, err := database.New(b.Context(), "mongodb://127.0.0.1:1")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(context.Background()) })
	for name, v := range conn.Builtins() {
		if err := reg.Builtin(name, v); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := trembling.Register(reg, trembling.Config{Store: trembling.StoreMemory}); err != nil {
		b.Fatal(err)
	}
	w, err := aspengo.New(aspengo.Config{Root: "site/www", Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	db, err := conn.Handle("bench")
	if err != nil {
		b.Fatal(err)
	}
	if err := w.SetAttr("db", db); err != nil {
		b.Fatal(err)
	}
	if err := w.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Shutdown(context.Background()) })
	return w
}
