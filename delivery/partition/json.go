package partition

import (
	"encoding/binary"
	"errors"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth is the deepest nesting of arrays and objects accepted, the
// limit encoding/json has too: it bounds the recursion of the decoder.
const maxDepth = 10000

// parser is a strict RFC 8259 JSON parser that either validates (build
// false) or builds the values gojq works on: map[string]any, []any,
// string, int, float64, *big.Int, bool and nil. Like encoding/json and jq,
// it accepts invalid UTF-8 inside strings and replaces it with U+FFFD when
// building.
//
// One parser serves both SplitJSON, which must not allocate, and Extract,
// so the two agree on what JSON is. It reads the record in place: built
// strings are copies, made only for the parts of the record kept.
type parser struct {
	s []byte
	// text, if set, holds a copy of s that built strings share, instead
	// of each being a copy: cheaper when most of the record is built.
	text  string
	i     int
	depth int
}

// syntaxError describes malformed JSON at a byte offset.
type syntaxError struct {
	msg    string
	offset int
}

func (e *syntaxError) Error() string {
	return e.msg + " at offset " + strconv.Itoa(e.offset)
}

func (p *parser) errorf(msg string) error {
	return &syntaxError{msg: msg, offset: p.i}
}

// unexpected reports the byte at p.i, or the end of input.
func (p *parser) unexpected(context string) error {
	if p.i >= len(p.s) {
		return p.errorf("unexpected end of JSON input " + context)
	}
	return p.errorf("invalid character " + quoteByte(p.s[p.i]) + " " + context)
}

// quoteByte renders an unexpected byte: ASCII as a quoted character,
// others in hex, since they may be part of a multibyte character.
func quoteByte(c byte) string {
	if c >= utf8.RuneSelf {
		return "0x" + strconv.FormatUint(uint64(c), 16)
	}
	return strconv.QuoteRune(rune(c))
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func (p *parser) skipSpace() {
	for p.i < len(p.s) && isSpace(p.s[p.i]) {
		p.i++
	}
}

// value parses the value at p.i (after optional whitespace). When build
// is set it returns the value, keeping of objects only the members that
// f selects (nil f selects everything); see field.
func (p *parser) value(f *field, build bool) (any, error) {
	p.skipSpace()
	if p.i >= len(p.s) {
		return nil, p.unexpected("looking for beginning of value")
	}
	switch c := p.s[p.i]; c {
	case '{':
		return p.object(f, build)
	case '[':
		return p.array(build)
	case '"':
		raw, unq, err := p.string()
		if err != nil || !build {
			return nil, err
		}
		return p.makeString(raw, p.i-1, unq), nil
	case 't':
		return true, p.literal("true")
	case 'f':
		return false, p.literal("false")
	case 'n':
		return nil, p.literal("null")
	default:
		if c == '-' || '0' <= c && c <= '9' {
			return p.number(build)
		}
		return nil, p.unexpected("looking for beginning of value")
	}
}

func (p *parser) literal(word string) error {
	for j := 0; j < len(word); j++ {
		if p.i >= len(p.s) || p.s[p.i] != word[j] {
			return p.unexpected("in literal " + word)
		}
		p.i++
	}
	return nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errorf("exceeded max depth of " + strconv.Itoa(maxDepth))
	}
	return nil
}

func (p *parser) object(f *field, build bool) (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.i++ // '{'
	var m map[string]any
	if build {
		m = make(map[string]any)
	}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		p.depth--
		if !build {
			return nil, nil
		}
		return m, nil
	}
	for {
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != '"' {
			return nil, p.unexpected("looking for beginning of object key string")
		}
		raw, unq, err := p.string()
		if err != nil {
			return nil, err
		}
		rawEnd := p.i - 1
		p.skipSpace()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, p.unexpected("after object key")
		}
		p.i++
		var sub *field
		keep := build
		if build && f != nil {
			if unq {
				sub, keep = f.sub[unquote(raw)]
			} else {
				sub, keep = f.sub[string(raw)] // does not allocate
			}
		}
		v, err := p.value(sub, keep)
		if err != nil {
			return nil, err
		}
		if keep {
			m[p.makeString(raw, rawEnd, unq)] = v
		}
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.unexpected("after object key:value pair")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			p.depth--
			if !build {
				return nil, nil
			}
			return m, nil
		default:
			return nil, p.unexpected("after object key:value pair")
		}
	}
}

