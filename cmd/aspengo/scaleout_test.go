package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/aspengo/aspengo/internal/dbserver"
	"github.com/aspengo/aspengo/trembling/auth"
)

// The scale-out suite runs several real aspengo serve processes on
// copies of testdata/scaleout, all on one database server over TCP (a
// FerretDB server on PostgreSQL, see internal/dbserver, or the MongoDB
// named by MONGODB_URI), as several machines behind a load balancer
// would. Each subtest has a database of its own on the shared server;
// the outage test has a server of its own, which it stops and starts.

const scaleoutSite = "testdata/scaleout"

// scaleout is what the subtests share.
type scaleout struct {
	bin    string
	server string // URI of the shared database server
	mongo  bool   // the server is MONGODB_URI's: drop what the tests make
}

// uri returns a URI on the shared server whose default database is
// unique to t.
func (s *scaleout) uri(t *testing.T) string {
	u, err := url.Parse(s.server)
	if err != nil {
		t.Fatalf("database server URI: %v", err)
	}
	u.Path = "/" + dbNameFor(t)
	if s.mongo {
		t.Cleanup(func() { dropDatabase(t, s.server, u.Path[1:]) })
	}
	return u.String()
}

// dropDatabase drops a database the test made on a MongoDB of the
// environment.
func dropDatabase(t *testing.T, uri, name string) {
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetTimeout(30 * time.Second))
	if err != nil {
		t.Errorf("drop %s: %v", name, err)
		return
	}
	defer c.Disconnect(t.Context())
	if err := c.Database(name).Drop(t.Context()); err != nil {
		t.Errorf("drop %s: %v", name, err)
	}
}

// dbNameFor makes a database name from a test name, with a random suffix
// so that runs sharing one MongoDB do not collide.
func dbNameFor(t *testing.T) string {
	name := t.Name()
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		if b.Len() >= 40 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return fmt.Sprintf("so_%s_%08x", b.String(), rand.Uint32())
}

func TestScaleOut(t *testing.T) {
	t.Parallel()
	s := &scaleout{server: os.Getenv("MONGODB_URI"), mongo: true}
	if s.server == "" {
		s.server, s.mongo = dbserver.StartForTest(t).URI(), false
	}
	s.bin = buildAspengo(t)
	t.Run("LoginAndLogoutAcrossProcesses", s.testLoginLogout)
	t.Run("PasswordChangeEndsOtherSessions", s.testPasswordChange)
	t.Run("UserDisableEndsSessions", s.testUserDisable)
	t.Run("ParallelWrongPasswordsThrottled", s.testParallelWrongPasswords)
	t.Run("ConcurrentSessionsExact", s.testConcurrentSessions)
	t.Run("KillOneProcess", s.testKillOneProcess)
	t.Run("BehindNginx", s.testBehindNginx)
	t.Run("DatabaseOutage", s.testOutage)
}

