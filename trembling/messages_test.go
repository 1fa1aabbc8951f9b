package trembling_test

import (
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const emptyList = "<ul></ul>"

func TestSeedMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range storeCases {
		t.Run(tc.store, func(t *testing.T) {
			s := startSite(t, siteOptions{uri: tc.uri(t), cfg: storeConfig(t, tc.store)})
			c := newClient(t, s)
			steps := []struct{ path, want string }{
				// trembling: the message shows on the NEXT request ...
				{"/seed.html", "seed set"},
				{"/show.html", "<ul><li>info: Saved &lt;b&gt;it&lt;/b&gt;</li></ul>"},
				// ... and then it is gone.
				{"/show.html", emptyList},
			}
			for i, st := range steps {
				if r := get(t, c, s, st.path); r.code != 200 || r.body != st.want {
					t.Fatalf("step %d %s: got %v, want %q", i+1, st.path, r, st.want)
				}
			}
			sess, msgs := dump(t, c, s)
			if len(sess) != 0 || len(msgs) != 0 {
				t.Errorf("after display: session %v, messages %v; want both empty", sess, msgs)
			}
		})
	}
}

func TestSeedMessageWaitsThroughRedirect(t *testing.T) {
	t.Parallel()
	s := startSite(t, siteOptions{})
	c := newClient(t, s)
	get(t, c, s, "/seed.html?text=one")
	// JSON and a 404 do not display it; the session key is gone from
	// request.session already.
	if sess, msgs := dump(t, c, s); len(sess) != 0 || !cmp.Equal(msgs, [][]string{{"info", "one"}}) {
		t.Fatalf("dump: session %v, messages %v", sess, msgs)
	}
	if r := get(t, c, s, "/nope.html"); r.code != 404 {
		t.Fatalf("nope: %v", r)
	}
	if r := get(t, c, s, "/show.html"); r.body != "<ul><li>info: one</li></ul>" {
		t.Fatalf("show: %v", r)
	}
}

func TestAddMessagePostRedirectGet(t *testing.T) {
	t.Parallel()
	for _, tc := range storeCases {
		t.Run(tc.store, func(t *testing.T) {
			s := startSite(t, siteOptions{uri: tc.uri(t), cfg: storeConfig(t, tc.store)})
			c := newClient(t, s)
			r := post(t, c, s, "/add", url.Values{"text": {"<script>alert(1)</script>"}, "level": {"success"}})
			if r.code != 302 || r.header.Get("Location") != "/show.html" {
				t.Fatalf("POST /add: %v, Location %q", r, r.header.Get("Location"))
			}
			post(t, c, s, "/add", url.Values{"text": {"second"}, "level": {"warning"}})

			// A 404, a JSON response, a HEAD and a text page keep them.
			if r := get(t, c, s, "/nope.html"); r.code != 404 {
				t.Fatalf("nope: %v", r)
			}
			if _, msgs := dump(t, c, s); len(msgs) != 2 {
				t.Fatalf("messages after a 404 and JSON: %v, want 2", msgs)
			}
			if r := do(t, c, s, "HEAD", "/show.html", nil); r.code != 200 {
				t.Fatalf("HEAD: %v", r)
			}
			// A page that is not HTML shows them but keeps them.
			if r := get(t, c, s, "/show.txt"); r.code != 200 || r.body != "success: <script>alert(1)</script>;warning: second;" {
				t.Fatalf("show.txt: %v (Content-Type %q)", r, r.header.Get("Content-Type"))
			}

			want := "<ul><li>success: &lt;script&gt;alert(1)&lt;/script&gt;</li><li>warning: second</li></ul>"
			if r := get(t, c, s, "/show.html"); r.body != want {
				t.Fatalf("show: got %v, want %q", r, want)
			}
			if r := get(t, c, s, "/show.html"); r.body != emptyList {
				t.Fatalf("show again: got %v, want no messages", r)
			}
		})
	}
}

func TestAddMessageShownOnSamePage(t *testing.T) {
	t.Parallel()
	s := startSite(t, siteOptions{})
	c := newClient(t, s)
	want := "<ul><li>success: now &lt;i&gt;here&lt;/i&gt;</li></ul>"
	if r := get(t, c, s, "/addshow.html"); r.body != want {
		t.Fatalf("addshow: got %v, want %q", r, want)
	}
	if r := get(t, c, s, "/show.html"); r.body != emptyList {
		t.Fatalf("show: got %v, want no messages", r)
	}
	// Nothing is left to keep, so the session was not kept either.
	if n := s.count(); n != 0 {
		t.Errorf("store holds %d records, want 0", n)
	}
}

func TestAddMessageLevels(t *testing.T) {
	t.Parallel()
	s := startSite(t, siteOptions{})
	c := newClient(t, s)
	for _, level := range []string{"debug", "info", "success", "warning", "error"} {
		if r := post(t, c, s, "/add", url.Values{"text": {level + " text"}, "level": {level}}); r.code != 302 {
			t.Fatalf("level %s: %v", level, r)
		}
	}
	r := get(t, c, s, "/show.html")
	want := "<ul><li>debug: debug text</li><li>info: info text</li><li>success: success text</li><li>warning: warning text</li><li>error: error text</li></ul>"
	if r.body != want {
		t.Errorf("show: got %v, want %q", r, want)
	}

	r = get(t, c, s, "/badlevel.html")
	if r.code != 500 {
		t.Errorf("badlevel: got %v, want 500", r)
	}
	if want := `add_message: unknown message level "fatal"`; !s.logged(want) {
		t.Errorf("log lacks %q:\n%s", want, s.log.String())
	}
}
