package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aspengo/aspengo/internal/logbuf"
)

// The example nginx configuration of docs/deploy.md.
const nginxExample = "../../docs/nginx.conf"

// testBehindNginx runs docs/nginx.conf, with the test's addresses, ports
// and a certificate of its own, in front of two aspengo processes started
// with --secure-cookies: HTTP is redirected to HTTPS, a login through
// nginx holds across both processes with a Secure cookie, and a process
// killed with kill -9 is skipped by nginx.
func (s *scaleout) testBehindNginx(t *testing.T) {
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		nginx = "/usr/sbin/nginx"
		if _, err := os.Stat(nginx); err != nil {
			if os.Getenv("CI") != "true" {
				t.Skip("skipped: nginx is not installed (apt-get install nginx)")
			}
			t.Fatal("nginx is not installed (apt-get install nginx)")
		}
	}
	uri := s.uri(t)
	ps := make([]*proc, 2)
	for i := range ps {
		ps[i] = startProc(t, s.bin, scaleoutSite, uri, "--secure-cookies")
	}
	dir := t.TempDir()
	certFile, keyFile, pool := selfSignedCert(t, dir)
	httpPort, httpsPort := freePort(t), freePort(t)

	conf, err := os.ReadFile(nginxExample)
	if err != nil {
		t.Fatal(err)
	}
	site := string(conf)
	for _, r := range []struct{ old, new string }{
		{"127.0.0.1:8081", strings.TrimPrefix(ps[0].base, "http://")},
		{"127.0.0.1:8082", strings.TrimPrefix(ps[1].base, "http://")},
		{"    server 127.0.0.1:8083 max_fails=1 fail_timeout=5s;\n", ""},
		{"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", httpPort)},
		{"listen 443 ssl http2;", fmt.Sprintf("listen 127.0.0.1:%d ssl http2;", httpsPort)},
		{"    listen [::]:80;\n", ""},
		{"    listen [::]:443 ssl http2;\n", ""},
		{"/etc/letsencrypt/live/example.com/fullchain.pem", certFile},
		{"/etc/letsencrypt/live/example.com/privkey.pem", keyFile},
	} {
		if !strings.Contains(site, r.old) {
			t.Fatalf("%s no longer contains %q: update this test with it", nginxExample, r.old)
		}
		site = strings.Replace(site, r.old, r.new, 1)
	}
	sitePath := filepath.Join(dir, "aspengo.conf")
	if err := os.WriteFile(sitePath, []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	// A main configuration of the test's own around the example, as
	// Debian's /etc/nginx/nginx.conf is around sites-enabled.
	var main strings.Builder
	if os.Geteuid() == 0 {
		main.WriteString("user nobody nogroup;\n")
	}
	fmt.Fprintf(&main, "daemon off;\nworker_processes 1;\npid %[1]s/nginx.pid;\nerror_log stderr warn;\nevents {}\nhttp {\n"+
		"  access_log off;\n  client_body_temp_path %[1]s/body;\n  proxy_temp_path %[1]s/proxy;\n"+
		"  fastcgi_temp_path %[1]s/fastcgi;\n  uwsgi_temp_path %[1]s/uwsgi;\n  scgi_temp_path %[1]s/scgi;\n"+
		"  include %[2]s;\n}\n", dir, sitePath)
	mainPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(mainPath, []byte(main.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(nginx, "-t", "-p", dir, "-c", mainPath).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s\n%s", err, out, site)
	}
	var logs logbuf.Buffer
	cmd := exec.Command(nginx, "-p", dir, "-c", mainPath)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT) // graceful stop
		cmd.Wait()
	})
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", httpsPort), &logs)

	b := newBrowser(10 * time.Second)
	b.c.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	base := fmt.Sprintf("https://127.0.0.1:%d", httpsPort)

	resp, err := b.c.Get(fmt.Sprintf("http://127.0.0.1:%d/whoami.json", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != 301 || !strings.HasPrefix(loc, "https://") {
		t.Errorf("plain HTTP: %d to %q, want a 301 to https", resp.StatusCode, loc)
	}

	register(t, b, base, "erin", "erin's password")
	login(t, b, base, "erin", "erin's password")
	// --secure-cookies: the session cookie is Secure although aspengo
	// itself serves plain HTTP.
	fresh := &http.Client{Transport: b.c.Transport}
	resp, err = fresh.Post(base+"/incr.json?client=x", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var secure bool
	for _, c := range resp.Cookies() {
		secure = secure || strings.HasSuffix(c.Name, "session_key") && c.Secure
	}
	if !secure {
		t.Errorf("cookies %v: want a Secure session cookie", resp.Header["Set-Cookie"])
	}
	// Enough requests for both processes to answer some.
	for range 6 {
		if u := whoami(t, b, base, nil); u != "erin" {
			t.Fatalf("through nginx: logged in as %q, want erin", u)
		}
	}
	r, err := do(t.Context(), b.c, "GET", base+"/.aspen/health", nil, nil)
	if err != nil || r.code != 200 {
		t.Errorf("health check through nginx from loopback: %d %v", r.code, err)
	}
	ps[1].kill9()
	for range 6 {
		if u := whoami(t, b, base, nil); u != "erin" {
			t.Fatalf("after kill -9 of one process: logged in as %q, want erin", u)
		}
	}
	if t.Failed() {
		t.Logf("nginx:\n%s", logs.String())
	}
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key into dir
// and returns their paths and a pool that trusts the certificate.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitListening waits until addr accepts connections.
func waitListening(t *testing.T, addr string, logs *logbuf.Buffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
