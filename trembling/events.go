package trembling

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	starlarktime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/simplate"
)

// AccountEventAttr is the website attribute a startup hook sets to a
// function of one argument, called with a dict for every account event
// (see [AccountEvent]), so that a site can tell its users, for instance
// by e-mail, that their password changed:
//
//	def on_account_event(event):
//	    print("account event", event["type"], event["username"])
//	website.on_account_event = on_account_event
const AccountEventAttr = "on_account_event"

// Types of account events.
const (
	// EventPasswordChanged: set_password changed a password (the user's
	// own change, or a page of the site's).
	EventPasswordChanged = "password_changed"
	// EventPasswordReset: an operator set a password with aspengo user
	// passwd ("temporary" says whether the user must change it).
	EventPasswordReset = "password_reset"
	// EventDisabled and EventEnabled: an operator disabled or enabled the
	// account with aspengo user disable or enable.
	EventDisabled = "disabled"
	EventEnabled  = "enabled"
	// EventNewDeviceLogin: a login from a browser without a valid device
	// cookie for the account, one that has not logged in as the user
	// before ("client" is its address, "user_agent" its User-Agent).
	EventNewDeviceLogin = "new_device_login"
)

// AccountEvent is what happened to an account. The function of
// website.on_account_event gets it as a dict: "type", "username", "time"
// (a time.time in UTC) and the entries of Details.
type AccountEvent struct {
	Type     string
	Username string
	Time     time.Time
	// Details are further entries of the dict: str, bool or int values.
	Details map[string]any
}

// value returns ev as the dict the function gets.
func (ev AccountEvent) value() *starlark.Dict {
	d := starlark.NewDict(3 + len(ev.Details))
	d.SetKey(starlark.String("type"), starlark.String(ev.Type))
	d.SetKey(starlark.String("username"), starlark.String(ev.Username))
	d.SetKey(starlark.String("time"), starlarktime.Time(ev.Time.UTC()))
	for _, k := range slices.Sorted(maps.Keys(ev.Details)) {
		var v starlark.Value = starlark.None
		switch x := ev.Details[k].(type) {
		case string:
			v = starlark.String(x)
		case bool:
			v = starlark.Bool(x)
		case int:
			v = starlark.MakeInt(x)
		}
		d.SetKey(starlark.String(k), v)
	}
	return d
}

// accountEventFunc returns website.on_account_event of w, nil when it is
// not set, or an error when it is not a function.
func accountEventFunc(w *aspengo.Website) (starlark.Callable, error) {
	v, ok := w.Attr(AccountEventAttr)
	if !ok || v == starlark.None {
		return nil, nil
	}
	fn, ok := v.(starlark.Callable)
	if !ok {
		return nil, fmt.Errorf("trembling: website.%s must be a function of one argument (the event dict), not %s", AccountEventAttr, v.Type())
	}
	return fn, nil
}

// NotifyAccountEvent calls website.on_account_event of the started
// website w with ev, if the site set one; nothing happens otherwise. It
// runs on thread, the request's when the event comes from a page, or on
// a thread of its own when thread is nil (aspengo user), whose print goes
// to log. The event has happened whatever the function does: its error
// is returned for the caller to log, not to undo anything.
func NotifyAccountEvent(thread *starlark.Thread, w *aspengo.Website, log *slog.Logger, ev AccountEvent) error {
	fn, err := accountEventFunc(w)
	if err != nil || fn == nil {
		return err
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	if thread == nil {
		thread = &starlark.Thread{
			Name:  AccountEventAttr,
			Print: func(_ *starlark.Thread, msg string) { log.Info(msg, "hook", AccountEventAttr) },
		}
		thread.SetMaxExecutionSteps(simplate.DefaultMaxSteps)
	}
	if _, err := starlark.Call(thread, fn, starlark.Tuple{ev.value()}, nil); err != nil {
		return fmt.Errorf("website.%s(%s for %q): %w", AccountEventAttr, ev.Type, ev.Username, err)
	}
	return nil
}

// notify is NotifyAccountEvent for a request of a started site: a
// failing function is logged at error level and the request goes on.
func (a *authSite) notify(r *aspengo.Request, ev AccountEvent) {
	if ev.Time.IsZero() {
		ev.Time = a.now()
	}
	if err := NotifyAccountEvent(r.Thread(), r.Website, a.log, ev); err != nil {
		a.log.Error("trembling: account event hook failed", "event", ev.Type, "user", ev.Username, "err", err)
	}
}
