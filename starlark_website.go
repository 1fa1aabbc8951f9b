package aspengo

import (
	"fmt"
	"sort"
	"sync"

	"go.starlark.net/starlark"

	"github.com/aspengo/aspengo/simplate"
)

// websiteValue is the Starlark `website`: the attributes startup hooks set.
type websiteValue struct {
	w *Website

	mu   sync.Mutex
	tmpl map[string]any // TemplateValue, cached once the website has started
}

var (
	_ starlark.HasSetField    = (*websiteValue)(nil)
	_ simplate.TemplateValuer = (*websiteValue)(nil)
)

// starlarkValue returns the website as Starlark code sees it, `website`. Its
// attributes are those set with SetAttr; Starlark code assigns them
// (website.db = connect("todoy")) in startup hooks only. Call
// w.starlarkValue().Freeze() when startup ends: it freezes the attribute values,
// which every request then shares. Safe for concurrent use.
func (w *Website) starlarkValue() starlark.Value {
	w.mu.RLock()
	sl := w.sl
	w.mu.RUnlock()
	if sl != nil {
		return sl
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sl == nil {
		w.sl = &websiteValue{w: w}
	}
	return w.sl
}

func (wv *websiteValue) String() string        { return "<website>" }
func (wv *websiteValue) Type() string          { return "website" }
func (wv *websiteValue) Truth() starlark.Bool  { return starlark.True }
func (wv *websiteValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: website") }

// Freeze freezes every attribute value set so far.
func (wv *websiteValue) Freeze() {
	wv.w.mu.RLock()
	defer wv.w.mu.RUnlock()
	for _, v := range wv.w.attrs {
		v.Freeze()
	}
}

func (wv *websiteValue) Attr(name string) (starlark.Value, error) {
	if v, ok := wv.w.Attr(name); ok {
		return v, nil
	}
	return nil, starlark.NoSuchAttrError(fmt.Sprintf("website has no .%s attribute (startup hooks set them)", name))
}

func (wv *websiteValue) AttrNames() []string {
	wv.w.mu.RLock()
	defer wv.w.mu.RUnlock()
	names := make([]string, 0, len(wv.w.attrs))
	for name := range wv.w.attrs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// SetField is website.name = v; it fails once startup is over.
func (wv *websiteValue) SetField(name string, v starlark.Value) error {
	return wv.w.SetAttr(name, v)
}

// TemplateValue returns the website attributes converted with
// simplate.ToGo. Once the website has started its attributes no longer
// change, so the map is built once and shared; treat it as read-only.
func (wv *websiteValue) TemplateValue() any {
	wv.w.mu.RLock()
	started := wv.w.started
	wv.w.mu.RUnlock()
	if !started {
		return wv.buildTemplate()
	}
	wv.mu.Lock()
	defer wv.mu.Unlock()
	if wv.tmpl == nil {
		wv.tmpl = wv.buildTemplate()
	}
	return wv.tmpl
}

func (wv *websiteValue) buildTemplate() map[string]any {
	wv.w.mu.RLock()
	defer wv.w.mu.RUnlock()
	m := make(map[string]any, len(wv.w.attrs))
	for name, v := range wv.w.attrs {
		m[name] = simplate.ToGo(v)
	}
	return m
}
