package parquet

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// maxSkipDepth bounds the nesting of JSON values that no column reads (the
// schema bounds the others), so that a hostile record cannot exhaust the
// stack.
const maxSkipDepth = 1000

// scanner reads a JSON text in place, validating it as it goes. It follows
// RFC 8259 and decodes strings exactly as encoding/json does: invalid UTF-8
// and unpaired surrogates become U+FFFD.
type scanner struct {
	data []byte
	pos  int
}

func (s *scanner) reset(data []byte) { s.data, s.pos = data, 0 }

// peek skips white space and returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	for s.pos < len(s.data) {
		switch c := s.data[s.pos]; c {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return c
		}
	}
	return 0
}

// syntaxError reports malformed JSON at the current position.
func (s *scanner) syntaxError() error {
	if s.pos >= len(s.data) {
		return &ConversionError{Message: "record is not valid JSON: unexpected end of input"}
	}
	return &ConversionError{Message: fmt.Sprintf("record is not valid JSON: unexpected character %q at offset %d", s.data[s.pos], s.pos)}
}

// expect consumes the byte c, after white space.
func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		return s.syntaxError()
	}
	s.pos++
	return nil
}

// literal consumes the literal lit (true, false or null) at the current
// position.
func (s *scanner) literal(lit string) error {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		for i := 0; i < len(lit) && s.pos < len(s.data) && s.data[s.pos] == lit[i]; i++ {
			s.pos++ // point the error at the first wrong byte
		}
		return s.syntaxError()
	}
	s.pos += len(lit)
	return nil
}

// boolean consumes true or false, whose first byte is at the current
// position.
func (s *scanner) boolean() (bool, error) {
	if s.data[s.pos] == 't' {
		return true, s.literal("true")
	}
	return false, s.literal("false")
}

// number consumes a JSON number starting at the current position and
// returns its text, and whether it is an integer (no fraction or exponent).
func (s *scanner) number() (num []byte, isInt bool, err error) {
	start := s.pos
	n, isInt := scanNumber(s.data[start:])
	if n <= 0 {
		s.pos = start - n
		return nil, false, s.syntaxError()
	}
	s.pos = start + n
	return s.data[start:s.pos], isInt, nil
}

