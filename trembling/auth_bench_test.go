package trembling_test

import (
	"net/http"
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
	ctx := b.Context()
	if _, err := s.users.Create(ctx, "alice", "secret-password", ""); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name, username, password string
		want                     int
	}{
		{"unknown-user", "nobody", "secret-password", 200},
		{"wrong-password", "alice", "wrong", 200},
		{"success", "alice", "secret-password", 302},
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

// BenchmarkLoggedInRequest measures whole requests of a logged-in
// visitor, with the mongo session store on the embedded engine: a page
// that shows the user (one session read, one account read, a template),
// and a JSON page that reads only the session, which no longer reads the
// account.
func BenchmarkLoggedInRequest(b *testing.B) {
	s := startAuthSite(b)
	s.createUser(b, "alice", "secret-password")
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/account/login.html", strings.NewReader(url.Values{"username": {"alice"}, "password": {"secret-password"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	s.w.ServeHTTP(rec, req)
	ck := sessionCookie(rec.Result().Header)
	if rec.Code != 302 || ck == nil {
		b.Fatalf("login: %d %v", rec.Code, ck)
	}
	for _, bc := range []struct{ name, path, want string }{
		{"user", "/whoami.txt", loggedInAs("alice")},
		{"session-only", "/cart.json", `{"cart":null}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", bc.path, nil)
			req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				s.w.ServeHTTP(rec, req)
				if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != bc.want {
					b.Fatalf("got %d %q", rec.Code, rec.Body.String())
				}
			}
		})
	}
}
