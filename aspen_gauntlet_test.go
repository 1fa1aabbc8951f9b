package aspengo

// Aspen 0.14.4's tests/test_gauntlet.py, ported: the same fixtures
// (testdata/aspen/gauntlet), the same requests, the behaviour those tests
// check. Cases where aspengo deliberately differs are skipped with the
// reason, which the README's "Differences from Aspen" repeats.

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAspenGauntlet(t *testing.T) {
	tests := []struct {
		aspen    string // the Aspen test
		fixture  string // under testdata/aspen/gauntlet
		path     string
		want     string         // Resource.Path; "" for an error
		vars     map[string]any // Resource.Vars, when checked
		notFound bool
		redirect string // a 301's Location
		skip     string // why aspengo differs
	}{
		// Indices
		{aspen: "test_index_is_found", fixture: "index", path: "/", want: "index.html"},
		{aspen: "test_alternate_index_is_not_found", fixture: "altindex", path: "/", notFound: true},
		{aspen: "test_alternate_index_is_found", skip: "aspengo reads no aspen.conf: default_filenames is not configurable (the default documents are index.html, index.html.spt, index.spt)"},
		{aspen: "test_index_conf_setting_overrides_and_doesnt_extend", skip: "no aspen.conf (default_filenames)"},
		{aspen: "test_index_conf_setting_takes_first", skip: "no aspen.conf (default_filenames)"},
		{aspen: "test_index_conf_setting_takes_second_if_first_is_missing", skip: "no aspen.conf (default_filenames)"},
		{aspen: "test_index_conf_setting_strips_commas", skip: "no aspen.conf (default_filenames)"},
		{aspen: "test_index_conf_setting_strips_many_commas", skip: "no aspen.conf (default_filenames)"},
		{aspen: "test_index_conf_setting_ignores_blanks", skip: "no aspen.conf (default_filenames)"},
		{aspen: "test_index_conf_setting_works_with_only_comma", skip: "no aspen.conf (default_filenames)"},

		// Virtual paths
		{aspen: "test_virtual_path_can_passthrough", fixture: "plain", path: "/foo.html", want: "foo.html"},
		{aspen: "test_unfound_virtual_path_passes_through", fixture: "bar", path: "/blah/flah.html", notFound: true},
		{aspen: "test_virtual_path_is_virtual", fixture: "bar", path: "/blah/foo.html", want: "%bar/foo.html"},
		{aspen: "test_virtual_path_sets_request_path", fixture: "bar", path: "/blah/foo.html", want: "%bar/foo.html", vars: map[string]any{"bar": "blah"}},
		{aspen: "test_virtual_path_typecasts_to_int", fixture: "year", path: "/1999/foo.html", want: "%year.int/foo.html", vars: map[string]any{"year": 1999}},
		{aspen: "test_virtual_path_raises_404_on_bad_typecast", fixture: "year", path: "/I am not a year./foo.html", notFound: true},
		{aspen: "test_virtual_path_raises_404_on_direct_access", fixture: "bar", path: "/%bar/foo.html", notFound: true},
		{aspen: "test_virtual_path_matches_the_first", fixture: "firstsecond", path: "/1999/foo.html", want: "%first/foo.html"},
		{aspen: "test_virtual_path_directory", fixture: "vdir", path: "/foo/", want: "%first/index.html", vars: map[string]any{"first": "foo"}},
		{aspen: "test_virtual_path_file", fixture: "vfile", path: "/foo/blah.html", want: "foo/%bar.html"},
		{aspen: "test_virtual_path_file_only_last_part", fixture: "vfile", path: "/foo/blah.html/baz", notFound: true},
		{aspen: "test_virtual_path_file_only_last_part____no_really", fixture: "vfile", path: "/foo/blah.html/", notFound: true},
		{aspen: "test_virtual_path_file_key_val_set", fixture: "vfile", path: "/foo/blah.html", want: "foo/%bar.html", vars: map[string]any{"bar": "blah"}},
		{aspen: "test_virtual_path_file_key_val_not_cast", fixture: "vfile", path: "/foo/537.html", want: "foo/%bar.html", vars: map[string]any{"bar": "537"}},
		{aspen: "test_virtual_path_file_key_val_cast", fixture: "vfileint", path: "/foo/537.html", want: "foo/%bar.int.html", vars: map[string]any{"bar": 537}},

		// Trailing slash
		{aspen: "test_trailing_slash_passes_files_through", fixture: "slash", path: "/foo/537.html", notFound: true},
		{aspen: "test_trailing_slash_passes_dirs_with_slash_through", fixture: "slash", path: "/foo/", want: "foo/index.html"},
		{aspen: "test_trailing_slash_redirects_trailing_slash", fixture: "slash", path: "/foo", redirect: "/foo/"},
		{aspen: "test_trailing_slash_redirects_trailing_slash (directory without an index)", fixture: "noindexdir", path: "/foo",
			skip: "a directory without a default document is a 404 with or without the slash: the redirect would only lead to a 404 (there are no directory listings)"},
		{aspen: "test_trailing_slash_redirects_trailing_slash_to_the_right_place", fixture: "slash", path: "/foo", redirect: "/foo/"},

		// Mongs
		{aspen: "test_virtual_path_parts_can_be_empty", skip: "disabled in Aspen itself (it returns before asserting)"},
		{aspen: "test_file_matches_in_face_of_dir", fixture: "faceofdir", path: "/baz.txt", want: "%value.txt", vars: map[string]any{"value": "baz"}},
		{aspen: "test_file_matches_extension", fixture: "extensions", path: "/baz.json", want: "%value.json"},
		{aspen: "test_file_matches_other_extension", fixture: "extensions", path: "/baz.txt", want: "%value.txt"},
		{aspen: "test_virtual_file_with_no_extension_works", fixture: "noext", path: "/baz.txt", want: "%value", vars: map[string]any{"value": "baz.txt"}},
		{aspen: "test_normal_file_with_no_extension_works", fixture: "noextnormal", path: "/baz.txt", want: "%value"},
		{aspen: "test_file_with_no_extension_matches", fixture: "noextnormal", path: "/baz", want: "%value", vars: map[string]any{"value": "baz"}},
	}
	for _, tt := range tests {
		t.Run(tt.aspen, func(t *testing.T) {
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			fsys := os.DirFS(filepath.Join("testdata", "aspen", "gauntlet", tt.fixture))
			res, err := dispatch(fsys, tt.path)
			var redir *redirectError
			switch {
			case tt.notFound:
				if !errors.Is(err, errNotFound) {
					t.Fatalf("dispatch(%q) = %+v, %v; want not found", tt.path, res, err)
				}
			case tt.redirect != "":
				if !errors.As(err, &redir) || redir.Location != tt.redirect {
					t.Fatalf("dispatch(%q) = %+v, %v; want a redirect to %s", tt.path, res, err, tt.redirect)
				}
			default:
				if err != nil {
					t.Fatalf("dispatch(%q): %v", tt.path, err)
				}
				if res.Path != tt.want {
					t.Errorf("dispatch(%q) = %s, want %s", tt.path, res.Path, tt.want)
				}
				if tt.vars != nil {
					if diff := cmp.Diff(tt.vars, res.Vars); diff != "" {
						t.Errorf("vars (-want +got):\n%s", diff)
					}
				}
			}
		})
	}
}

