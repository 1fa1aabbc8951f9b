package aspengo

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"go.starlark.net/starlark"
)

// hooks.conf
//
// The file format is Aspen's (0.14/0.15, aspen.configuration.hooks):
//
//   - The file holds up to six sections, in the order of the phases:
//     startup, inbound_early, inbound_late, outbound_early, outbound_late,
//     shutdown. Sections are separated by a page break: a form-feed
//     character or the two characters "^L". Fewer than six sections is
//     fine; the missing ones are empty.
//   - As in Aspen, a page break is found before comments are stripped: it
//     ends the section wherever it stands, even inside a comment, and the
//     text after it on the same line belongs to the next section and is not
//     part of the comment ("# startup ^L a:b" lists a:b in inbound_early).
//     Likewise "a:b ^L c:d" lists a:b in one section and c:d, with the same
//     line number, in the next.
//   - "#" starts a comment that runs to the end of the line (or to a page
//     break). Surrounding whitespace is ignored, and so are lines left blank.
//   - Each remaining piece of text names one hook as module:function, where
//     module is one or more identifiers joined by dots and function is one
//     identifier (ASCII letters, digits and "_", not starting with a digit,
//     as in Aspen's colon notation).
//   - A page break after the sixth section ends the file. Aspen ignored
//     whatever followed it; aspengo accepts only blank lines, comments and
//     further page breaks there and refuses anything else as "more than six
//     sections".
//   - Lines end in "\n" or "\r\n"; a UTF-8 byte order mark at the start of
//     the file is ignored. A lone "\r" does not end a line.
//
// Where Aspen failed silently or at the first problem, aspengo reports every
// error of the file, each as "file:line: reason", in line order.

// pageBreakCaret is the two-character spelling of a page break.
const pageBreakCaret = "^L"

// utf8BOM is the byte order mark some editors put at the start of a file.
const utf8BOM = "\ufeff"

// hookEntry is one hook line of hooks.conf.
type hookEntry struct {
	Phase    Phase
	Module   string // "trembling.session", "database"
	Function string // "inbound", "startup"
	Line     int    // 1-based line in the file
	Builtin  *Hook  // set by resolve for a hook registered in Go; nil for a Starlark hook
}

// Name returns the hook's name as written in hooks.conf, "module:function".
func (e hookEntry) Name() string { return e.Module + ":" + e.Function }

// confError is one error of a hooks.conf file, reported as
// "file:line: msg" or, when it wraps an error, "file:line: msg: err".
type confError struct {
	file string
	line int
	msg  string
	err  error // the cause, when another component reported it
}

func (e *confError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg)
	}
	return fmt.Sprintf("%s:%d: %s: %v", e.file, e.line, e.msg, e.err)
}

func (e *confError) Unwrap() error { return e.err }

// joinConfErrors sorts errs by line (keeping the order of errors on one
// line) and joins them, one per line of the message; nil when errs is empty.
func joinConfErrors(errs []*confError) error {
	if len(errs) == 0 {
		return nil
	}
	slices.SortStableFunc(errs, func(a, b *confError) int { return cmp.Compare(a.line, b.line) })
	es := make([]error, len(errs))
	for i, e := range errs {
		es[i] = e
	}
	return errors.Join(es...)
}

// parseHooksConf splits src, the content of the hooks.conf file filename,
// into hook entries by phase. It checks syntax only: that every hook is
// written module:function and that there are at most six sections. Whether
// the hooks exist is for [Registry.resolve]. All syntax errors are reported
// together, one per line of the error's message; on error the result is
// empty.
func parseHooksConf(filename string, src []byte) ([numPhases][]hookEntry, error) {
	phases, errs := parseHooks(filename, src)
	if len(errs) > 0 {
		return [numPhases][]hookEntry{}, joinConfErrors(errs)
	}
	return phases, nil
}

// parseHooks is parseHooksConf returning the entries of the valid lines
// even when others have errors, so that resolve can check those too.
func parseHooks(filename string, src []byte) ([numPhases][]hookEntry, []*confError) {
	var (
		phases  [numPhases][]hookEntry
		errs    []*confError
		section = Startup // numPhases once the sixth section has ended
	)
	text := strings.TrimPrefix(string(src), utf8BOM)
	lineno := 0
	for line := range strings.SplitSeq(text, "\n") {
		lineno++
		line = strings.ReplaceAll(line, pageBreakCaret, "\f")
		for i, piece := range strings.Split(line, "\f") {
			if i > 0 {
				// A page break ended the previous section.
				if section < numPhases {
					section++
				}
			}
			piece, _, _ = strings.Cut(piece, "#")
			piece = strings.TrimSpace(piece)
			if piece == "" {
				continue
			}
			if section == numPhases {
				// Aspen stopped reading here; refuse rather than ignore
				// hooks that would never run. Once is enough.
				errs = append(errs, &confError{file: filename, line: lineno,
					msg: fmt.Sprintf("more than six sections (%q follows the page break that ends shutdown)", piece)})
				return phases, errs
			}
			module, function, err := splitHookName(piece)
			if err != "" {
				errs = append(errs, &confError{file: filename, line: lineno, msg: err})
				continue
			}
			phases[section] = append(phases[section], hookEntry{
				Phase: section, Module: module, Function: function, Line: lineno,
			})
		}
	}
	return phases, errs
}

