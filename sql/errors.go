package sql

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Error is a problem in an application's SQL, positioned at the offending text.
// Line and Column are 1-based; Column counts characters, not bytes.
type Error struct {
	Line    int
	Column  int
	Near    string // the offending text, at most one line
	Message string

	offset int // byte offset in the source, for sorting
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message)
}

// ErrorList is every error found in one application, in source order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	msgs := make([]string, len(l))
	for i, e := range l {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// source is an application's text with the helpers that turn byte offsets into
// positions.
type source struct {
	text string
	errs ErrorList
}

// errorf records an error at byte offset off.
func (s *source) errorf(off int, format string, args ...any) {
	s.errs = append(s.errs, s.newError(off, fmt.Sprintf(format, args...)))
}

func (s *source) newError(off int, msg string) *Error {
	if off < 0 {
		off = 0
	}
	if off > len(s.text) {
		off = len(s.text)
	}
	for off > 0 && off < len(s.text) && !utf8.RuneStart(s.text[off]) {
		off--
	}
	line := 1 + strings.Count(s.text[:off], "\n")
	lineStart := strings.LastIndexByte(s.text[:off], '\n') + 1
	col := 1 + utf8.RuneCountInString(s.text[lineStart:off])
	return &Error{Line: line, Column: col, Near: s.tokenAt(off), Message: msg, offset: off}
}

// tokenAt returns the token starting at off, for Error.Near.
func (s *source) tokenAt(off int) string {
	if off >= len(s.text) {
		return ""
	}
	end := s.tokenEnd(off)
	if end == off {
		end = off + 1
	}
	t := s.text[off:end]
	if i := strings.IndexByte(t, '\n'); i >= 0 {
		t = t[:i]
	}
	if len(t) > 60 {
		t = t[:60]
		for len(t) > 0 && !utf8.ValidString(t) {
			t = t[:len(t)-1]
		}
	}
	return t
}

// sorted returns the errors in source order, or nil if there are none.
func (s *source) sorted() error {
	if len(s.errs) == 0 {
		return nil
	}
	sort.SliceStable(s.errs, func(i, j int) bool { return s.errs[i].offset < s.errs[j].offset })
	return s.errs
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// skipSpace skips white space and comments from off.
func (s *source) skipSpace(off int) int {
	t := s.text
	for off < len(t) {
		switch {
		case t[off] == ' ' || t[off] == '\t' || t[off] == '\n' || t[off] == '\r':
			off++
		case strings.HasPrefix(t[off:], "--") || t[off] == '#':
			i := strings.IndexByte(t[off:], '\n')
			if i < 0 {
				return len(t)
			}
			off += i + 1
		case strings.HasPrefix(t[off:], "/*"):
			i := strings.Index(t[off+2:], "*/")
			if i < 0 {
				return len(t)
			}
			off += i + 4
		default:
			return off
		}
	}
	return off
}

// tokenEnd returns the end of the token starting at off: an identifier, a
// quoted string or name, or a single byte.
func (s *source) tokenEnd(off int) int {
	t := s.text
	if off >= len(t) {
		return off
	}
	switch c := t[off]; {
	case c == '\'' || c == '"' || c == '`':
		for i := off + 1; i < len(t); i++ {
			if t[i] == '\\' && c == '\'' {
				i++
				continue
			}
			if t[i] == c {
				if i+1 < len(t) && t[i+1] == c {
					i++
					continue
				}
				return i + 1
			}
		}
		return len(t)
	case isIdentByte(c):
		i := off
		for i < len(t) && isIdentByte(t[i]) {
			i++
		}
		return i
	default:
		return off + 1
	}
}

// findIdent returns the offset of the first token in [from, to) that is the
// identifier name (bare or quoted, case-insensitive), skipping comments and
// string literals, or -1.
func (s *source) findIdent(from, to int, name string) int {
	if to > len(s.text) {
		to = len(s.text)
	}
	for off := s.skipSpace(from); off < to; off = s.skipSpace(off) {
		end := s.tokenEnd(off)
		tok := s.text[off:end]
		if len(tok) >= 2 && (tok[0] == '"' || tok[0] == '`') {
			tok = tok[1 : len(tok)-1]
		}
		if s.text[off] != '\'' && strings.EqualFold(tok, name) {
			return off
		}
		off = end
	}
	return -1
}

// findIdents finds the identifiers in sequence (a qualified name, or a
// keyword followed by a name) and returns the offset of the last one, or
// fallback if they are not there.
func (s *source) findIdents(from, to, fallback int, names ...string) int {
	off := from
	for _, n := range names {
		i := s.findIdent(off, to, n)
		if i < 0 {
			return fallback
		}
		from, off = i, s.tokenEnd(i)
	}
	return from
}