// testLoginLogout: a login through one process is a login on the others;
// a logout through one ends the session everywhere at the next request,
// also while another process serves that session under parallel load.
func (s *scaleout) testLoginLogout(t *testing.T) {
	ps := startProcs(t, s.bin, scaleoutSite, s.uri(t), 3)
	b := newBrowser(10 * time.Second)
	register(t, b, ps[0].base, "alice", "correct horse")
	login(t, b, ps[0].base, "alice", "correct horse")
	for _, p := range ps {
		if u := whoami(t, b, p.base, nil); u != "alice" {
			t.Fatalf("after login through %s, %s sees %q, want alice", ps[0].base, p.base, u)
		}
	}
	old := b.sessionCookie(ps[0].base)

	// Load on process 1 with the session, reading and saving it, while
	// process 2 logs it out. A request sent after the logout returned
	// must be anonymous, and a save in flight must not bring the session
	// back.
	var loggedOut atomic.Bool
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	// Each loader marks its first answer, and its first answer to a
	// request sent after the logout returned (or its end, on an error).
	const loaders = 8
	var before, after sync.WaitGroup
	before.Add(loaders)
	after.Add(loaders)
	for i := range loaders {
		wg.Go(func() {
			var onceBefore, onceAfter sync.Once
			defer onceBefore.Do(before.Done)
			defer onceAfter.Do(after.Done)
			for ctx.Err() == nil {
				sentAfter := loggedOut.Load()
				path := "/whoami.json"
				method := "GET"
				var form url.Values
				if i%2 == 1 {
					path, method, form = "/incr.json?client=alice", "POST", url.Values{}
				}
				r, err := do(ctx, b.c, method, ps[1].base+path, form, old)
				if ctx.Err() != nil {
					return
				}
				if err != nil || r.code != 200 {
					errs <- fmt.Errorf("%s under load: %d %v %v", path, r.code, r.body, err)
					return
				}
				if sentAfter && path == "/whoami.json" && r.body["user"] != nil {
					errs <- fmt.Errorf("a request sent after the logout is still logged in as %v", r.body["user"])
					return
				}
				onceBefore.Do(before.Done)
				if sentAfter {
					onceAfter.Do(after.Done)
				}
			}
		})
	}
	before.Wait() // the load runs before the logout
	must(t, b.c, "POST", ps[2].base+"/logout.json", url.Values{}, old)
	loggedOut.Store(true)
	after.Wait() // and after it
	stop()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, p := range ps {
		if u := whoami(t, b, p.base, old); u != "" {
			t.Errorf("after logout through %s and the load, %s still sees %q with the old cookie", ps[2].base, p.base, u)
		}
	}
}

// testPasswordChange: a password change through one process ends the
// user's other sessions on every process.
func (s *scaleout) testPasswordChange(t *testing.T) {
	ps := startProcs(t, s.bin, scaleoutSite, s.uri(t), 3)
	a, other := newBrowser(10*time.Second), newBrowser(10*time.Second)
	register(t, a, ps[0].base, "bob", "first password")
	login(t, a, ps[0].base, "bob", "first password")
	login(t, other, ps[1].base, "bob", "first password")
	for _, p := range ps {
		if u := whoami(t, other, p.base, nil); u != "bob" {
			t.Fatalf("before the change, %s sees %q, want bob", p.base, u)
		}
	}
	must(t, a.c, "POST", ps[2].base+"/passwd.json", url.Values{"password": {"second password"}}, nil)
	for _, p := range ps {
		if u := whoami(t, other, p.base, nil); u != "" {
			t.Errorf("after the password change through %s, the other session is still %q on %s", ps[2].base, u, p.base)
		}
	}
	r := must(t, other.c, "POST", ps[0].base+"/login.json", url.Values{"username": {"bob"}, "password": {"first password"}}, nil)
	if r["ok"] != false {
		t.Errorf("login with the old password: %v", r)
	}
	login(t, other, ps[1].base, "bob", "second password")
}

// testUserDisable: aspengo user disable, run against the same URI, ends
// the user's sessions on every process.
func (s *scaleout) testUserDisable(t *testing.T) {
	uri := s.uri(t)
	ps := startProcs(t, s.bin, scaleoutSite, uri, 2)
	b1, b2 := newBrowser(10*time.Second), newBrowser(10*time.Second)
	register(t, b1, ps[0].base, "carol", "carol's password")
	login(t, b1, ps[0].base, "carol", "carol's password")
	login(t, b2, ps[1].base, "carol", "carol's password")
	cmd := exec.Command(s.bin, "user", "disable", "carol", "--root", scaleoutSite, "--mongodb-uri", uri)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("aspengo user disable: %v\n%s", err, out)
	}
	for _, b := range []*browser{b1, b2} {
		for _, p := range ps {
			if u := whoami(t, b, p.base, nil); u != "" {
				t.Errorf("after aspengo user disable, %s still sees %q", p.base, u)
			}
		}
	}
	r := must(t, b1.c, "POST", ps[1].base+"/login.json", url.Values{"username": {"carol"}, "password": {"carol's password"}}, nil)
	if r["ok"] != false {
		t.Errorf("login of a disabled user: %v", r)
	}
}