func (p *parser) array(build bool) (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.i++ // '['
	var a []any
	if build {
		a = []any{}
	}
	p.skipSpace()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		p.depth--
		if !build {
			return nil, nil
		}
		return a, nil
	}
	for {
		v, err := p.value(nil, build)
		if err != nil {
			return nil, err
		}
		if build {
			a = append(a, v)
		}
		p.skipSpace()
		if p.i >= len(p.s) {
			return nil, p.unexpected("after array element")
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			p.depth--
			if !build {
				return nil, nil
			}
			return a, nil
		default:
			return nil, p.unexpected("after array element")
		}
	}
}

// string validates the string literal at p.i, which starts with '"',
// and returns its contents, and whether they need unquoting (escapes or
// invalid UTF-8) rather than copying as they are.
func (p *parser) string() (raw []byte, unq bool, err error) {
	start := p.i + 1
	p.i = start
	high := false
	for {
		// Most bytes are plain: skip them 8 at a time, then one by one.
		for p.i+8 <= len(p.s) {
			if n := plainPrefix(binary.LittleEndian.Uint64(p.s[p.i:])); n < 8 {
				p.i += n
				break
			}
			p.i += 8
		}
		for p.i < len(p.s) {
			if c := p.s[p.i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
				break
			}
			p.i++
		}
		if p.i >= len(p.s) {
			return nil, false, p.unexpected("in string literal")
		}
		switch c := p.s[p.i]; {
		case c == '"':
			raw = p.s[start:p.i]
			p.i++
			return raw, unq || high && !utf8.Valid(raw), nil
		case c == '\\':
			unq = true
			p.i++
			if p.i >= len(p.s) {
				return nil, false, p.unexpected("in string escape code")
			}
			switch p.s[p.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i++
			case 'u':
				p.i++
				for range 4 {
					if p.i >= len(p.s) || unhex(p.s[p.i]) < 0 {
						return nil, false, p.unexpected("in \\u hexadecimal character escape")
					}
					p.i++
				}
			default:
				return nil, false, p.unexpected("in string escape code")
			}
		case c < 0x20:
			return nil, false, p.unexpected("in string literal")
		default:
			high = true
			p.i++
		}
	}
}

// plainPrefix returns how many of the 8 bytes in w (little-endian) come
// before the first one that is not plain in a string literal: '"', '\\',
// a control character, or a byte of a multibyte UTF-8 sequence.
func plainPrefix(w uint64) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	// (x - ones) &^ x & highs flags the zero bytes of x, and (x - ones*n)
	// &^ x & highs those below n, exactly up to the first one flagged.
	quote := w ^ ones*'"'
	backslash := w ^ ones*'\\'
	m := ((quote-ones)&^quote | (backslash-ones)&^backslash | (w-ones*0x20)&^w | w) & highs
	return bits.TrailingZeros64(m) / 8
}

// makeString builds the string whose contents p.string returned, which
// end at offset end of the record.
func (p *parser) makeString(raw []byte, end int, unq bool) string {
	switch {
	case unq:
		return unquote(raw)
	case p.text != "":
		return p.text[end-len(raw) : end]
	default:
		return string(raw)
	}
}

