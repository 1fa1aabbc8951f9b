package aspengo_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/database"
)

// writeSite writes files (name → content) under a new www root.
func writeSite(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

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

	root := writeSite(t, map[string]string{
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
		{"/update.json", `{"$set": {"role": {"$gt": ""}}}`, `field name &#34;$gt&#34; starts with $`},
	}
	for _, tt := range tests {
		resp, body := s.do(t, http.MethodPost, tt.path, strings.NewReader(tt.body), http.Header{"Content-Type": {"application/json"}})
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST %s %s: status %d, want 400; body:\n%s", tt.path, tt.body, resp.StatusCode, body)
			continue
		}
		if !strings.Contains(body, tt.want) {
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
	root := writeSite(t, map[string]string{
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
