package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aspengo/aspengo/internal/logbuf"
	"github.com/aspengo/aspengo/trembling/auth"
)

// This file runs real aspengo serve processes, for the scale-out tests and
// for any other test that needs one.

// built is the aspengo binary that buildAspengo builds, once per test
// binary: linking it takes seconds, and every test runs the same one.
var built struct {
	once sync.Once
	dir  string // temporary directory of the binary, removed by TestMain
	bin  string
	err  error
}

// policyBcryptCost is minBcryptCost as the command ships, before TestMain
// lowers it.
var policyBcryptCost = minBcryptCost

func TestMain(m *testing.M) {
	// In-process commands hash at bcrypt's lowest cost, for speed (the
	// race detector multiplies bcrypt's time); the aspengo binary the
	// scale-out tests run keeps the policy's floor.
	minBcryptCost = auth.LowestCost
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildAspengo builds this command, once for all the tests, and returns
// the path of the binary.
func buildAspengo(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "aspengo-test-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		bin := filepath.Join(dir, "aspengo")
		out, err := exec.Command(goCommand(), "build", "-o", bin, ".").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("%v\n%s", err, out)
			return
		}
		built.bin = bin
	})
	if built.err != nil {
		t.Fatalf("build aspengo: %v", built.err)
	}
	return built.bin
}

// goCommand is the go command that runs these tests.
func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// A proc is a running aspengo serve process.
type proc struct {
	base string // http://127.0.0.1:port, once it serves
	cmd  *exec.Cmd
	logs *logbuf.Buffer
	done chan struct{} // closed when the process has exited
	err  error         // the result of Wait, once done is closed
	url  chan string   // receives base when the process logs that it serves

	mu    sync.Mutex
	waits []logWait // see logged
}

// A logWait is a channel to close when a log line contains text.
type logWait struct {
	text string
	c    chan struct{}
}

// startServe runs bin serve --addr 127.0.0.1:0 with args and waits until
// it serves. Only the flags choose the database (MONGODB_URI is cleared).
// A process still running when t ends is killed; tests that want it to
// stop as SIGTERM does call stop (startProc does so when t ends).
func startServe(t testing.TB, bin string, args ...string) *proc {
	t.Helper()
	p := launch(t, bin, args...)
	p.serving(t)
	return p
}

// launch starts bin serve as startServe does, without waiting.
func launch(t testing.TB, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "MONGODB_URI=", "CI=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: &logbuf.Buffer{}, done: make(chan struct{}), url: make(chan string, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill9)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.logs, line)
			p.notify(line)
			if i := strings.Index(line, "url=http://"); i >= 0 && strings.Contains(line, "msg=serving") {
				u := strings.Fields(line[i+len("url="):])[0]
				select {
				case p.url <- strings.TrimSuffix(u, "/"):
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p
}

// serving waits until p serves, and sets p.base.
func (p *proc) serving(t testing.TB) {
	t.Helper()
	select {
	case p.base = <-p.url:
	case <-p.done:
		t.Fatalf("aspengo serve exited before it served (%v):\n%s", p.err, p.logs)
	case <-time.After(60 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("aspengo serve did not start within 60 s:\n%s", p.logs)
	}
}

// logged returns a channel that is closed once p has logged a line
// containing text (at once if it has already).
func (p *proc) logged(text string) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := make(chan struct{})
	// The reader writes a line to logs before it looks at waits, under
	// mu: a line is seen either here or there.
	if strings.Contains(p.logs.String(), text) {
		close(c)
		return c
	}
	p.waits = append(p.waits, logWait{text, c})
	return c
}

// notify closes the channels of logged waiting for line.
func (p *proc) notify(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	waits := p.waits[:0]
	for _, w := range p.waits {
		if strings.Contains(line, w.text) {
			close(w.c)
		} else {
			waits = append(waits, w)
		}
	}
	p.waits = waits
}

// startProc runs aspengo serve on a copy of the site in dir, on the
// database server at uri, and waits until it serves. It is stopped (as
// SIGTERM does) when t ends, unless killed before.
func startProc(t testing.TB, bin, site, uri string, extra ...string) *proc {
	t.Helper()
	p := launchProc(t, bin, site, uri, extra...)
	p.serving(t)
	return p
}

// launchProc is startProc without the wait.
func launchProc(t testing.TB, bin, site, uri string, extra ...string) *proc {
	t.Helper()
	root := filepath.Join(t.TempDir(), "www")
	if err := os.CopyFS(root, os.DirFS(site)); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--root", root, "--mongodb-uri", uri, "--bcrypt-cost", "10"}, extra...)
	p := launch(t, bin, args...)
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop stops p as SIGTERM does and waits for it; a process that has
// exited already is not checked.
func (p *proc) stop(t testing.TB) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("aspengo serve %s exited %d:\n%s", p.base, code, p.logs)
		}
	case <-time.After(40 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("aspengo serve %s did not stop on SIGTERM", p.base)
	}
}

// kill9 kills p with SIGKILL, unless it has exited, and waits for it.
func (p *proc) kill9() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
}

