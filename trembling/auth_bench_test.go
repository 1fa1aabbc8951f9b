package trembling_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aspengo/aspengo/trembling"
)

// BenchmarkLogin posts the login form of testdata/authsite, through the
// pipeline and Starlark's login(...), at the default bcrypt cost (12):
// an unknown user and a wrong password should cost the same (one bcrypt
// comparison each); a success adds the session's renewal and the
// last_login update. The throttle counter is reset between iterations,
// outside the timer.
func BenchmarkLogin(b *testing.B) {
	s := startAuthSite(b, func(o *siteOptions) {
		o.cfg.BcryptCost = 0 // auth.DefaultCost, 12
		o.cfg.Store = trembling.StoreMemory
	})
	ctx := context.Background()
	if _, err := s.users.Create(ctx, "alice", "secret", ""); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name, username, password string
		want                     int
	}{
		{"unknown-user", "nobody", "secret", 200},
		{"wrong-password", "alice", "wrong", 200},
		{"success", "alice", "secret", 302},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body := url.Values{"username": {bc.username}, "password": {bc.password}}.Encode()
			serve := func() {
				req := httptest.NewRequest("POST", "/account/login.html", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				rec := httptest.NewRecorder()
				s.w.ServeHTTP(rec, req)
				if rec.Code != bc.want {
					b.Fatalf("got %d %s, want %d", rec.Code, rec.Body, bc.want)
				}
			}
			serve() // makes the dummy hash once, for unknown users
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				if err := s.users.ResetFailures(ctx, bc.username); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				serve()
			}
		})
	}
}