// testParallelWrongPasswords: 20 parallel wrong passwords spread over the
// processes get exactly the throttle's number of full checks; the others
// are throttled.
func (s *scaleout) testParallelWrongPasswords(t *testing.T) {
	ps := startProcs(t, s.bin, scaleoutSite, s.uri(t), 3)
	register(t, newBrowser(10*time.Second), ps[0].base, "dave", "dave's password")
	const attempts = 20
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range attempts {
		wg.Go(func() {
			b := newBrowser(30 * time.Second)
			<-start
			r, err := do(t.Context(), b.c, "POST", ps[i%len(ps)].base+"/login.json", url.Values{"username": {"dave"}, "password": {"wrong"}}, nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				got["error: "+err.Error()]++
			case r.code != 200:
				got[fmt.Sprintf("status %d", r.code)]++
			default:
				got[fmt.Sprint(r.body["error"])]++
			}
		})
	}
	close(start)
	wg.Wait()
	want := map[string]int{"invalid": auth.DefaultMaxFailures, "throttled": attempts - auth.DefaultMaxFailures}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("20 parallel wrong passwords: %v, want %v (full checks are \"invalid\")", got, want)
	}
}

// incrLoad runs clients browsers, each incrementing its own session's
// counter with sequential requests, the i-th request of client c going
// to targets(c, i), until ctx is done or each has made max requests,
// waiting think between two requests. It checks every answer: 200, the
// client's own session, and a count one more than the last (nothing
// lost, nothing applied twice).
func incrLoad(ctx context.Context, browsers []*browser, max int, think time.Duration, targets func(c, i int) string) (requests int64, errs []error) {
	var mu sync.Mutex
	var n atomic.Int64
	var wg sync.WaitGroup
	for c, b := range browsers {
		wg.Go(func() {
			name := fmt.Sprintf("client%d", c)
			last := -1
			for i := 0; i < max && ctx.Err() == nil; i++ {
				base := targets(c, i)
				r, err := do(ctx, b.c, "POST", base+"/incr.json?client="+name, url.Values{}, nil)
				if ctx.Err() != nil && err != nil {
					return
				}
				n.Add(1)
				var bad error
				switch {
				case err != nil:
					bad = fmt.Errorf("%s → %s: %v", name, base, err)
				case r.code != 200:
					bad = fmt.Errorf("%s → %s: status %d %v", name, base, r.code, r.body)
				case r.body["client"] != name:
					bad = fmt.Errorf("%s → %s: got the session of %v", name, base, r.body["client"])
				default:
					got := int(r.body["n"].(float64))
					if last >= 0 && got != last+1 {
						bad = fmt.Errorf("%s → %s: count %d after %d", name, base, got, last)
					}
					last = got
				}
				if bad != nil {
					mu.Lock()
					errs = append(errs, bad)
					mu.Unlock()
					return
				}
				if think > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(think/2 + rand.N(think)):
					}
				}
			}
		})
	}
	wg.Wait()
	return n.Load(), errs
}

// roundRobin sends the i-th request of client c to ps[(c+i) % len(ps)].
func roundRobin(ps []*proc) func(c, i int) string {
	return func(c, i int) string { return ps[(c+i)%len(ps)].base }
}

func browsers(n int, timeout time.Duration) []*browser {
	bs := make([]*browser, n)
	for i := range bs {
		bs[i] = newBrowser(timeout)
	}
	return bs
}

// logProblems logs the warnings and errors the processes logged.
func logProblems(t *testing.T, ps []*proc) {
	t.Helper()
	for _, p := range ps {
		n := 0
		for line := range strings.Lines(p.logs.String()) {
			if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
				if n++; n <= 5 {
					t.Logf("%s: %s", p.base, strings.TrimSpace(line))
				}
			}
		}
		if n > 5 {
			t.Logf("%s: ... and %d more warnings and errors", p.base, n-5)
		}
	}
}

func reportErrors(t *testing.T, errs []error) {
	t.Helper()
	for i, err := range errs {
		if i == 10 {
			t.Errorf("... and %d more", len(errs)-10)
			break
		}
		t.Error(err)
	}
}

