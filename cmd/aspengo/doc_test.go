package main

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aspengo/aspengo/trembling/auth"
)

// docExample is one fenced block of docs/starlark.md: a file of the site
// (info string "LANG file=PATH") or a request and what it must answer
// (info string "http").
type docExample struct {
	line int // of the opening fence, for messages
	file string
	text string
}

// readDocExamples returns the fenced blocks of the Markdown file name
// that are files of the site or requests.
func readDocExamples(t *testing.T, name string) (files, requests []docExample) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var (
		cur    *docExample
		isHTTP bool
		lineno int
	)
	for sc.Scan() {
		lineno++
		line := sc.Text()
		if cur == nil {
			info, ok := strings.CutPrefix(line, "```")
			if !ok || info == "" {
				continue
			}
			fields := strings.Fields(info)
			switch {
			case fields[0] == "http":
				cur, isHTTP = &docExample{line: lineno}, true
			case len(fields) > 1 && strings.HasPrefix(fields[1], "file="):
				cur, isHTTP = &docExample{line: lineno, file: strings.TrimPrefix(fields[1], "file=")}, false
			default:
				// A block that is neither: skip to its end.
				for sc.Scan() {
					lineno++
					if sc.Text() == "```" {
						break
					}
				}
			}
			continue
		}
		if line == "```" {
			if isHTTP {
				requests = append(requests, *cur)
			} else {
				files = append(files, *cur)
			}
			cur = nil
			continue
		}
		cur.text += line + "\n"
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s:%d: block not closed", name, cur.line)
	}
	return files, requests
}

// TestStarlarkDoc writes the files of docs/starlark.md into a site, serves
// it, and sends the requests of its http blocks in order, checking each
// answer: the examples of the reference cannot go stale.
func TestStarlarkDoc(t *testing.T) {
	t.Parallel()
	const doc = "../../docs/starlark.md"
	files, requests := readDocExamples(t, doc)
	if len(files) < 10 || len(requests) < 20 {
		t.Fatalf("%s: %d files and %d requests; the parser lost examples", doc, len(files), len(requests))
	}
	root := filepath.Join(t.TempDir(), "www")
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.file))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.text), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The site must pass aspengo check as it is.
	var stderr bytes.Buffer
	if code := checkCmd([]string{"--root", root}, func(string) string { return "" }, io.Discard, &stderr); code != 0 {
		t.Fatalf("aspengo check on the examples: exit %d\n%s", code, stderr.String())
	}

	var logs bytes.Buffer
	o := siteOptions{}
	o.site.root = root
	o.storage.data = filepath.Join(t.TempDir(), "data")
	o.sessions.store = "memory"
	o.sessions.bcryptCost = auth.LowestCost
	site, err := startSite(t.Context(), o, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer site.Close(t.Context())
	srv := httptest.NewServer(site.w)
	defer srv.Close()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	for _, rq := range requests {
		lines := strings.Split(strings.TrimRight(rq.text, "\n"), "\n")
		where := doc + ":" + strconv.Itoa(rq.line)
		if len(lines) < 2 {
			t.Fatalf("%s: an http block needs a request line and a status", where)
		}
		parts := strings.Fields(lines[0])
		if len(parts) < 2 || len(parts) > 3 {
			t.Fatalf("%s: request line %q is not METHOD PATH [FORM]", where, lines[0])
		}
		var body io.Reader
		if len(parts) == 3 {
			body = strings.NewReader(parts[2])
		}
		req, err := http.NewRequestWithContext(t.Context(), parts[0], srv.URL+parts[1], body)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		if parts[0] == http.MethodPost || parts[0] == http.MethodPut {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("User-Agent", "aspengo-doc-test")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		want, err := strconv.Atoi(lines[1])
		if err != nil {
			t.Fatalf("%s: status line %q: %v", where, lines[1], err)
		}
		if resp.StatusCode != want {
			t.Errorf("%s: %s: status %d, want %d; body:\n%s\nlog:\n%s", where, lines[0], resp.StatusCode, want, got, logs.String())
			continue
		}
		rest := lines[2:]
		for len(rest) > 0 && rest[0] != "" {
			name, value, ok := strings.Cut(rest[0], ": ")
			if !ok {
				t.Fatalf("%s: header line %q is not Name: value", where, rest[0])
			}
			if !containsValue(resp.Header.Values(name), value) {
				t.Errorf("%s: %s: header %s = %q, want %q among them", where, lines[0], name, resp.Header.Values(name), value)
			}
			rest = rest[1:]
		}
		for _, l := range rest {
			if l != "" && !strings.Contains(string(got), l) {
				t.Errorf("%s: %s: body lacks %q:\n%s", where, lines[0], l, got)
			}
		}
	}
}

// containsValue reports whether want is one of vs, or the start of one
// (a media type without its parameters).
func containsValue(vs []string, want string) bool {
	for _, v := range vs {
		if v == want || strings.HasPrefix(v, want+";") {
			return true
		}
	}
	return false
}
