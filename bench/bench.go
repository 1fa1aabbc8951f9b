// Package bench runs the benchmark site on aspengo and on a hand-written
// peer (package peer) and drives both with the same load, so that the
// cost of the framework is read as a ratio measured in one run on one
// machine. Command benchhttp (make bench-http) prints the table; the test
// of this package checks that both servers answer every page with the
// same bytes, so that the comparison stays honest.
package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/aspengo/aspengo/bench/peer"
)

// Session says what session a page is requested with.
type Session int

const (
	// NoSession: a first-time visitor without cookies.
	NoSession Session = iota
	// Visitor: the cookie of an anonymous session that has visits set.
	Visitor
	// LoggedIn: the cookie of a session logged in as peer.Username.
	LoggedIn
)

// Page is one page of the benchmark.
type Page struct {
	Name    string
	Path    string
	Session Session
}

// Pages are the pages both servers serve.
var Pages = []Page{
	{"static file", "/style.css", NoSession},
	{"template, query parameter", "/hello.html?name=Ada%20%3Cb%3E", NoSession},
	{"session read", "/session/read.html", Visitor},
	{"session write", "/session/write.html", Visitor},
	{"logged-in page", "/account/home.html", LoggedIn},
}

// Server is a running server of the benchmark.
type Server struct {
	Name string
	URL  string // http://127.0.0.1:port

	cmd     *exec.Cmd
	done    chan error
	cookies map[Session]string // Cookie header values
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// AspengoOptions say how to run aspengo.
type AspengoOptions struct {
	Bin      string    // the aspengo binary
	Root     string    // the benchmark site's www root
	Data     string    // the embedded engine's data directory (made fresh by the caller)
	Sessions string    // mongo, memory or cookie
	Args     []string  // more flags for aspengo serve
	Log      io.Writer // nil: discarded
}

// StartAspengo creates the benchmark account and serves the site.
func StartAspengo(ctx context.Context, name string, o AspengoOptions) (*Server, error) {
	common := []string{"--root", o.Root, "--data", o.Data, "--bcrypt-cost", "10"}
	add := exec.CommandContext(ctx, o.Bin, append([]string{"user", "add", peer.Username, "--password-stdin"}, common...)...)
	add.Stdin = strings.NewReader(peer.Password + "\n")
	if o.Log != nil {
		add.Stdout, add.Stderr = o.Log, o.Log
	}
	if err := add.Run(); err != nil {
		return nil, fmt.Errorf("%s: aspengo user add: %w", name, err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--addr", addr, "--sessions", o.Sessions}, common...)
	args = append(args, o.Args...)
	return start(ctx, name, addr, o.Log, o.Bin, args...)
}

// StartPeer serves the peer from its binary.
func StartPeer(ctx context.Context, name, bin, root string, log io.Writer) (*Server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	return start(ctx, name, addr, log, bin, "--root", root, "--addr", addr)
}

// NewServer wraps a server already listening at url (an httptest server).
func NewServer(name, url string) *Server { return &Server{Name: name, URL: url} }

func start(ctx context.Context, name, addr string, log io.Writer, bin string, args ...string) (*Server, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	if log != nil { // else /dev/null
		cmd.Stdout, cmd.Stderr = log, log
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s := &Server{Name: name, URL: "http://" + addr, cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait() }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return s, nil
		}
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("%s exited before serving: %v", name, err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("%s: not serving at %s after 2 minutes", name, addr)
		}
	}
}

// Stop stops a server started by StartAspengo or StartPeer gracefully.
func (s *Server) Stop() error {
	if s.cmd == nil {
		return nil
	}
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-s.done:
		return err
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		return <-s.done
	}
}

// client does not follow redirects: the login's Set-Cookie is on the 302.
var client = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Cookie returns the Cookie header that requests of a page with session
// kind k carry, making the session on first use: a visitor's session
// gets visits set, a logged-in one logs in as peer.Username.
func (s *Server) Cookie(k Session) (string, error) {
	if k == NoSession {
		return "", nil
	}
	if c, ok := s.cookies[k]; ok {
		return c, nil
	}
	var req *http.Request
	var err error
	if k == Visitor {
		req, err = http.NewRequest("GET", s.URL+"/session/write.html", nil)
	} else {
		form := url.Values{"username": {peer.Username}, "password": {peer.Password}}
		req, err = http.NewRequest("POST", s.URL+"/account/login.html", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: %w", s.Name, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return "", fmt.Errorf("%s: %s %s: %s", s.Name, req.Method, req.URL.Path, resp.Status)
	}
	var parts []string
	for _, c := range resp.Cookies() {
		if c.MaxAge >= 0 && c.Value != "" {
			parts = append(parts, c.Name+"="+c.Value)
		}
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("%s: %s %s set no cookie", s.Name, req.Method, req.URL.Path)
	}
	if s.cookies == nil {
		s.cookies = map[Session]string{}
	}
	s.cookies[k] = strings.Join(parts, "; ")
	return s.cookies[k], nil
}

// Answer is what a server answered, as compared between servers.
type Answer struct {
	Status      int
	ContentType string
	Body        []byte
}

// Get requests p once with its session's cookie.
func (s *Server) Get(p Page) (Answer, error) {
	cookie, err := s.Cookie(p.Session)
	if err != nil {
		return Answer{}, err
	}
	req, err := http.NewRequest("GET", s.URL+p.Path, nil)
	if err != nil {
		return Answer{}, err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Answer{}, fmt.Errorf("%s: %w", s.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Answer{}, fmt.Errorf("%s: %w", s.Name, err)
	}
	return Answer{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: body}, nil
}

// Equal reports whether a and b are the same answer.
func (a Answer) Equal(b Answer) bool {
	return a.Status == b.Status && a.ContentType == b.ContentType && bytes.Equal(a.Body, b.Body)
}

// errNoWrk is returned by runWrk when wrk is not installed.
var errNoWrk = errors.New("wrk is not installed")