// scanNumber returns the length of the JSON number at the start of b and
// whether it is an integer; on malformed input it returns the negated
// offset of the offending byte instead (0 for the first).
func scanNumber(b []byte) (n int, isInt bool) {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -i, false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	default:
		return -i, false
	}
	isInt = true
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return -i, false
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -i, false
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	return i, isInt
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// appendString consumes the JSON string at the current position and
// appends its decoded contents to dst.
func (s *scanner) appendString(dst []byte) ([]byte, error) {
	data := s.data
	i := s.pos + 1
	for {
		// A run of bytes that need no decoding: eight at a time while none
		// is a quote, a backslash or a control character, then one by one.
		start, ascii := i, true
		for ; i+8 <= len(data); i += 8 {
			w := binary.LittleEndian.Uint64(data[i:])
			if hasZero(w^(lsb*'"'))|hasZero(w^(lsb*'\\'))|hasLess(w, 0x20) != 0 {
				break
			}
			if w&(lsb*0x80) != 0 {
				ascii = false
			}
		}
		for i < len(data) {
			c := data[i]
			if c == '"' || c == '\\' || c < 0x20 {
				break
			}
			ascii = ascii && c < utf8.RuneSelf
			i++
		}
		if run := data[start:i]; ascii || utf8.Valid(run) {
			dst = append(dst, run...)
		} else {
			dst = appendValidUTF8(dst, run)
		}
		if i >= len(data) {
			s.pos = i
			return dst, s.syntaxError()
		}
		switch c := data[i]; {
		case c == '"':
			s.pos = i + 1
			return dst, nil
		case c < 0x20:
			s.pos = i
			return dst, s.syntaxError()
		}
		// A backslash escape.
		i++
		if i >= len(data) {
			s.pos = i
			return dst, s.syntaxError()
		}
		switch c := data[i]; c {
		case '"', '\\', '/':
			dst = append(dst, c)
			i++
		case 'b':
			dst = append(dst, '\b')
			i++
		case 'f':
			dst = append(dst, '\f')
			i++
		case 'n':
			dst = append(dst, '\n')
			i++
		case 'r':
			dst = append(dst, '\r')
			i++
		case 't':
			dst = append(dst, '\t')
			i++
		case 'u':
			r := hex4(data[i+1:])
			if r < 0 {
				s.pos = i + 1
				return dst, s.syntaxError()
			}
			i += 5
			if utf16.IsSurrogate(r) {
				// As encoding/json: a valid pair is one rune; anything else
				// is U+FFFD, and the next escape is read on its own.
				r2 := rune(-1)
				if i+1 < len(data) && data[i] == '\\' && data[i+1] == 'u' {
					r2 = hex4(data[i+2:])
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			s.pos = i
			return dst, s.syntaxError()
		}
	}
}

// lsb has the low bit of every byte of a word set.
const lsb = 0x0101010101010101

// hasZero is non-zero if a byte of w is zero, and hasLess if a byte of w is
// less than n (n <= 128): the classic bit tricks, exact about whether such a
// byte exists (though not about which).
func hasZero(w uint64) uint64         { return (w - lsb) &^ w & (lsb * 0x80) }
func hasLess(w uint64, n byte) uint64 { return (w - lsb*uint64(n)) &^ w & (lsb * 0x80) }

// hex4 decodes the four hex digits at the start of b, or returns -1.
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendValidUTF8 appends b with each byte of an invalid sequence replaced
// by U+FFFD, as encoding/json does.
func appendValidUTF8(dst, b []byte) []byte {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, b[:n]...)
		}
		b = b[n:]
	}
	return dst
}

// skipString consumes a JSON string without decoding it.
func (s *scanner) skipString() error {
	data := s.data
	i := s.pos + 1
	for i < len(data) {
		for ; i+8 <= len(data); i += 8 {
			w := binary.LittleEndian.Uint64(data[i:])
			if hasZero(w^(lsb*'"'))|hasZero(w^(lsb*'\\'))|hasLess(w, 0x20) != 0 {
				break
			}
		}
		if i >= len(data) {
			break
		}
		switch c := data[i]; {
		case c == '"':
			s.pos = i + 1
			return nil
		case c < 0x20:
			s.pos = i
			return s.syntaxError()
		case c == '\\':
			i++
			if i >= len(data) {
				break
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if hex4(data[i+1:]) < 0 {
					s.pos = i + 1
					return s.syntaxError()
				}
				i += 5
			default:
				s.pos = i
				return s.syntaxError()
			}
		default:
			i++
		}
	}
	s.pos = len(data)
	return s.syntaxError()
}

// skip consumes one JSON value of any kind, after white space; depth is
// the nesting of the value.
func (s *scanner) skip(depth int) error {
	switch c := s.peek(); c {
	case '"':
		return s.skipString()
	case '{', '[':
		if depth >= maxSkipDepth {
			return &ConversionError{Message: fmt.Sprintf("record is not valid JSON: nesting deeper than %d at offset %d", maxSkipDepth, s.pos)}
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		s.pos++
		if s.peek() == end {
			s.pos++
			return nil
		}
		for {
			if c == '{' {
				if s.peek() != '"' {
					return s.syntaxError()
				}
				if err := s.skipString(); err != nil {
					return err
				}
				if err := s.expect(':'); err != nil {
					return err
				}
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			switch s.peek() {
			case ',':
				s.pos++
			case end:
				s.pos++
				return nil
			default:
				return s.syntaxError()
			}
		}
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		_, _, err := s.number()
		return err
	}
}