// splitHookName splits name, a trimmed piece of hooks.conf, into module and
// function, or returns why it is not module:function.
func splitHookName(name string) (module, function, problem string) {
	bad := func(why string) (string, string, string) {
		return "", "", fmt.Sprintf("%q is not module:function (%s)", name, why)
	}
	switch strings.Count(name, ":") {
	case 0:
		return bad("no colon")
	case 1:
	default:
		return bad("more than one colon")
	}
	if strings.IndexFunc(name, unicode.IsSpace) >= 0 {
		return bad("whitespace inside")
	}
	module, function, _ = strings.Cut(name, ":")
	switch {
	case module == "":
		return bad("empty module")
	case function == "":
		return bad("empty function")
	}
	for part := range strings.SplitSeq(module, ".") {
		if !isIdentifier(part) {
			return bad(fmt.Sprintf("bad module name %q", module))
		}
	}
	if !isIdentifier(function) {
		return bad(fmt.Sprintf("bad function name %q", function))
	}
	return module, function, ""
}

// isIdentifier reports whether s is an ASCII identifier: letters, digits
// and underscores, not starting with a digit.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// hookModules finds hooks written in Starlark: the function function of the
// module www/.aspen/<module>.star. The website implements it with its
// Starlark module loader.
type hookModules interface {
	// hookFunc returns the function, or an error that explains what is
	// wrong: no such file, no such function, not callable, or why the
	// module failed to load. The error need not name the hook; resolve
	// reports it as "file:line: module:function: <error>".
	hookFunc(module, function string) (starlark.Callable, error)
}

// resolve checks every entry of phases, as parsed from the hooks.conf file
// filename, against the built-in hooks of r and the Starlark hooks of mods,
// and returns the entries with Builtin set for the built-in ones.
//
// A hook is taken to be built-in when it is registered, when its module is
// dotted (a Starlark hook's module is a single file name) or when its module
// is that of a registered hook; such a hook that is not registered is an
// unknown hook. Any other hook is a Starlark hook and must be a function of
// its module in mods; it may run in any phase. resolve refuses:
//   - an unknown built-in hook (with a "did you mean" or the registered hooks);
//   - a Starlark hook that mods cannot find (with the reason mods gives);
//   - a built-in hook in a phase it cannot serve (Hook.serves);
//   - a built-in hook listed before a hook named in its [Hook.After]: the
//     other hook must be listed in an earlier section or earlier in the
//     same section;
//   - a built-in hook listed without a hook named in its [Hook.After] or
//     [Hook.Requires] (a session loaded and never saved);
//   - a hook listed twice in one section (listing one hook in two sections
//     is allowed).
//
// resolve only checks that a Starlark function exists; the website looks it
// up again when it runs, so that edits to the .star file take effect. All
// errors are reported together, one per line of the error's message, in line
// order; on error the result is empty.
func (r *Registry) resolve(filename string, phases [numPhases][]hookEntry, mods hookModules) ([numPhases][]hookEntry, error) {
	out, errs := r.resolveHooks(filename, phases, mods)
	if len(errs) > 0 {
		return [numPhases][]hookEntry{}, joinConfErrors(errs)
	}
	return out, nil
}

