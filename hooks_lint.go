package aspengo

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"unicode"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/aspengo/aspengo/simplate"
)

// lintHooksConf reports what parses but is likely a mistake: a comment
// that names a phase ("# Outbound Late Hooks") heading a different
// section, which is what a missing or extra page break looks like, and a
// page break inside a comment, which ends the section all the same. The
// hooks below either run in a phase other than the one the author meant,
// silently.
func lintHooksConf(filename string, src []byte) []*confError {
	var errs []*confError
	section := Startup
	text := strings.TrimPrefix(string(src), utf8BOM)
	lineno := 0
	for line := range strings.SplitSeq(text, "\n") {
		lineno++
		line = strings.ReplaceAll(line, pageBreakCaret, "\f")
		if c := strings.IndexByte(line, '#'); c >= 0 && strings.IndexByte(line[c:], '\f') > 0 && section < numPhases {
			errs = append(errs, &confError{file: filename, line: lineno,
				msg: "a page break inside a comment still ends the section; put it on a line of its own"})
		}
		for i, piece := range strings.Split(line, "\f") {
			if i > 0 && section < numPhases {
				section++
			}
			piece = strings.TrimSpace(piece)
			if section == numPhases || !strings.HasPrefix(piece, "#") {
				continue
			}
			named, ok := phaseInComment(piece)
			if ok && named != section {
				errs = append(errs, &confError{file: filename, line: lineno, msg: fmt.Sprintf(
					"comment %q heads section %d (%s), not %s: a page break is missing or extra above it",
					strings.TrimRight(piece, "\r"), int(section)+1, section, named)})
			}
		}
	}
	return errs
}

// phaseInComment returns the phase a comment names when the comment is
// only a phase's name, in any case, with "_", "-" or spaces between the
// words and an optional "hook" or "hooks" after: "# Inbound Early Hooks",
// "# outbound_late".
func phaseInComment(comment string) (Phase, bool) {
	words := strings.FieldsFunc(strings.ToLower(strings.TrimLeft(comment, "#")), func(r rune) bool {
		return r == '_' || r == '-' || r == ':' || unicode.IsSpace(r)
	})
	if n := len(words); n > 0 && (words[n-1] == "hooks" || words[n-1] == "hook") {
		words = words[:n-1]
	}
	name := strings.Join(words, "_")
	for p := Startup; p < numPhases; p++ {
		if name == p.String() {
			return p, true
		}
	}
	return 0, false
}

// lint reports what [Check] finds beyond hooks.conf errors and compile
// errors: the mistakes that would run silently (see lintHooksConf and
// checkBuiltinNeeds). hooksFile is the site's hooks.conf; rootName the
// root as messages show it.
func (w *Website) lint(hooksFile, rootName string) []error {
	src, err := os.ReadFile(hooksFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil // New reports it
	}
	var errs []error
	for _, e := range lintHooksConf(hooksFile, src) {
		errs = append(errs, e)
	}
	phases, _ := parseHooks(hooksFile, src)
	listed := map[string]bool{}
	for _, es := range phases {
		for _, e := range es {
			listed[e.Name()] = true
		}
	}
	return append(errs, w.checkBuiltinNeeds(listed, rootName)...)
}

// checkBuiltinNeeds reports every use, in a simplate under the root, of a
// builtin that needs hooks (see [Registry.BuiltinNeeds]) that hooks.conf
// does not list. listed holds the hooks hooks.conf lists.
// rootName is the root as messages show it.
func (w *Website) checkBuiltinNeeds(listed map[string]bool, rootName string) []error {
	if len(w.registry.needs) == 0 {
		return nil
	}
	var errs []error
	report := func(file string, u simplate.Use) {
		var missing []string
		for _, h := range w.registry.needs[u.Name] {
			if !listed[h] {
				missing = append(missing, h)
			}
		}
		if len(missing) > 0 {
			errs = append(errs, fmt.Errorf("%s:%d: %s needs %s in hooks.conf, which does not list %s",
				path.Join(rootName, file), u.Line, u.Name, strings.Join(w.registry.needs[u.Name], ", "), strings.Join(missing, ", ")))
		}
	}
	// The .star modules of .aspen, which pages and hooks load.
	if ents, err := fs.ReadDir(w.fsys, ".aspen"); err == nil {
		for _, d := range ents {
			if d.IsDir() || !strings.HasSuffix(d.Name(), ".star") {
				continue
			}
			name := ".aspen/" + d.Name()
			src, err := fs.ReadFile(w.fsys, name)
			if err != nil {
				continue
			}
			for _, u := range w.moduleUses(name, src) {
				report(name, u)
			}
		}
	}
	w.loader.Walk(func(p string, s *simplate.Simplate, err error) {
		if err != nil {
			return // CheckAll reports it
		}
		for _, u := range s.Uses() {
			report(p, u)
		}
	})
	return errs
}

// moduleUses returns the builtins with declared needs that the Starlark
// module src refers to, each with the line of its first use; nil when the
// module does not compile (CheckAll reports that).
func (w *Website) moduleUses(name string, src []byte) []simplate.Use {
	opts := &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true}
	f, err := opts.Parse(name, src, 0)
	if err != nil {
		return nil
	}
	isPredeclared := func(n string) bool { _, ok := w.registry.builtins[n]; return ok || n == "abort" }
	if err := resolve.File(f, isPredeclared, starlark.Universe.Has); err != nil {
		return nil
	}
	var uses []simplate.Use
	seen := map[string]bool{}
	syntax.Walk(f, func(n syntax.Node) bool {
		if id, ok := n.(*syntax.Ident); ok && !seen[id.Name] && len(w.registry.needs[id.Name]) > 0 {
			if b, ok := id.Binding.(*resolve.Binding); ok && b.Scope == resolve.Predeclared {
				seen[id.Name] = true
				uses = append(uses, simplate.Use{Name: id.Name, Line: int(id.NamePos.Line)})
			}
		}
		return true
	})
	return uses
}
