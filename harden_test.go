package aspengo_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/database"
)

// TestRefusedOperatorIsBadRequest sends query operators that the database
// package refuses in a JSON body that a page uses as a filter: the answer
// is a 400 naming the operator, logged as a warning, with no traceback.
// The operators are refused before any query is sent, so the database
// here is never reached.
func TestRefusedOperatorIsBadRequest(t *testing.T) {
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:1").SetServerSelectionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(t.Context()) })
	db := database.NewHandle(client.Database("refused"), time.Second)

	root := aspengo.WriteSite(t, map[string]string{
		"find.json.spt":   "doc = db.users.find_one(request.json)\nresponse.body = {'doc': doc}\n",
		"update.json.spt": "n = db.users.update_one({'_id': 1}, request.json)\nresponse.body = {'n': n}\n",
	})
	s := startSite(t, root, func(cfg *aspengo.Config) {
		if err := cfg.Registry.Builtin("db", db); err != nil {
			t.Fatal(err)
		}
	})
	tests := []struct {
		path, body, want string
	}{
		{"/find.json", `{"$where": "sleep(1000) || true"}`, "operator $where is not allowed"},
		{"/find.json", `{"name": {"$regex": ".*"}}`, "operator $regex is not allowed"},
		{"/find.json", `{"$expr": {"$eq": [1, 1]}}`, "operator $expr is not allowed"},
		{"/find.json", `{"$or": [{"name": {"$where": "1"}}]}`, "operator $where is not allowed"},
		{"/update.json", `{"$where": "1"}`, "update operator $where is not supported"},
		{"/update.json", `{"$set": {"role": {"$gt": ""}}}`, `field name "$gt" starts with $`},
	}
	for _, tt := range tests {
		resp, body := s.do(t, http.MethodPost, tt.path, strings.NewReader(tt.body), http.Header{"Content-Type": {"application/json"}})
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST %s %s: status %d, want 400; body:\n%s", tt.path, tt.body, resp.StatusCode, body)
			continue
		}
		// A JSON simplate's error body is JSON: {"code": 400, "error": reason}.
		var got struct{ Error string }
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Errorf("POST %s %s: error body is not JSON: %v\n%s", tt.path, tt.body, err, body)
			continue
		}
		if !strings.Contains(got.Error, tt.want) {
			t.Errorf("POST %s %s: body does not give the reason %q:\n%s", tt.path, tt.body, tt.want, body)
		}
	}
	logs := s.log.String()
	if strings.Contains(logs, "level=ERROR") || strings.Contains(logs, "traceback") {
		t.Errorf("a refused operator was logged as an error:\n%s", logs)
	}
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "status=400") {
		t.Errorf("a refused operator was not logged as a warning with its status:\n%s", logs)
	}
}

// TestSecurityHeaders checks the default security headers on every kind of
// response, and that a page's own policy is kept.
func TestSecurityHeaders(t *testing.T) {
	root := aspengo.WriteSite(t, map[string]string{
		"page.html.spt":   "x = 1\n[---]\n<p>{{ .x }}</p>\n",
		"framed.html.spt": "response.headers.set('Content-Security-Policy', \"frame-ancestors https://partner.example\")\n[---]\n<p>framed</p>\n",
		"own.html.spt":    "response.headers.set('Content-Security-Policy', \"default-src 'self'\")\nresponse.headers.set('Referrer-Policy', 'no-referrer')\n[---]\n<p>own</p>\n",
		"style.css":       "p {}\n",
		"dir/index.html":  "dir",
		"fail.spt":        "1 // 0\n[---]\nnever\n",
	})
	s := startSite(t, root, nil)
	defaults := map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "same-origin",
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": "frame-ancestors 'none'",
	}
	tests := []struct {
		path     string
		wantCode int
		want     map[string]string // differences from defaults; "" means absent
	}{
		{"/page.html", 200, nil},
		{"/style.css", 200, nil},
		{"/dir", 301, nil},
		{"/missing", 404, nil},
		{"/fail", 500, nil},
		{"/framed.html", 200, map[string]string{"Content-Security-Policy": "frame-ancestors https://partner.example", "X-Frame-Options": ""}},
		{"/own.html", 200, map[string]string{"Content-Security-Policy": "default-src 'self'", "Referrer-Policy": "no-referrer"}},
	}
	for _, tt := range tests {
		resp, _ := s.do(t, http.MethodGet, tt.path, nil, nil)
		if resp.StatusCode != tt.wantCode {
			t.Errorf("GET %s: status %d, want %d", tt.path, resp.StatusCode, tt.wantCode)
		}
		for name, v := range defaults {
			if w, ok := tt.want[name]; ok {
				v = w
			}
			got := resp.Header.Values(name)
			switch {
			case v == "" && len(got) != 0:
				t.Errorf("GET %s: %s: %q, want none", tt.path, name, got)
			case v != "" && (len(got) != 1 || got[0] != v):
				t.Errorf("GET %s: %s: %q, want %q", tt.path, name, got, v)
			}
		}
	}
}

