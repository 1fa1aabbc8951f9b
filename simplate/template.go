package simplate

import (
	"errors"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
)

// tplSet is one version of the shared templates, .aspen/*.html, parsed
// into one html/template set under their file names. The set itself is
// never executed: simplates execute clones of it.
type tplSet struct {
	dir   stamp            // of .aspen: a file added or removed changes it
	files map[string]stamp // by file name
	texts map[string]string
	names map[string]string // template name → file as shown in messages
	base  *htmltemplate.Template
	err   error

	mu  sync.Mutex
	own map[string]*htmltemplate.Template // for RenderTemplate, by name

	checked atomic.Uint64 // the checkpoint of the last check
}

// templates returns the current version of the shared templates,
// parsing them again when a file in .aspen was added, removed or changed.
// Additions and removals are seen through the modification time of the
// .aspen directory, as operating-system file systems keep it.
func (l *Loader) templates() *tplSet {
	cp := l.checkpoint()
	l.tplMu.RLock()
	t := l.tpl
	ok := t != nil && (checked(&t.checked, cp) || l.tplFresh(t))
	l.tplMu.RUnlock()
	if ok {
		t.checked.Store(cp)
		return t
	}
	l.tplMu.Lock()
	defer l.tplMu.Unlock()
	if l.tpl != nil && l.tplFresh(l.tpl) {
		l.tpl.checked.Store(cp)
		return l.tpl
	}
	l.tpl = l.parseTemplates()
	l.tpl.checked.Store(cp)
	return l.tpl
}

// tplFresh reports whether t is current.
func (l *Loader) tplFresh(t *tplSet) bool {
	if l.stat(aspenDir) != t.dir {
		return false
	}
	for name, st := range t.files {
		if l.stat(aspenDir+"/"+name) != st {
			return false
		}
	}
	return true
}

// parseTemplates reads and parses .aspen/*.html.
func (l *Loader) parseTemplates() *tplSet {
	t := &tplSet{
		dir:   l.stat(aspenDir),
		files: map[string]stamp{},
		texts: map[string]string{},
		names: map[string]string{},
		base:  htmltemplate.New(aspenDir),
		own:   map[string]*htmltemplate.Template{},
	}
	ents, err := fs.ReadDir(l.fsys, aspenDir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			t.err = err
		}
		return t
	}
	var errs []error
	for _, d := range ents {
		name := d.Name()
		if !strings.HasSuffix(name, ".html") || strings.HasPrefix(name, ".") {
			continue
		}
		file := aspenDir + "/" + name
		st := l.stat(file)
		if !st.exists || !st.mode.IsRegular() {
			continue
		}
		t.files[name] = st
		t.names[name] = l.shown(file)
		src, err := fs.ReadFile(l.fsys, file)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t.texts[name] = string(src)
		if isErrorPage(name) {
			// Error pages are pages, rendered by RenderTemplate on their
			// own: their defines ("title", "content") must not leak into
			// every simplate's set.
			continue
		}
		if _, err := t.base.New(name).Parse(string(src)); err != nil {
			errs = append(errs, templateError(l.shown(file), t.names, err))
		}
	}
	t.err = errors.Join(errs...)
	return t
}

// isErrorPage reports whether name is an error page: error.html or
// <code>.html, such as 404.html.
func isErrorPage(name string) bool {
	stem := strings.TrimSuffix(name, ".html")
	if stem == "error" {
		return true
	}
	if len(stem) != 3 {
		return false
	}
	for _, c := range stem {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// noTemplateError is the error of RenderTemplate for a template that does
// not exist.
type noTemplateError struct{ file string }

func (e *noTemplateError) Error() string        { return e.file + ": no such template" }
func (e *noTemplateError) Is(target error) bool { return target == fs.ErrNotExist }

// IsNoTemplate reports whether err is the error of [Loader.RenderTemplate]
// for a template file that does not exist.
func IsNoTemplate(err error) bool {
	var e *noTemplateError
	return errors.As(err, &e)
}

// RenderTemplate executes the shared template .aspen/<name> (such as
// "404.html") with data, writing to w. The template sees every other
// shared template, as simplates do, and the templates it defines take
// precedence over same-named ones defined elsewhere in .aspen. A missing
// file gives an error for which IsNoTemplate is true (it also matches
// fs.ErrNotExist). On an execution error, part of the output may have
// been written: render into a buffer.
func (l *Loader) RenderTemplate(w io.Writer, name string, data any) error {
	t := l.templates()
	if t.err != nil {
		return t.err
	}
	text, ok := t.texts[name]
	if !ok {
		return &noTemplateError{file: l.shown(aspenDir + "/" + name)}
	}
	t.mu.Lock()
	tm := t.own[name]
	if tm == nil {
		c, err := t.base.Clone()
		if err == nil {
			tm, err = c.New(name).Parse(text)
		}
		if err != nil {
			t.mu.Unlock()
			return templateError(t.names[name], t.names, err)
		}
		t.own[name] = tm
	}
	t.mu.Unlock()
	if err := tm.Execute(w, data); err != nil {
		return templateError(t.names[name], t.names, err)
	}
	return nil
}
