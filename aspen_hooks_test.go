package aspengo

// Aspen 0.14.4's tests/test_hooks.py and tests/test_colonize.py, ported:
// hooks.conf files with the same content (testdata/aspen/hooks/conf),
// whose hooks are functions of testdata/aspen/hooks/.aspen/random.star, a
// stand-in for Python's random module.

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// aspenHooksSite is the site whose .aspen holds random.star and
// string.star.
func aspenHooksSite(t *testing.T) *Website {
	t.Helper()
	w, err := New(Config{Root: filepath.Join("testdata", "aspen", "hooks"), HooksFile: os.DevNull, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.osRoot.Close() })
	return w
}

// sectionNames is phases as the names of their hooks, section by section.
func sectionNames(phases [numPhases][]hookEntry) [numPhases][]string {
	var out [numPhases][]string
	for p, es := range phases {
		out[p] = []string{}
		for _, e := range es {
			out[p] = append(out[p], e.Name())
		}
	}
	return out
}

func TestAspenHooksConf(t *testing.T) {
	none := [numPhases][]string{{}, {}, {}, {}, {}, {}}
	tests := []struct {
		aspen   string
		conf    string // under testdata/aspen/hooks/conf; "" for none
		want    [numPhases][]string
		wantErr string // a substring of the error
		skip    string
	}{
		{aspen: "test_no_aspen_directory", want: none},
		{aspen: "test_no_file", want: none},
		{aspen: "test_empty_file", conf: "empty.conf", want: none},
		{aspen: "test_something", conf: "something.conf", want: [numPhases][]string{{"random:choice"}, {}, {}, {}, {}, {}}},
		{aspen: "test_must_be_callable", conf: "callable.conf", wantErr: "callable.conf:1: string:digits: "},
		{aspen: "test_order", conf: "order.conf", want: [numPhases][]string{{"random:choice", "random:seed"}, {}, {}, {}, {}, {}}},
		{aspen: "test_blank_lines_skipped", conf: "blank.conf", want: [numPhases][]string{{"random:choice"}, {}, {}, {}, {}, {}}},
		{aspen: "test_comments_ignored", conf: "comments.conf", want: [numPhases][]string{{"random:choice", "random:sample"}, {}, {}, {}, {}, {}}},
		{aspen: "test_outbound_section", conf: "outbound.conf", want: [numPhases][]string{{}, {"random:choice", "random:sample"}, {"random:randint"}, {}, {}, {}}},
		{aspen: "test_caret_L_converted_to_page_break", conf: "caret.conf", want: [numPhases][]string{{}, {"random:choice", "random:sample"}, {"random:randint"}, {}, {}, {}}},
		{aspen: "test_layering", skip: "aspengo reads one hooks.conf: built-in hooks are registered in Go and listed by name, so there is no file of defaults to layer under the site's, and one file shows every hook that runs"},
		{aspen: "test_layering (first file alone)", conf: "first.conf", want: [numPhases][]string{{}, {"random:choice", "random:sample"}, {"random:randint"}, {}, {}, {}}},
		{aspen: "test_layering (second file alone)", conf: "second.conf", want: [numPhases][]string{{}, {"random:random", "random:gauss"}, {"random:choice", "random:shuffle"}, {}, {}, {}}},
		{aspen: "test_form_feeds_on_same_line", conf: "formfeeds.conf", wantErr: `formfeeds.conf:12: more than six sections ("Ignored!" follows the page break that ends shutdown)`,
			skip: "text after the page break that ends the sixth section is refused, not ignored: a hook written there would never run"},
		{aspen: "test_form_feeds_on_same_line (aspengo)", conf: "formfeeds.conf", wantErr: `formfeeds.conf:12: more than six sections ("Ignored!" follows the page break that ends shutdown)`},
		{aspen: "test_form_feeds_on_same_line (without the ignored text)", conf: "formfeeds-noignored.conf", want: [numPhases][]string{
			{"random:choice", "random:sample"}, {"random:randint"}, {"random:random"}, {"random:choice"}, {"random:gauss"}, {"random:shuffle"}}},
		{aspen: "test_all_six", conf: "allsix.conf", skip: "text after the page break that ends the sixth section is refused, not ignored: a hook written there would never run"},
		{aspen: "test_all_six (aspengo)", conf: "allsix.conf", wantErr: `allsix.conf:14: more than six sections ("Ignored!" follows the page break that ends shutdown)`},
		{aspen: "test_all_six (without the ignored text)", conf: "allsix-noignored.conf", want: [numPhases][]string{
			{"random:choice", "random:sample"}, {"random:randint"}, {"random:random", "random:gauss"}, {"random:choice", "random:shuffle"}, {}, {}}},
		{aspen: "test_equal_sections_dont_screw_up_parsing", conf: "equal.conf", want: [numPhases][]string{{}, {}, {}, {}, {"random:shuffle"}, {}}},
	}
	for _, tt := range tests {
		t.Run(tt.aspen, func(t *testing.T) {
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			w := aspenHooksSite(t)
			file, mustExist := filepath.Join("testdata", "aspen", "hooks", "conf", "nosuch.conf"), false
			if tt.conf != "" {
				file, mustExist = filepath.Join("testdata", "aspen", "hooks", "conf", tt.conf), true
			}
			got, err := loadHooksConf(file, mustExist, w.registry, w)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, sectionNames(got)); diff != "" {
				t.Errorf("sections (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAspenColonize ports test_colonize.py: how module:function names are
// read, and the errors for names that are not one.
func TestAspenColonize(t *testing.T) {
	tests := []struct {
		aspen   string
		name    string
		wantErr string // "" when the hook resolves
		skip    string
	}{
		{aspen: "test_basic", name: "random:choice"},
		{aspen: "test_dotted_name", name: "random.more:choice", wantErr: `unknown hook "random.more:choice"`,
			skip: "a dotted module names a built-in hook registered in Go; Starlark hook modules are single files of .aspen"},
		{aspen: "test_dotted_object", name: "random:SystemRandom.__init__", wantErr: "bad function name",
			skip: "a hook is a top-level function of its module: Starlark has no classes, so there is no attribute path to follow"},
		{aspen: "test_dotted_object (aspengo)", name: "random:SystemRandom.__init__", wantErr: `"random:SystemRandom.__init__" is not module:function (bad function name "SystemRandom.__init__")`},
		{aspen: "test_must_have_colon", name: "foo.bar", wantErr: `"foo.bar" is not module:function (no colon)`},
		{aspen: "test_but_only_one_colon", name: "foo.bar:baz:buz", wantErr: `"foo.bar:baz:buz" is not module:function (more than one colon)`},
		{aspen: "test_module_name", name: "foo.bar; import os; os.remove();:", wantErr: "is not module:function"},
		{aspen: "test_module_not_there", name: "foo:baz", wantErr: "hooks.conf:1: foo:baz: no file .aspen/foo.star"},
		{aspen: "test_object_name", name: "string:baz; import os; os.remove();", wantErr: "is not module:function"},
		{aspen: "test_object_not_there", name: "string:foo", wantErr: "hooks.conf:1: string:foo: no function foo in .aspen/string.star"},
		{aspen: "test_nested_object_not_there", name: "string:digits.duggems", wantErr: `bad function name "digits.duggems"`},
	}
	for _, tt := range tests {
		t.Run(tt.aspen, func(t *testing.T) {
			if tt.skip != "" {
				t.Skip(tt.skip)
			}
			w := aspenHooksSite(t)
			phases, errs := parseHooks("hooks.conf", []byte(tt.name))
			_, rerrs := w.registry.resolveHooks("hooks.conf", phases, w)
			err := joinConfErrors(append(errs, rerrs...))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
