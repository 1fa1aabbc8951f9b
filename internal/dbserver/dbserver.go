// Package dbserver runs a MongoDB-compatible database server for tests: a
// private PostgreSQL cluster from Debian's packages with a FerretDB
// server in front of it, in a process of its own, on a free loopback
// port. It stands in for a MongoDB deployment where none can be
// installed, so that several aspengo processes can share one database
// over the network.
//
// PostgreSQL listens only on a unix socket in a private temporary
// directory. When the tests run as root, PostgreSQL (which refuses root)
// runs as the postgres user, or nobody when there is none.
//
// Starting takes a few seconds; tests share one Server per test binary
// where they can.
package dbserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// PostgresBin is where Debian's postgresql package installs PostgreSQL
// 15's programs.
const PostgresBin = "/usr/lib/postgresql/15/bin"

// PoolMaxConns is the size of FerretDB's PostgreSQL connection pool. With
// FerretDB's default (50), 200 concurrent sessions over several aspengo
// processes deadlock it.
const PoolMaxConns = 100

// ErrNotInstalled is returned (wrapped) by Start when PostgreSQL is not
// installed.
var ErrNotInstalled = errors.New("PostgreSQL 15 is not installed (apt-get install postgresql)")

// A Server is a running PostgreSQL cluster and FerretDB server. Its
// methods are safe for concurrent use.
type Server struct {
	dir       string // temporary directory: cluster, socket, logs, binary
	ferretBin string
	pgURL     string
	pg        *exec.Cmd
	pgDone    chan struct{}

	mu     sync.Mutex
	addr   string // FerretDB's host:port, kept across Stop and Start
	ferret *exec.Cmd
	fDone  chan struct{}
	closed bool
}

// Start initialises a cluster in a new temporary directory, starts
// PostgreSQL on it, builds and starts FerretDB on a free loopback port,
// and returns once FerretDB accepts connections. Close stops both and
// removes the directory.
func Start(ctx context.Context) (_ *Server, err error) {
	initdb := filepath.Join(PostgresBin, "initdb")
	if _, err := os.Stat(initdb); err != nil {
		return nil, fmt.Errorf("dbserver: %w: %s not found", ErrNotInstalled, initdb)
	}
	dir, err := os.MkdirTemp("", "aspengo-dbserver-")
	if err != nil {
		return nil, fmt.Errorf("dbserver: %w", err)
	}
	s := &Server{dir: dir}
	defer func() {
		if err != nil {
			s.Close(context.Background())
		}
	}()
	cred, err := postgresCredential(dir)
	if err != nil {
		return nil, fmt.Errorf("dbserver: %w", err)
	}
	build := make(chan error, 1)
	go func() { build <- s.buildFerretDB(ctx) }()

	data := filepath.Join(dir, "pgdata")
	if err := s.run(ctx, cred, "initdb.log", initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		<-build
		return nil, err
	}
	if err := s.startPostgres(ctx, cred, data); err != nil {
		<-build
		return nil, err
	}
	if err := <-build; err != nil {
		return nil, err
	}
	s.pgURL = fmt.Sprintf("postgres://postgres@/postgres?host=%s&pool_max_conns=%d", dir, PoolMaxConns)
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// postgresCredential returns the credential PostgreSQL runs with (nil
// when this process is not root) and hands dir over to that user.
func postgresCredential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		u, err = user.Lookup("nobody")
	}
	if err != nil {
		return nil, fmt.Errorf("no unprivileged user to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// run runs a program to completion, its output logged to a file in the
// directory, which the error quotes.
func (s *Server) run(ctx context.Context, cred *syscall.Credential, logName, prog string, args ...string) error {
	logPath := filepath.Join(s.dir, logName)
	out, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("dbserver: %w", err)
	}
	defer out.Close()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = s.dir // the unprivileged user may not enter the current one
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("dbserver: %s: %w\n%s", filepath.Base(prog), err, tail(logPath))
	}
	return nil
}

