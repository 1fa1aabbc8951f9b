// Package peer is the hand-written server that aspengo is measured
// against: the pages of the benchmark site written directly with net/http,
// html/template and scs's memory store, as a Go developer would write them
// without a framework. Its bodies are those of bench/site byte for byte.
package peer

import (
	"html/template"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"golang.org/x/crypto/bcrypt"
)

// Username and Password are the account both servers of the benchmark
// have.
const (
	Username = "bench"
	Password = "bench-password-1"
)

var (
	helloTpl = template.Must(template.New("hello").Parse("<!doctype html>\n<title>Hello</title>\n<link rel=\"stylesheet\" href=\"/style.css\">\n<p>Hello, {{ .name }}!</p>\n"))
	visitTpl = template.Must(template.New("visits").Parse("<!doctype html>\n<title>Visits</title>\n<p>Visits: {{ .visits }}</p>\n"))
	homeTpl  = template.Must(template.New("home").Parse("<!doctype html>\n<title>Home</title>\n<p>Hello, {{ .user.Username }}!</p>\n"))
)

// user is an account, looked up in memory.
type user struct {
	Username string
	hash     []byte
}

// Server is the peer's handler.
type Server struct {
	sessions *scs.SessionManager
	mux      *http.ServeMux
	style    string // path of style.css

	mu    sync.RWMutex
	users map[string]*user
}

// New returns the peer serving the static file of the site at root (the
// benchmark site's www directory).
func New(root string) (*Server, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(Password), 10)
	if err != nil {
		return nil, err
	}
	s := &Server{
		sessions: scs.New(),
		mux:      http.NewServeMux(),
		style:    filepath.Join(root, "style.css"),
		users:    map[string]*user{Username: {Username: Username, hash: hash}},
	}
	if _, err := os.Stat(s.style); err != nil {
		return nil, err
	}
	s.sessions.Store = memstore.NewWithCleanupInterval(time.Minute)
	s.sessions.Cookie.HttpOnly = true
	s.sessions.Cookie.SameSite = http.SameSiteLaxMode
	s.mux.HandleFunc("GET /style.css", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, s.style)
	})
	s.mux.HandleFunc("GET /hello.html", s.hello)
	s.mux.HandleFunc("GET /session/read.html", s.read)
	s.mux.HandleFunc("GET /session/write.html", s.write)
	s.mux.HandleFunc("GET /account/home.html", s.home)
	s.mux.HandleFunc("POST /account/login.html", s.login)
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.sessions.LoadAndSave(s.mux).ServeHTTP(w, r)
}

func render(w http.ResponseWriter, t *template.Template, data any) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(b.String()))
}

func (s *Server) hello(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if _, ok := r.URL.Query()["name"]; !ok {
		name = "stranger"
	}
	render(w, helloTpl, map[string]any{"name": name})
}

func (s *Server) read(w http.ResponseWriter, r *http.Request) {
	render(w, visitTpl, map[string]any{"visits": s.sessions.GetInt(r.Context(), "visits")})
}

func (s *Server) write(w http.ResponseWriter, r *http.Request) {
	n := s.sessions.GetInt(r.Context(), "visits") + 1
	s.sessions.Put(r.Context(), "visits", n)
	render(w, visitTpl, map[string]any{"visits": n})
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	name := s.sessions.GetString(r.Context(), "user")
	s.mu.RLock()
	u := s.users[name]
	s.mu.RUnlock()
	if u == nil {
		http.Redirect(w, r, "/account/login.html?next=/account/home.html", http.StatusFound)
		return
	}
	render(w, homeTpl, map[string]any{"user": u})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	name, pass := r.PostFormValue("username"), r.PostFormValue("password")
	s.mu.RLock()
	u := s.users[name]
	s.mu.RUnlock()
	if u == nil || bcrypt.CompareHashAndPassword(u.hash, []byte(pass)) != nil {
		http.Error(w, "Forbidden", http.StatusForbidden)
		return
	}
	if err := s.sessions.RenewToken(r.Context()); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.sessions.Put(r.Context(), "user", u.Username)
	http.Redirect(w, r, "/account/home.html", http.StatusFound)
}
