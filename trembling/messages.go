package trembling

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo"
	"github.com/aspengo/aspengo/simplate"
)

// Session keys that hold messages.
const (
	// messagesKey holds the waiting messages, as a list of
	// {"text": ..., "level": ...}; request.session does not show it.
	messagesKey = "_messages"
	// seedKey is trembling's single-request message: a page sets
	// request.session["messages"] = "text" and the next request turns it
	// into a message.
	seedKey = "messages"
)

// MaxMessages is how many messages wait at most; adding one more drops
// the oldest.
const MaxMessages = 50

// Message levels, for add_message and [Session.AddMessage].
const (
	LevelDebug   = "debug"
	LevelInfo    = "info"
	LevelSuccess = "success"
	LevelWarning = "warning"
	LevelError   = "error"
)

var levels = []string{LevelDebug, LevelInfo, LevelSuccess, LevelWarning, LevelError}

// Message is a message waiting to be displayed to the visitor.
type Message struct {
	// Text is the message as given; templates escape it.
	Text string
	// Level is one of the Level constants.
	Level string
}

// messageList is request.messages: the messages waiting, oldest first.
type messageList struct {
	list     []entry
	shown    int     // how many of list the page's template was given
	consumed []entry // stored messages removed in this request
}

// entry is a waiting message and its stored form.
type entry struct {
	Message
	raw    any  // as stored: {"id", "text", "level"}, or as another writer stored it
	stored bool // in the store (or pushed to it by this request)
}

func (m *messageList) messages() []Message {
	out := make([]Message, len(m.list))
	for i, e := range m.list {
		out[i] = e.Message
	}
	return out
}

// added returns the messages added in this request and not yet stored.
func (m *messageList) added() []entry {
	var out []entry
	for _, e := range m.list {
		if !e.stored {
			out = append(out, e)
		}
	}
	return out
}

// markStored records that every message in the list is stored.
func (m *messageList) markStored() {
	for i := range m.list {
		m.list[i].stored = true
	}
}

// remove drops list[i:j], remembering the stored ones as consumed.
func (m *messageList) remove(i, j int) {
	for _, e := range m.list[i:j] {
		if e.stored {
			m.consumed = append(m.consumed, e)
		}
	}
	m.list = slices.Delete(m.list, i, j)
}

var (
	_ starlark.Indexable      = (*messageList)(nil)
	_ starlark.Sequence       = (*messageList)(nil)
	_ simplate.TemplateValuer = (*messageList)(nil)
)

func (m *messageList) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, e := range m.list {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(messageValue(e.Message).String())
	}
	b.WriteByte(']')
	return b.String()
}
func (m *messageList) Type() string          { return "messages" }
func (m *messageList) Freeze()               {} // read-only to Starlark
func (m *messageList) Truth() starlark.Bool  { return len(m.list) > 0 }
func (m *messageList) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: messages") }
func (m *messageList) Len() int              { return len(m.list) }
func (m *messageList) Index(i int) starlark.Value {
	return messageValue(m.list[i].Message)
}

func (m *messageList) Iterate() starlark.Iterator {
	return &messageIter{list: m.messages()}
}

// TemplateValue gives templates a list of maps with text and level, and
// records that the page was given these messages.
func (m *messageList) TemplateValue() any {
	m.shown = len(m.list)
	out := make([]any, len(m.list))
	for i, e := range m.list {
		out[i] = map[string]any{"text": e.Text, "level": e.Level}
	}
	return out
}

// add appends a message, dropping the oldest beyond MaxMessages.
func (m *messageList) add(text, level string) error {
	if level == "" {
		level = LevelInfo
	}
	if !slices.Contains(levels, level) {
		return fmt.Errorf("unknown message level %q (want %s)", level, strings.Join(levels, ", "))
	}
	if !utf8.ValidString(text) {
		return fmt.Errorf("message text is not valid UTF-8")
	}
	// A random id keeps two equal messages apart in the store, where a
	// request that displays one removes it by value.
	var id [8]byte
	rand.Read(id[:])
	raw := map[string]any{"id": hex.EncodeToString(id[:]), "text": text, "level": level}
	m.list = append(m.list, entry{Message: Message{Text: text, Level: level}, raw: raw})
	if over := len(m.list) - MaxMessages; over > 0 {
		m.remove(0, over)
		m.shown = max(0, m.shown-over)
	}
	return nil
}

// dropShown removes the messages the page's template was given.
func (m *messageList) dropShown() {
	m.remove(0, min(m.shown, len(m.list)))
	m.shown = 0
}

// parseStored reads the messages kept under messagesKey. Entries that are
// not messages are skipped (and stay stored).
func parseStored(v any) []entry {
	items, _ := v.([]any)
	var out []entry
	for _, it := range items {
		if msg, ok := parseMessage(it); ok {
			out = append(out, entry{Message: msg, raw: it, stored: true})
		}
	}
	return out
}

// appendSeed adds the messages of trembling's "messages" session key: a
// string is one message of level info; a list gives one message per
// string (or {"text": ..., "level": ...}) in it; None gives none; any
// other value gives one message of its text.
func (m *messageList) appendSeed(v any) {
	switch v := v.(type) {
	case nil:
	case []any:
		for _, it := range v {
			if msg, ok := parseMessage(it); ok {
				m.add(msg.Text, msg.Level)
			}
		}
	default:
		if msg, ok := parseMessage(v); ok {
			m.add(msg.Text, msg.Level)
		} else {
			m.add(fmt.Sprint(v), LevelInfo)
		}
	}
}

// parseMessage reads a message from session data: a string (level info)
// or a map with a string "text" and optionally a "level".
func parseMessage(v any) (Message, bool) {
	switch v := v.(type) {
	case string:
		return Message{Text: v, Level: LevelInfo}, true
	case map[string]any:
		text, ok := v["text"].(string)
		if !ok {
			return Message{}, false
		}
		level, _ := v["level"].(string)
		if !slices.Contains(levels, level) {
			level = LevelInfo
		}
		return Message{Text: text, Level: level}, true
	}
	return Message{}, false
}

type messageIter struct {
	list []Message
	i    int
}

func (it *messageIter) Next(p *starlark.Value) bool {
	if it.i >= len(it.list) {
		return false
	}
	*p = messageValue(it.list[it.i])
	it.i++
	return true
}

func (it *messageIter) Done() {}

// messageValue is one message in Starlark: m.text, m.level.
type messageValue Message

var (
	_ starlark.HasAttrs       = messageValue{}
	_ simplate.TemplateValuer = messageValue{}
)

func (m messageValue) String() string        { return fmt.Sprintf("message(%s, %q)", m.Level, m.Text) }
func (m messageValue) Type() string          { return "message" }
func (m messageValue) Freeze()               {}
func (m messageValue) Truth() starlark.Bool  { return starlark.True }
func (m messageValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: message") }
func (m messageValue) AttrNames() []string   { return []string{"level", "text"} }

func (m messageValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "text":
		return starlark.String(m.Text), nil
	case "level":
		return starlark.String(m.Level), nil
	}
	return nil, nil
}

func (m messageValue) TemplateValue() any {
	return map[string]any{"text": m.Text, "level": m.Level}
}

// addMessageFn is the builtin add_message(request, text, level="info").
func addMessageFn(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		req   aspengo.RequestArg
		text  string
		level = LevelInfo
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "request", &req, "text", &text, "level?", &level); err != nil {
		return nil, err
	}
	r := req.Request
	s, err := sessionFor(b, r)
	if err != nil {
		return nil, err
	}
	if err := s.AddMessage(text, level); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.None, nil
}
