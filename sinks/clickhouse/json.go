package clickhouse

import (
	"bytes"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON scanner over a record's bytes. It validates as it goes
// (RFC 8259: no trailing commas, no control characters in strings, the
// number grammar) and hands out the byte spans of values, so that the
// converters read only the fields a column maps, without building a
// map[string]any per record as encoding/json would. FuzzScan checks it
// against encoding/json.

// maxDepth bounds the nesting of arrays and objects in a record.
const maxDepth = 512

// syntaxError is a record that is not valid JSON.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.off, e.msg)
}

func errAt(b []byte, i int, want string) error {
	if i >= len(b) {
		return &syntaxError{i, "unexpected end, want " + want}
	}
	return &syntaxError{i, fmt.Sprintf("unexpected %q, want %s", b[i], want)}
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipValue validates the value starting at b[i] (no space before it)
// and returns the offset just past it.
func skipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return i, errAt(b, i, "a value")
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := scanString(b, i)
		return end, err
	case c == '{':
		return skipObject(b, i, depth+1)
	case c == '[':
		return skipArray(b, i, depth+1)
	case c == '-' || c >= '0' && c <= '9':
		return scanNumber(b, i)
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	}
	return i, errAt(b, i, "a value")
}

func literal(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, &syntaxError{i, "want " + lit}
	}
	return i + len(lit), nil
}

func skipObject(b []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, &syntaxError{i, fmt.Sprintf("nested more than %d deep", maxDepth)}
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, errAt(b, i, "a string key")
		}
		end, _, err := scanString(b, i)
		if err != nil {
			return end, err
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return i, errAt(b, i, "':'")
		}
		i = skipSpace(b, i+1)
		if i, err = skipValue(b, i, depth); err != nil {
			return i, err
		}
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		return i, errAt(b, i, "',' or '}'")
	}
}

func skipArray(b []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, &syntaxError{i, fmt.Sprintf("nested more than %d deep", maxDepth)}
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		if i, err = skipValue(b, i, depth); err != nil {
			return i, err
		}
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		if i < len(b) && b[i] == ']' {
			return i + 1, nil
		}
		return i, errAt(b, i, "',' or ']'")
	}
}

// scanString validates the string whose opening quote is b[i] and returns
// the offset past its closing quote, and whether it holds escapes.
func scanString(b []byte, i int) (end int, escaped bool, err error) {
	i++
	for i < len(b) {
		for i < len(b) && plainString[b[i]] {
			i++
		}
		if i >= len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return i, escaped, &syntaxError{i, "unterminated escape"}
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return i, escaped, &syntaxError{i, "short \\u escape"}
				}
				for _, h := range b[i+2 : i+6] {
					if hexVal(h) < 0 {
						return i, escaped, &syntaxError{i, "invalid \\u escape"}
					}
				}
				i += 6
			default:
				return i, escaped, &syntaxError{i, fmt.Sprintf("invalid escape \\%c", b[i+1])}
			}
		case c < 0x20:
			return i, escaped, &syntaxError{i, "control character in string"}
		default:
			i++
		}
	}
	return i, escaped, &syntaxError{i, "unterminated string"}
}

// plainString marks the bytes a string holds as they are: not a quote,
// a backslash or a control character.
var plainString = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// unquote appends the text of q, a valid quoted JSON string, to dst. Like
// encoding/json, it turns an unpaired surrogate into U+FFFD and keeps
// other bytes as they are, invalid UTF-8 included.
func unquote(dst, q []byte) []byte {
	s := q[1 : len(q)-1]
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := bytes.IndexByte(s[i:], '\\')
			if j < 0 {
				return append(dst, s[i:]...)
			}
			dst = append(dst, s[i:i+j]...)
			i += j
			continue
		}
		switch s[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(s[i+2:]))
			i += 6
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					r2 = rune(hex4(s[i+2:]))
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					i += 6
					r = d
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[i+1])
		}
		i += 2
	}
	return dst
}

func hex4(b []byte) int {
	return hexVal(b[0])<<12 | hexVal(b[1])<<8 | hexVal(b[2])<<4 | hexVal(b[3])
}

// scanNumber validates the number starting at b[i] and returns the offset
// past it.
func scanNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return i, errAt(b, i, "a digit")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return i, errAt(b, i, "a digit after '.'")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return i, errAt(b, i, "a digit in the exponent")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i == start {
		return i, errAt(b, i, "a number")
	}
	return i, nil
}

// elements calls f with each element of arr, a valid JSON array.
func elements(arr []byte, f func(elem []byte) error) error {
	i := skipSpace(arr, 1)
	if arr[i] == ']' {
		return nil
	}
	for {
		end, err := skipValue(arr, i, 0)
		if err != nil {
			return err
		}
		if err := f(arr[i:end]); err != nil {
			return err
		}
		i = skipSpace(arr, end)
		if arr[i] == ']' {
			return nil
		}
		i = skipSpace(arr, i+1) // ','
	}
}
