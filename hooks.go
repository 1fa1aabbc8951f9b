package aspengo

import (
	"context"
	"fmt"
	"sort"

	"go.starlark.net/starlark"
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
