package simplate

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"path"
	"strings"
)

// page is one page of a simplate file.
type page struct {
	text   string // the page's content, without its page break
	line   int    // line of the file on which text starts (1-based)
	offset int    // byte offset of text in the file
	brk    int    // line of the page break that starts the page; 0 for the first page
}

// splitPages splits src, a simplate with "\n" line endings, into pages.
// A page break is
//   - a form feed, anywhere in a line; when only blanks follow it on its
//     line, the next page starts on the next line, else right after it;
//   - a line that holds only the two characters ^L (blanks around them
//     are allowed);
//   - a line that starts with [---] (three or more dashes); the rest of
//     the line is ignored.
//
// Line-based breaks are not part of either page: the page before ends
// with the previous line's newline and the next one starts on the line
// after the break.
func splitPages(src string) []page {
	pages := make([]page, 0, 3)
	start, startLine, brk := 0, 1, 0
	cut := func(end, next, nextLine, brkLine int) {
		pages = append(pages, page{text: src[start:end], line: startLine, offset: start, brk: brk})
		start, startLine, brk = next, nextLine, brkLine
	}
	line := 1
	for i := 0; i < len(src); line++ {
		j := strings.IndexByte(src[i:], '\n')
		// end of the line's content, start and number of the next line
		end, next, nextLine := len(src), len(src), line
		if j >= 0 {
			end, next, nextLine = i+j, i+j+1, line+1
		}
		text := src[i:end]
		switch {
		case isCaretLine(text), isDashLine(text):
			cut(i, next, nextLine, line)
		default:
			for k := i; k < end; {
				f := strings.IndexByte(src[k:end], '\f')
				if f < 0 {
					break
				}
				f += k
				if isBlank(src[f+1 : end]) {
					cut(f, next, nextLine, line)
					break
				}
				cut(f, f+1, line, line)
				k = f + 1
			}
		}
		i = next
	}
	pages = append(pages, page{text: src[start:], line: startLine, offset: start, brk: brk})
	return pages
}

// isBlank reports whether s holds only spaces, tabs and carriage returns.
func isBlank(s string) bool {
	return strings.Trim(s, " \t\r") == ""
}

// isCaretLine reports whether line is a ^L page break.
func isCaretLine(line string) bool {
	return strings.Trim(line, " \t\r") == "^L"
}

// isDashLine reports whether line starts with [---], [----] ...
func isDashLine(line string) bool {
	if !strings.HasPrefix(line, "[---") {
		return false
	}
	rest := strings.TrimLeft(line[1:], "-")
	return strings.HasPrefix(rest, "]")
}

// hasPageBreak reports whether r holds a page break, reading it line by
// line so that a large static file is never held in memory.
func hasPageBreak(r io.Reader) (bool, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	lineStart := true
	for {
		chunk, err := br.ReadSlice('\n')
		if bytes.IndexByte(chunk, '\f') >= 0 {
			return true, nil
		}
		if lineStart {
			text := strings.TrimSuffix(string(chunk), "\n")
			if isCaretLine(text) || isDashLine(text) {
				return true, nil
			}
		}
		switch err {
		case nil:
			lineStart = true
		case bufio.ErrBufferFull:
			lineStart = false // the rest of a long line follows
		case io.EOF:
			return false, nil
		default:
			return false, err
		}
	}
}

// kind describes how a file is served, from its name.
type kind struct {
	contentType string // full Content-Type, with charset for text/*
	spt         bool   // name ends in .spt
	text        bool   // a text type: a page break makes it a simplate
	json        bool   // a JSON simplate
	html        bool   // rendered with html/template
}

// kindOf derives the kind of the file name from its served name (the
// name without .spt): foo.html.spt → text/html, foo.spt → text/plain,
// foo.json(.spt) → application/json, else by mime.TypeByExtension.
func kindOf(name string) kind {
	var k kind
	served := path.Base(name)
	if s, ok := strings.CutSuffix(served, ".spt"); ok {
		k.spt = true
		served = s
	}
	ext := path.Ext(served)
	ct := ""
	switch {
	case k.spt && ext == "":
		ct = "text/plain"
	case ext != "":
		ct = mime.TypeByExtension(ext)
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		mt, params = "application/octet-stream", nil
	}
	k.json = mt == "application/json" || strings.HasSuffix(mt, "+json")
	k.text = strings.HasPrefix(mt, "text/") || k.json
	// Markup gets html/template's escaping: HTML, and XML of every kind,
	// since an SVG (image/svg+xml) or XML page can run script as well.
	k.html = mt == "text/html" || mt == "text/xml" || mt == "application/xml" || strings.HasSuffix(mt, "+xml")
	if strings.HasPrefix(mt, "text/") {
		if params == nil {
			params = map[string]string{}
		}
		if _, ok := params["charset"]; !ok {
			params["charset"] = "utf-8"
		}
	}
	k.contentType = mime.FormatMediaType(mt, params)
	return k
}

// layout is a simplate's pages by role; absent pages are nil.
type layout struct {
	once     *page // Starlark run once, when the file is compiled
	request  *page // Starlark run per request
	template *page // the template; nil for a JSON simplate
	npages   int
}

// arrange assigns the pages of the simplate file (shown as name in
// errors) to their roles:
//
//	template simplates: 1 page (.spt only): template; 2: per-request ·
//	template; 3: once · per-request · template.
//	JSON simplates: 1: per-request; 2: once · per-request.
func arrange(name string, k kind, pages []page) (layout, error) {
	n := len(pages)
	l := layout{npages: n}
	max, what := 3, "a simplate has at most 3 pages (Starlark run once, Starlark run per request, template)"
	if k.json {
		max, what = 2, "a JSON simplate has at most 2 pages (Starlark run once, Starlark run per request) and no template"
	}
	if n > max {
		p := pages[max]
		return l, &Error{File: name, Line: p.brk, Msg: fmt.Sprintf("page %d: too many pages: %s", max+1, what)}
	}
	if k.json {
		l.request = &pages[n-1]
		if n == 2 {
			l.once = &pages[0]
		}
		return l, nil
	}
	l.template = &pages[n-1]
	if n >= 2 {
		l.request = &pages[n-2]
	}
	if n == 3 {
		l.once = &pages[0]
	}
	return l, nil
}