// TestAspenGauntletDocs ports the "Docs" tests of test_gauntlet.py: the
// virtual path examples of Aspen's documentation, served.
func TestAspenGauntletDocs(t *testing.T) {
	tests := []struct {
		aspen, fixture, path string
		code                 int
		body                 string
		skip                 string
	}{
		{aspen: "test_virtual_path_docs_1", fixture: "docs", path: "/aspen/", code: 200, body: "Greetings, aspen!"},
		{aspen: "test_virtual_path_docs_2", fixture: "docs", path: "/python/", code: 200, body: "Greetings, python!"},
		{aspen: "test_virtual_path_docs_3", fixture: "docs", path: "/chad/cheddar.txt", code: 200, body: "Chad likes cheddar cheese."},
		{aspen: "test_virtual_path_docs_4", fixture: "docs", path: "/chad/cheddar.txt/", code: 404},
		{aspen: "test_virtual_path_docs_5", fixture: "docs5", path: "/1999/", code: 200, body: "Greetings, 1999!",
			skip: "a typed virtual directory (%year.int) is tried before a plain one (%name): in byte order %name would take every segment and %year.int could never match"},
		{aspen: "test_virtual_path_docs_5 (aspengo)", fixture: "docs5", path: "/1999/", code: 200, body: "Tonight we're going to party like it's 1999!"},
		{aspen: "test_virtual_path_docs_5 (aspengo, not an int)", fixture: "docs5", path: "/aspen/", code: 200, body: "Greetings, aspen!"},
		{aspen: "test_virtual_path_docs_6", fixture: "docs6", path: "/1999/", code: 200, body: "Tonight we're going to party like it's 1999!"},
	}
	for _, tt := range tests {
		t.Run(tt.aspen, func(t *testing.T) {
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			code, body := aspenGet(t, filepath.Join("testdata", "aspen", "gauntlet", tt.fixture), tt.path)
			if code != tt.code || (tt.body != "" && body != tt.body) {
				t.Errorf("GET %s = %d %q, want %d %q", tt.path, code, body, tt.code, tt.body)
			}
		})
	}
}

// aspenGet serves the site at root and GETs path from it.
func aspenGet(t *testing.T, root, path string) (int, string) {
	t.Helper()
	resp := aspenDo(t, root, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// aspenDo serves the site at root (with no registry) and answers req.
func aspenDo(t *testing.T, root string, req *http.Request) *http.Response {
	t.Helper()
	w := startWebsite(t, Config{Root: root})
	rec := httptest.NewRecorder()
	w.ServeHTTP(rec, req)
	return rec.Result()
}