// testConcurrentSessions: 200 concurrent sessions, each doing sequential
// increments spread over the processes for a bounded time: no update
// lost, none applied twice, no session crossed to another client.
//
// First 200 clients send requests back to back, more than this machine
// serves within the driver's wait for a connection, so some are shed
// with 503s; that must not deadlock the database server (with the
// driver's and FerretDB's default pool sizes it did). Then 200 sessions
// that pause between requests, as visitors do, must all be exact.
func (s *scaleout) testConcurrentSessions(t *testing.T) {
	ps := startProcs(t, s.bin, scaleoutSite, s.uri(t), 3)

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	codes := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c, b := range browsers(200, 10*time.Second) {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				r, err := do(ctx, b.c, "POST", ps[(c+i)%len(ps)].base+"/incr.json?client=hammer", url.Values{}, nil)
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				if err != nil {
					codes[err.Error()]++
				} else {
					codes[fmt.Sprint(r.code)]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	cancel()
	t.Logf("back to back: %v", codes)
	for k := range codes {
		if k != "200" && k != "503" {
			t.Errorf("back to back: %d answers %q, want only 200 and 503", codes[k], k)
		}
	}

	ctx, cancel = context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	n, errs := incrLoad(ctx, browsers(200, 15*time.Second), 12, time.Second, roundRobin(ps))
	t.Logf("%d requests of 200 visitors", n)
	reportErrors(t, errs)
	if len(errs) > 0 {
		logProblems(t, ps)
	}
	if n < 200*5 {
		t.Errorf("only %d requests were answered: the server is stuck", n)
	}
}

// testKillOneProcess: kill -9 of one process under load; the others keep
// serving the same sessions, which it served too, with no error.
func (s *scaleout) testKillOneProcess(t *testing.T) {
	ps := startProcs(t, s.bin, scaleoutSite, s.uri(t), 3)
	clients := browsers(30, 10*time.Second)
	// Every session is served by all three processes first.
	if _, errs := incrLoad(t.Context(), clients, 6, 0, roundRobin(ps)); len(errs) > 0 {
		reportErrors(t, errs)
		return
	}
	// Then, while other visitors load the victim, it is killed, and the
	// same sessions go on with the survivors.
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	const victimLoaders = 10
	var loaded sync.WaitGroup // each victim loader's first answer
	loaded.Add(victimLoaders)
	for range victimLoaders {
		wg.Go(func() {
			var once sync.Once
			defer once.Do(loaded.Done)
			b := newBrowser(2 * time.Second)
			for ctx.Err() == nil {
				do(ctx, b.c, "POST", ps[2].base+"/incr.json?client=victim", url.Values{}, nil) // errors expected once killed
				once.Do(loaded.Done)
			}
		})
	}
	survivors := ps[:2]
	// The kill comes once every client has sent its first request to
	// the survivors.
	var sent atomic.Int64
	allSent := make(chan struct{})
	rr := roundRobin(survivors)
	targets := func(c, i int) string {
		if sent.Add(1) == int64(len(clients)) {
			close(allSent)
		}
		return rr(c, i)
	}
	var n int64
	var errs []error
	done := make(chan struct{})
	go func() {
		defer close(done)
		n, errs = incrLoad(t.Context(), clients, 20, 0, targets)
	}()
	loaded.Wait()
	select {
	case <-allSent:
	case <-done: // ended early, with errors reported below
	}
	ps[2].kill9()
	<-done
	cancel()
	wg.Wait()
	t.Logf("%d requests on the survivors", n)
	reportErrors(t, errs)
}

// testOutage: the database server stopped for a few seconds under load.
// Requests answer 503 without hanging, the health check says so, and
// every process serves again soon after the server's return, without a
// restart. Then a process started while the server is down waits for
// it rather than failing its startup.
func (s *scaleout) testOutage(t *testing.T) {
	server := dbserver.StartForTest(t)
	ps := startProcs(t, s.bin, scaleoutSite, server.URI()+"outage", 2)
	// A client gives up after 1.5 s: a request waiting that long hangs
	// (the target is an answer within 1 s; see the benchmarks for speed).
	const hang = 1500 * time.Millisecond
	clients := browsers(20, hang)
	if _, errs := incrLoad(t.Context(), clients, 3, 0, roundRobin(ps)); len(errs) > 0 {
		reportErrors(t, errs)
		return
	}

	ctx, cancel := context.WithCancel(t.Context())
	var down atomic.Bool
	var mu sync.Mutex
	var codes = map[int]int{}
	var hangs []error
	var maxDown time.Duration
	var wg sync.WaitGroup
	// Each client marks its first answer, and its second request sent
	// and answered (or failed) while the database was down.
	var up, wasDownTwice sync.WaitGroup
	up.Add(len(clients))
	wasDownTwice.Add(len(clients))
	for c, b := range clients {
		wg.Go(func() {
			var onceUp, onceDown sync.Once
			defer onceUp.Do(up.Done)
			defer onceDown.Do(wasDownTwice.Done)
			downs := 0
			for i := 0; ctx.Err() == nil; i++ {
				wasDown := down.Load()
				start := time.Now()
				r, err := do(ctx, b.c, "POST", ps[(c+i)%len(ps)].base+"/incr.json?client=x", url.Values{}, nil)
				took := time.Since(start)
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				if wasDown && down.Load() {
					if err != nil {
						hangs = append(hangs, err)
					} else {
						codes[r.code]++
						maxDown = max(maxDown, took)
					}
					downs++
				}
				mu.Unlock()
				onceUp.Do(up.Done)
				if downs == 2 {
					onceDown.Do(wasDownTwice.Done)
				}
				time.Sleep(20 * time.Millisecond) // a visitor's pause
			}
		})
	}
	up.Wait() // the load runs before the outage
	if err := server.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	wasDownTwice.Wait() // and during it
	for _, p := range ps {
		r, err := do(t.Context(), http.DefaultClient, "GET", p.base+"/.aspen/health", nil, nil)
		if err != nil || r.code != 503 {
			t.Errorf("health check of %s while the database is down: %d %v", p.base, r.code, err)
		}
	}
	down.Store(false)
	if err := server.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	cancel()
	wg.Wait()

	t.Logf("while down: %v, slowest answer %v, %d hangs", codes, maxDown, len(hangs))
	reportErrors(t, hangs)
	if len(codes) != 1 || codes[503] == 0 {
		t.Errorf("answers while the database was down: %v, want only 503s", codes)
	}
	// Every process serves again, without a restart.
	for _, p := range ps {
		var last string
		for {
			r, err := do(t.Context(), newBrowser(hang).c, "POST", p.base+"/incr.json?client=y", url.Values{}, nil)
			if err == nil && r.code == 200 {
				t.Logf("%s serves again %v after the database's return", p.base, time.Since(back).Round(time.Millisecond))
				break
			}
			last = fmt.Sprint(r.code, err)
			if time.Since(back) > 2*time.Second {
				t.Errorf("%s does not serve 2 s after the database's return: %s", p.base, last)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		r, err := do(t.Context(), http.DefaultClient, "GET", p.base+"/.aspen/health", nil, nil)
		if err != nil || r.code != 200 {
			t.Errorf("health check of %s after the database's return: %d %v", p.base, r.code, err)
		}
	}
	var urlErr *url.Error
	for _, err := range hangs {
		if errors.As(err, &urlErr) && urlErr.Timeout() {
			t.Errorf("a request hung while the database was down: %v", err)
			break
		}
	}
	// A process started while the database is down waits for it.
	if err := server.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	late := launchProc(t, s.bin, scaleoutSite, server.URI()+"outage")
	select {
	case <-late.logged("waiting for the database"):
	case <-late.done:
		t.Fatalf("a process started while the database was down exited (%v):\n%s", late.err, late.logs)
	case <-time.After(time.Minute):
		t.Fatalf("a process started while the database was down did not wait for it:\n%s", late.logs)
	}
	if err := server.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	late.serving(t)
	must(t, newBrowser(10*time.Second).c, "POST", late.base+"/incr.json?client=late", url.Values{}, nil)
}