// startProcs starts n processes on copies of site, all on uri.
func startProcs(t testing.TB, bin, site, uri string, n int) []*proc {
	t.Helper()
	ps := make([]*proc, n)
	for i := range ps { // they start side by side
		ps[i] = launchProc(t, bin, site, uri)
	}
	for _, p := range ps {
		p.serving(t)
	}
	return ps
}

// browser is one visitor: a cookie jar shared by every process (cookies
// do not depend on the port, as behind one load balancer).
type browser struct {
	c *http.Client
}

func newBrowser(timeout time.Duration) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{c: &http.Client{
		Jar:     jar,
		Timeout: timeout,
		// Every browser has its own connections, as real ones do.
		Transport:     &http.Transport{MaxIdleConnsPerHost: 4},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// sessionCookie returns the browser's session cookie for base.
func (b *browser) sessionCookie(base string) *http.Cookie {
	u, _ := url.Parse(base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "session_key" || c.Name == "__Host-session_key" {
			return c
		}
	}
	return nil
}

// result is a JSON answer of the test site.
type result struct {
	code int
	body map[string]any
}

// do sends a request and decodes the JSON answer. A form sends a POST.
// With cookie set, the request carries that cookie instead of the jar's,
// and the jar is not updated.
func do(ctx context.Context, c *http.Client, method, u string, form url.Values, cookie *http.Cookie) (result, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return result{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	client := c
	if cookie != nil {
		req.AddCookie(cookie)
		cc := *c
		cc.Jar = nil
		client = &cc
	}
	resp, err := client.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{code: resp.StatusCode}, err
	}
	r := result{code: resp.StatusCode}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &r.body); err != nil {
			return r, fmt.Errorf("%s %s: %w in %q", method, u, err, b)
		}
	}
	return r, nil
}

// must is do that fails t on an error or a status other than 200.
func must(t testing.TB, c *http.Client, method, u string, form url.Values, cookie *http.Cookie) map[string]any {
	t.Helper()
	r, err := do(t.Context(), c, method, u, form, cookie)
	if err != nil {
		t.Fatal(err)
	}
	if r.code != 200 {
		t.Fatalf("%s %s: %d %v", method, u, r.code, r.body)
	}
	return r.body
}

// whoami returns the user a request with the browser's session (or
// cookie, when not nil) sees on base, "" when anonymous.
func whoami(t testing.TB, b *browser, base string, cookie *http.Cookie) string {
	t.Helper()
	u, _ := must(t, b.c, "GET", base+"/whoami.json", nil, cookie)["user"].(string)
	return u
}

// register creates an account through base.
func register(t testing.TB, b *browser, base, username, password string) {
	t.Helper()
	must(t, b.c, "POST", base+"/register.json", url.Values{"username": {username}, "password": {password}}, nil)
}

// login logs b in through base and fails t if the login fails.
func login(t testing.TB, b *browser, base, username, password string) {
	t.Helper()
	r := must(t, b.c, "POST", base+"/login.json", url.Values{"username": {username}, "password": {password}}, nil)
	if r["ok"] != true {
		t.Fatalf("login %s through %s: %v", username, base, r)
	}
}