// resolveHooks is resolve returning its errors unsorted and unjoined, and
// the entries without errors even when others have errors.
func (r *Registry) resolveHooks(filename string, phases [numPhases][]hookEntry, mods hookModules) ([numPhases][]hookEntry, []*confError) {
	var (
		out  [numPhases][]hookEntry
		errs []*confError
		// listed holds every hook listed so far, for Hook.After.
		listed = map[string]bool{}
		// anywhere holds every hook listed in any section, for
		// Hook.Requires.
		anywhere = map[string]bool{}
	)
	for _, es := range phases {
		for _, e := range es {
			anywhere[e.Name()] = true
		}
	}
	builtinModules := map[string]bool{}
	for _, name := range r.registeredHooks() {
		if module, _, ok := strings.Cut(name, ":"); ok {
			builtinModules[module] = true
		}
	}
	fail := func(e hookEntry, msg string, err error) {
		errs = append(errs, &confError{file: filename, line: e.Line, msg: msg, err: err})
	}
	for p := Startup; p < numPhases; p++ {
		firstLine := map[string]int{} // hooks of this section, by name
		for _, e := range phases[p] {
			name := e.Name()
			e.Phase = p
			e.Builtin = nil
			if first, dup := firstLine[name]; dup {
				fail(e, fmt.Sprintf("%s is listed twice in %s (first on line %d)", name, p, first), nil)
				continue
			}
			firstLine[name] = e.Line

			h, ok := r.lookup(name)
			switch {
			case ok:
				e.Builtin = h
			case strings.Contains(e.Module, ".") || builtinModules[e.Module]:
				fail(e, r.unknownHook(e), nil)
				continue
			case mods == nil:
				fail(e, fmt.Sprintf("unknown hook %q (it is not registered and there are no Starlark hook modules)", name), nil)
				continue
			default:
				fn, err := mods.hookFunc(e.Module, e.Function)
				if err == nil && fn == nil {
					err = errors.New("no function")
				}
				if err != nil {
					fail(e, name, err)
					continue
				}
			}

			ok = true
			if h != nil {
				if !h.serves(p) {
					fail(e, fmt.Sprintf("%s cannot run in %s (it serves %s)", name, p, phaseList(h.phases())), nil)
					ok = false
				}
				for _, before := range h.After {
					switch {
					case !anywhere[before]:
						fail(e, r.missingHook(name, before, true), nil)
						ok = false
					case !listed[before]:
						fail(e, fmt.Sprintf("%s must come after %s", name, before), nil)
						ok = false
					}
				}
				for _, other := range h.Requires {
					if !anywhere[other] {
						fail(e, r.missingHook(name, other, false), nil)
						ok = false
					}
				}
			}
			// Listed even when misplaced, so that one mistake is
			// reported once and not again by every hook after it.
			listed[name] = true
			if ok {
				out[p] = append(out[p], e)
			}
		}
	}
	return out, errs
}

// missingHook explains that hook needs other, which hooks.conf does not
// list, and where other goes.
func (r *Registry) missingHook(hook, other string, before bool) string {
	where := ""
	if h, ok := r.lookup(other); ok {
		where = " in " + strings.ReplaceAll(phaseList(h.phases()), ", ", " or ")
	}
	if before {
		return fmt.Sprintf("%s must come after %s, which hooks.conf does not list: add it%s, before this line", hook, other, where)
	}
	return fmt.Sprintf("%s needs %s, which hooks.conf does not list: add it%s", hook, other, where)
}

// unknownHook explains that e is not a registered hook, suggesting the
// nearest registered name or listing the registered hooks.
func (r *Registry) unknownHook(e hookEntry) string {
	name := e.Name()
	names := r.registeredHooks()
	if len(names) == 0 {
		return fmt.Sprintf("unknown hook %q (no built-in hooks are registered)", name)
	}
	// A typo costs one edit per four characters, up to three.
	best, bestDist := "", min(maxSuggestDistance, max(1, len(name)/4))+1
	for _, n := range names {
		if d := editDistance(name, n); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown hook %q (did you mean %q?)", name, best)
	}
	// Prefer the hooks of the same module, when there are any.
	var same []string
	for _, n := range names {
		if module, _, _ := strings.Cut(n, ":"); module == e.Module {
			same = append(same, n)
		}
	}
	if len(same) > 0 {
		names = same
	}
	return fmt.Sprintf("unknown hook %q (registered: %s)", name, strings.Join(names, ", "))
}

// registeredHooks is hookNames, and nil for a nil registry.
func (r *Registry) registeredHooks() []string {
	if r == nil {
		return nil
	}
	return r.hookNames()
}

// maxSuggestDistance is the largest edit distance at which an unknown hook
// name is taken for a typo of a registered one.
const maxSuggestDistance = 3

// editDistance returns the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// phaseList formats ps for error messages: "outbound_early, outbound_late".
func phaseList(ps []Phase) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.String()
	}
	return strings.Join(names, ", ")
}

// loadHooksConf reads, parses and resolves the hooks.conf file filename. A
// missing file means no hooks (empty result, nil error) when mustExist is
// false, as for www/.aspen/hooks.conf; it is an error when mustExist is
// true, as for a file named with --hooks. Syntax errors and resolve errors
// are reported together, one per line of the error's message, in line
// order; on error the result is empty.
func loadHooksConf(filename string, mustExist bool, r *Registry, mods hookModules) ([numPhases][]hookEntry, error) {
	var none [numPhases][]hookEntry
	src, err := os.ReadFile(filename)
	if err != nil {
		if !mustExist && errors.Is(err, fs.ErrNotExist) {
			return none, nil
		}
		return none, fmt.Errorf("hooks.conf: %w", err)
	}
	phases, errs := parseHooks(filename, src)
	phases, rerrs := r.resolveHooks(filename, phases, mods)
	errs = append(errs, rerrs...)
	if len(errs) > 0 {
		return none, joinConfErrors(errs)
	}
	return phases, nil
}

// hooksConfPath returns the hooks.conf file of cfg and whether it must
// exist: the one named by cfg.HooksFile, else Root/.aspen/hooks.conf,
// which may be absent.
func hooksConfPath(cfg Config) (string, bool) {
	if cfg.HooksFile != "" {
		return cfg.HooksFile, true
	}
	return filepath.Join(cfg.Root, ".aspen", "hooks.conf"), false
}