// startPostgres starts the postmaster on a unix socket in the directory
// only, and waits until it accepts connections.
func (s *Server) startPostgres(ctx context.Context, cred *syscall.Credential, data string) error {
	logPath := filepath.Join(s.dir, "postgres.log")
	out, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("dbserver: %w", err)
	}
	defer out.Close()
	cmd := exec.Command(filepath.Join(PostgresBin, "postgres"), "-D", data,
		"-k", s.dir, "-c", "listen_addresses=",
		"-c", "max_connections=300",
		// A throwaway cluster: durability is not what the tests measure.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = out, out
	// SIGQUIT is PostgreSQL's immediate shutdown: a test binary that
	// dies does not leave a cluster running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("dbserver: postgres: %w", err)
	}
	s.pg = cmd
	s.pgDone = make(chan struct{})
	go func() { cmd.Wait(); close(s.pgDone) }()

	// The socket appears before PostgreSQL accepts connections ("the
	// database system is starting up"): ask it, as pg_isready does.
	for {
		ready := exec.CommandContext(ctx, filepath.Join(PostgresBin, "pg_isready"), "-q", "-h", s.dir, "-U", "postgres", "-d", "postgres")
		if ready.Run() == nil {
			return nil
		}
		select {
		case <-s.pgDone:
			return fmt.Errorf("dbserver: postgres exited at startup\n%s", tail(logPath))
		case <-ctx.Done():
			return fmt.Errorf("dbserver: postgres did not start: %w\n%s", ctx.Err(), tail(logPath))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// FerretDBEnv names the environment variable that may give the path of
// a ferretdbpg binary built beforehand: make test builds one for every
// test binary, since linking it costs seconds of CPU each time.
const FerretDBEnv = "ASPENGO_TEST_FERRETDB"

// buildFerretDB builds the ferretdbpg command into the directory, unless
// FerretDBEnv names one. The build cache makes this fast after the first
// time, but for the link.
func (s *Server) buildFerretDB(ctx context.Context) error {
	if bin := os.Getenv(FerretDBEnv); bin != "" {
		if fi, err := os.Stat(bin); err != nil || !fi.Mode().IsRegular() {
			return fmt.Errorf("dbserver: %s=%s is not a ferretdbpg binary: %v", FerretDBEnv, bin, err)
		}
		s.ferretBin = bin
		return nil
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(goRoot(), "bin", "go")
	}
	s.ferretBin = filepath.Join(s.dir, "ferretdbpg")
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", s.ferretBin, "github.com/aspengo/aspengo/internal/dbserver/ferretdbpg")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("dbserver: build FerretDB: %w\n%s", err, out)
	}
	return nil
}

// goRoot is where the go command is when it is not on PATH.
func goRoot() string {
	if r := os.Getenv("GOROOT"); r != "" {
		return r
	}
	return "/usr/local/go"
}

// URI returns the mongodb:// URI of the FerretDB server.
func (s *Server) URI() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return "mongodb://" + s.addr + "/"
}

// Addr returns FerretDB's host:port.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Start starts FerretDB if it is not running: on a free port the first
// time, on the same port after Stop. It returns once FerretDB accepts
// connections.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("dbserver: closed")
	}
	if s.ferret != nil {
		return nil
	}
	listen := s.addr
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	logPath := filepath.Join(s.dir, "ferretdb.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("dbserver: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(s.ferretBin, "-listen", listen, "-postgresql-url", s.pgURL)
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("dbserver: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("dbserver: start FerretDB: %w", err)
	}
	done := make(chan struct{})
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		lines <- strings.TrimSpace(line)
		io.Copy(io.Discard, r)
	}()
	go func() { cmd.Wait(); close(done) }()
	var uri string
	select {
	case uri = <-lines:
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("dbserver: FerretDB did not start: %w\n%s", ctx.Err(), tail(logPath))
	}
	host := strings.TrimSuffix(strings.TrimPrefix(uri, "mongodb://"), "/")
	if _, _, err := net.SplitHostPort(host); err != nil {
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("dbserver: FerretDB did not start (it said %q)\n%s", uri, tail(logPath))
	}
	s.addr, s.ferret, s.fDone = host, cmd, done
	return nil
}

// Stop kills FerretDB (PostgreSQL keeps running), so that clients find
// the database server down until Start. Connections are refused
// meanwhile.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopFerretDB(ctx)
}

func (s *Server) stopFerretDB(ctx context.Context) error {
	if s.ferret == nil {
		return nil
	}
	cmd, done := s.ferret, s.fDone
	s.ferret, s.fDone = nil, nil
	// Killed at once, as a crash would: a graceful stop waits for
	// clients to hang up, which clients of a live site never do.
	cmd.Process.Kill()
	<-done
	return nil
}

// Close stops FerretDB and PostgreSQL and removes the temporary
// directory.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.stopFerretDB(ctx)
	if s.pg != nil {
		// SIGINT is PostgreSQL's fast shutdown.
		s.pg.Process.Signal(syscall.SIGINT)
		select {
		case <-s.pgDone:
		case <-time.After(20 * time.Second):
			s.pg.Process.Kill()
			<-s.pgDone
		}
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("dbserver: %w", err)
	}
	return nil
}

// tail returns the end of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// StartForTest starts a Server for t and closes it when t ends. Where
// PostgreSQL is not installed it skips t, except under CI=true, where it
// fails t: CI installs PostgreSQL and must never skip these tests.
func StartForTest(t testing.TB) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Start(ctx)
	if err != nil {
		SkipOrFail(t, err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("dbserver: %v", err)
		}
	})
	return s
}

// SkipOrFail ends t because Start failed with err: a skip when
// PostgreSQL is not installed and CI is not "true", else a failure.
func SkipOrFail(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrNotInstalled) && os.Getenv("CI") != "true" {
		t.Skipf("skipped: %v", err)
	}
	t.Fatal(err)
}

// Dir returns the temporary directory of the server (removed by Close).
func (s *Server) Dir() string { return s.dir }
