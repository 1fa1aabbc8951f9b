package aspengo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/aspengo/aspengo/simplate"
)

// Phase is one of the six positional sections of hooks.conf.
type Phase int

// The phases, in the order their sections appear in hooks.conf.
const (
	Startup Phase = iota
	InboundEarly
	InboundLate
	OutboundEarly
	OutboundLate
	Shutdown
	numPhases
)

var phaseNames = [...]string{"startup", "inbound_early", "inbound_late", "outbound_early", "outbound_late", "shutdown"}

func (p Phase) String() string {
	if p < 0 || p >= numPhases {
		return fmt.Sprintf("Phase(%d)", int(p))
	}
	return phaseNames[p]
}

// Hook is a built-in hook written in Go. Set the function for each kind of
// phase the hook can serve; hooks.conf refuses to list it anywhere else.
type Hook struct {
	// Startup runs once before the server accepts connections.
	Startup func(ctx context.Context, w *Website) error
	// Inbound runs in inbound_early or inbound_late. Returning a *Response
	// (as from [Request.Redirect] or [Request.Abort]) ends the inbound work
	// and answers with it.
	Inbound func(r *Request) error
	// Outbound runs in outbound_early or outbound_late; r.Response is the
	// response about to be sent.
	Outbound func(r *Request) error
	// Shutdown runs once after the server has drained in-flight requests.
	Shutdown func(ctx context.Context, w *Website) error

	// After names hooks that must be listed earlier in hooks.conf than
	// this one (trembling.auth:inbound needs trembling.session:inbound).
	After []string
	// Requires names hooks that must also be listed in hooks.conf, in any
	// section, for this one to work: the halves of a pair, such as a hook
	// that loads a session and the hook that saves it. Without them the
	// site would run and fail silently, so hooks.conf is refused.
	Requires []string
}

// serves reports whether h can run in phase p.
func (h *Hook) serves(p Phase) bool {
	switch p {
	case Startup:
		return h.Startup != nil
	case InboundEarly, InboundLate:
		return h.Inbound != nil
	case OutboundEarly, OutboundLate:
		return h.Outbound != nil
	case Shutdown:
		return h.Shutdown != nil
	}
	return false
}

// phases lists the phases h serves, for error messages.
func (h *Hook) phases() []Phase {
	var ps []Phase
	for p := Startup; p < numPhases; p++ {
		if h.serves(p) {
			ps = append(ps, p)
		}
	}
	return ps
}

// A Registry holds what Go code contributes to websites: built-in hooks by
// name, Starlark builtins visible to every simplate and hook module, and
// hints for request attributes that only a hook provides. It is the one
// place such state lives; build it before creating a Website and do not
// change it afterwards.
type Registry struct {
	hooks     map[string]*Hook
	builtins  starlark.StringDict
	attrHints map[string]string
	needs     map[string][]string // builtin name → hooks it needs
	onStart   []func(ctx context.Context, w *Website) error
	onStop    []func(ctx context.Context, w *Website) error
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{
		hooks:     map[string]*Hook{},
		builtins:  starlark.StringDict{},
		attrHints: map[string]string{},
		needs:     map[string][]string{},
	}
}

// Hook registers a built-in hook under name, which has the form
// "module:function" as it is written in hooks.conf.
func (r *Registry) Hook(name string, h Hook) error {
	if _, dup := r.hooks[name]; dup {
		return fmt.Errorf("aspengo: hook %q registered twice", name)
	}
	if len(h.phases()) == 0 {
		return fmt.Errorf("aspengo: hook %q serves no phase", name)
	}
	r.hooks[name] = &h
	return nil
}

// Builtin makes v visible under name to every simplate and Starlark hook.
func (r *Registry) Builtin(name string, v starlark.Value) error {
	if _, dup := r.builtins[name]; dup {
		return fmt.Errorf("aspengo: builtin %q registered twice", name)
	}
	v.Freeze()
	r.builtins[name] = v
	return nil
}

// RequestAttr records which hook provides the request attribute name, so
// that Starlark code using it without that hook gets an error that says
// what to add to hooks.conf.
func (r *Registry) RequestAttr(name, hook string) {
	r.attrHints[name] = hook
}

// BuiltinNeeds records that the builtin name works only when every one of
// hooks is listed in hooks.conf (login needs the session and auth hooks).
// aspengo check reports a page that calls it in a site whose hooks.conf
// lacks them; at run time the builtin reports it itself.
func (r *Registry) BuiltinNeeds(name string, hooks ...string) {
	r.needs[name] = append(r.needs[name], hooks...)
}

// OnStart adds fn to the functions run after the startup hooks of
// hooks.conf, in registration order; an extension uses it to read what the
// startup hooks set on the website (website.db, website.login_url).
func (r *Registry) OnStart(fn func(ctx context.Context, w *Website) error) {
	r.onStart = append(r.onStart, fn)
}

// OnShutdown adds fn to the functions run after the shutdown hooks of
// hooks.conf, in reverse registration order; an extension uses it to stop
// what its OnStart function started.
func (r *Registry) OnShutdown(fn func(ctx context.Context, w *Website) error) {
	r.onStop = append(r.onStop, fn)
}

// lookup returns the built-in hook registered as name.
func (r *Registry) lookup(name string) (*Hook, bool) {
	if r == nil {
		return nil, false
	}
	h, ok := r.hooks[name]
	return h, ok
}

// hookNames returns the registered hook names, sorted, for error messages.
func (r *Registry) hookNames() []string {
	names := make([]string, 0, len(r.hooks))
	for n := range r.hooks {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

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
	fs.WalkDir(w.fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		s, err := w.loader.Load(p)
		if err != nil {
			return nil // CheckAll reports it
		}
		for _, u := range s.Uses() {
			report(p, u)
		}
		return nil
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