func unhex(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// unquote decodes the contents of a string literal already validated by
// parser.string. Like encoding/json, it replaces invalid UTF-8 and
// unpaired surrogates with U+FFFD.
func unquote(raw []byte) string {
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(raw[i:])
			b = utf8.AppendRune(b, r)
			i += size
			continue
		}
		if c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		esc := raw[i+1]
		i += 2
		switch esc {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(raw[i : i+4])
			i += 4
			if utf16.IsSurrogate(r) {
				pair := utf8.RuneError
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if d := utf16.DecodeRune(r, hex4(raw[i+2:i+6])); d != utf8.RuneError {
						pair = d
						i += 6
					}
				}
				r = pair
			}
			b = utf8.AppendRune(b, r)
		default: // '"', '\\', '/'
			b = append(b, esc)
		}
	}
	return string(b)
}

func hex4(s []byte) rune {
	var r rune
	for i := range 4 {
		r = r<<4 | unhex(s[i])
	}
	return r
}

// number parses a number and builds it as gojq's tonumber does: an int
// when the literal is an integer that fits, a *big.Int when it is a
// larger integer, otherwise a float64 (±Inf beyond the float64 range,
// which renders as ±1.7976931348623157e+308, as in jq).
func (p *parser) number(build bool) (any, error) {
	start := p.i
	integer := true
	if p.s[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.s) && p.s[p.i] == '0':
		p.i++
	case p.i < len(p.s) && '1' <= p.s[p.i] && p.s[p.i] <= '9':
		p.skipDigits()
	default:
		return nil, p.unexpected("in numeric literal")
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		integer = false
		p.i++
		if p.i >= len(p.s) || !isDigit(p.s[p.i]) {
			return nil, p.unexpected("after decimal point in numeric literal")
		}
		p.skipDigits()
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		integer = false
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if p.i >= len(p.s) || !isDigit(p.s[p.i]) {
			return nil, p.unexpected("in exponent of numeric literal")
		}
		p.skipDigits()
	}
	if !build {
		return nil, nil
	}
	return parseNumber(p.s[start:p.i], integer), nil
}

func (p *parser) skipDigits() {
	for p.i < len(p.s) && isDigit(p.s[p.i]) {
		p.i++
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parseNumber converts a valid JSON number literal.
func parseNumber[T string | []byte](lit T, integer bool) any {
	if integer {
		if n, ok := smallInt(lit); ok {
			return n
		}
		if n, ok := new(big.Int).SetString(string(lit), 10); ok {
			return n
		}
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return math.NaN() // unreachable for validated literals
	}
	return f // ±Inf on overflow, 0 on underflow
}

// smallInt parses an integer literal that fits an int.
func smallInt[T string | []byte](lit T) (int, bool) {
	neg := len(lit) > 0 && lit[0] == '-'
	digits := lit
	if neg {
		digits = lit[1:]
	}
	if len(digits) > 18 || strconv.IntSize < 64 {
		n, err := strconv.ParseInt(string(lit), 10, strconv.IntSize)
		return int(n), err == nil
	}
	n := 0
	for i := 0; i < len(digits); i++ {
		n = n*10 + int(digits[i]-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// field selects the parts of a record a query reads (see projection in
// analyze.go). A nil *field selects a whole value; otherwise, if the
// value is an object, only the members named in sub are kept, each
// selected by its own field; a value that is not an object is kept whole.
type field struct {
	sub map[string]*field
}

// validateJSON reports whether data holds exactly one JSON value,
// optionally surrounded by whitespace.
func validateJSON(data []byte) error {
	p := parser{s: data}
	if _, err := p.value(nil, false); err != nil {
		return err
	}
	p.skipSpace()
	if p.i < len(p.s) {
		return p.unexpected("after top-level value")
	}
	return nil
}

// decodeJSON parses data, which must hold exactly one JSON value, keeping
// only what f selects. When f is nil, the strings built share one copy
// of data, which they keep in memory as long as any of them is.
func decodeJSON(data []byte, f *field) (any, error) {
	p := parser{s: data}
	if f == nil {
		p.text = string(data)
	}
	v, err := p.value(f, true)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i < len(p.s) {
		return nil, p.unexpected("after top-level value")
	}
	return v, nil
}