// TestHostileRequests sends the requests that used to take a server
// down: each fails with the right status and a message naming the limit,
// a normal request is answered while they run, and the server stays up.
func TestHostileRequests(t *testing.T) {
	root := aspengo.WriteSite(t, map[string]string{
		"amp.spt":     "n = int(request.qs.one('n'))\ns = 'a' * n\n[---]\nnever\n",
		"zeros.spt":   "l = [0] * 100000000\n[---]\nnever\n",
		"nested.spt":  "x = []\nfor i in range(160000):\n    x = [x]\ns = str(x)\n[---]\nnever\n",
		"busy.spt":    "while True:\n    pass\n[---]\nnever\n",
		"builtin.spt": "r = max(range(1000000000000000))\n[---]\nnever\n",
		"hello.spt":   "[---]\nhello\n",
	})
	const timeout = 300 * time.Millisecond
	// One site with the default time limit for the memory cases, one
	// with a short one for the busy loops.
	roomy := startSite(t, root, func(cfg *aspengo.Config) { cfg.MaxSteps = 1 << 62 })
	short := startSite(t, root, func(cfg *aspengo.Config) {
		cfg.RequestTimeout = timeout
		cfg.MaxSteps = 1 << 62 // only the clock stops the busy loop
	})
	// A generous bound: a request not answered within it is a failure
	// (the server is stuck), not a slow test.
	client := &http.Client{Timeout: time.Minute}
	get := func(s *site, path string) (int, string, error) {
		resp, err := client.Get(s.URL + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, err = io.Copy(&b, resp.Body)
		return resp.StatusCode, b.String(), err
	}
	tests := []struct {
		s        *site
		path     string
		wantCode int
		want     string
	}{
		{roomy, "/amp?n=1000000000", 500, "memory limit of 64 MiB per request"},
		{roomy, "/zeros", 500, "memory limit of 64 MiB per request"},
		{roomy, "/nested", 500, "nested deeper than 1000 levels"},
		{short, "/busy", 503, "longer than the limit of 300ms"},
		{short, "/builtin", 503, "longer than the limit of 300ms"},
	}
	var wg sync.WaitGroup
	for _, tt := range tests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body, err := get(tt.s, tt.path)
			if err != nil {
				t.Errorf("GET %s: %v", tt.path, err)
				return
			}
			if code != tt.wantCode || !strings.Contains(body, tt.want) {
				t.Errorf("GET %s: %d, want %d with %q in the body:\n%s", tt.path, code, tt.wantCode, tt.want, body)
			}
		}()
	}
	// Meanwhile, and afterwards, ordinary requests are answered. (During
	// the attack they go to the site with the roomy time limit, served
	// by the same process, so that a loaded machine cannot make them
	// time out.)
	for range 3 {
		if code, body, err := get(roomy, "/hello"); err != nil || code != 200 || strings.TrimSpace(body) != "hello" {
			t.Errorf("GET /hello during the attack: %d %q %v", code, body, err)
		}
	}
	wg.Wait()
	for _, s := range []*site{roomy, short} {
		if code, _, err := get(s, "/hello"); err != nil || code != 200 {
			t.Errorf("GET /hello after the attack: %d %v", code, err)
		}
	}
	if n := strings.Count(short.log.String(), "request timed out"); n != 2 {
		t.Errorf("%d timeouts logged, want 2 (one per request):\n%s", n, short.log.String())
	}
}
