package config

import (
	"strconv"
	"strings"
)

// Error is one problem in a config file, located at the key or value at
// fault. Parse and Load return every problem they find, each as an *Error
// (several are joined with errors.Join; errors.As finds the first).
type Error struct {
	File   string
	Line   int // 1-based; 0 when the YAML parser did not say
	Column int // 1-based; 0 when unknown
	// Path is the key's place in the file, as streams[0].destination.buffering;
	// empty for the document itself.
	Path    string
	Message string
	// Err is the underlying error, when there is one: the *delivery.FieldError
	// a stream failed validation with.
	Err error
}

// Error formats e as file:line:col: path: message, leaving out what is unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Column))
		}
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }
