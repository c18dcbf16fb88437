package delivery

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Object keys follow Firehose's <evaluated prefix><suffix> rule (see
// "Custom Prefixes for Amazon S3 Objects" in the Firehose developer
// guide), with one difference: where Firehose puts random strings, Hydrant
// puts strings derived from the stream incarnation and the log offsets the
// object holds. A key is therefore a pure function of its KeyParams, and a
// redelivery after a crash overwrites the object it had written before
// instead of adding a duplicate.

// MaxPrefixLen is the longest Prefix or ErrorOutputPrefix accepted, in
// bytes, as Firehose limits them.
const MaxPrefixLen = 1024

// Prefix expression namespaces.
const (
	prefixNSTimestamp              = "timestamp"
	prefixNSFirehose               = "firehose"
	prefixNSPartitionKeyFromQuery  = "partitionKeyFromQuery"
	prefixNSPartitionKeyFromLambda = "partitionKeyFromLambda"

	prefixRandomString    = "random-string"
	prefixErrorOutputType = "error-output-type"
)

// defaultTimePrefix is the pattern of Firehose's default prefix,
// YYYY/MM/dd/HH/.
const defaultTimePrefix = "yyyy/MM/dd/HH/"

// KeyParams are the inputs of ObjectKey.
type KeyParams struct {
	// Prefix is the configured prefix, possibly empty. For an error
	// object, it is the ErrorOutputPrefix, or the Prefix when no
	// ErrorOutputPrefix is configured (Firehose then writes errors to
	// <Prefix><error-output-type>/YYYY/MM/dd/HH/).
	Prefix string
	// ErrorOutputType is what !{firehose:error-output-type} evaluates to
	// (processing-failed, format-conversion-failed, …) in the key of an
	// error object; empty for normal objects.
	ErrorOutputType string
	// Stream is the delivery stream name.
	Stream string
	// Version is Firehose's DeliveryStreamVersion (StreamInfo.VersionID).
	Version int
	// StreamID is unique per stream incarnation (StreamInfo.ID); it keeps
	// a stream created again under the same name from overwriting the
	// objects of the old one.
	StreamID string
	// Time is the approximate arrival time of the first record in the
	// object; keys use it in UTC.
	Time time.Time
	// First and Last are the log offsets of the first and last record
	// the object holds.
	First, Last uint64
	// Extension is the object's file extension, from compress.Extension.
	Extension string
	// Suffix goes between the id and the extension. Error objects get
	// "-<error-output-type>" and backup copies "-backup": a data object's
	// key ends in hex digits there, so no prefix, however its partition
	// keys evaluate, can make a data object's key equal theirs.
	Suffix string
	// PartitionKeys are the values of !{partitionKeyFromQuery:KEY}
	// expressions, by KEY, for a dynamically partitioned object.
	PartitionKeys map[string]string
	// LambdaKeys are the values of !{partitionKeyFromLambda:KEY}
	// expressions: the partition keys the transform function returned.
	LambdaKeys map[string]string
}

// ObjectKey returns the object key for p:
//
//	<evaluated prefix><stream>-<version>-<yyyy-MM-dd-HH-mm-ss>-<first>-<last>-<id><suffix><extension>
//
// where first and last are zero-padded to 20 digits, so keys sort in log
// order, and id is 8 hex digits of a hash of StreamID. The prefix is
// evaluated as Firehose does:
//
//   - an empty prefix is the default YYYY/MM/dd/HH/ of Time;
//   - a prefix without !{timestamp:…} or !{partitionKeyFrom…:…}
//     expressions gets the default appended (no separator is added:
//     "logs" gives "logs2024/05/01/13/");
//   - for an error object (ErrorOutputType set), a prefix without
//     expressions gets <error-output-type>/YYYY/MM/dd/HH/ appended instead,
//     and a prefix with expressions is used as it is;
//   - !{timestamp:PATTERN} formats Time in UTC with a Java DateTimeFormatter
//     pattern; every instance evaluates to the same instant;
//   - !{firehose:random-string} is 11 base-36 characters derived from
//     StreamID, First and the expression's position, so every instance
//     differs from the others but not between retries;
//   - !{firehose:error-output-type} is ErrorOutputType.
//
// !{partitionKeyFromQuery:KEY} is PartitionKeys[KEY]; a key missing
// there stays in the key as written (the caller checks first, see
// PartitionPrefix); !{partitionKeyFromLambda:KEY} is LambdaKeys[KEY], in
// the same way.
//
// ObjectKey does not validate p.Prefix; an invalid prefix (see
// ValidatePrefix) is used as literal text where it cannot be parsed.
func ObjectKey(p KeyParams) string {
	t := p.Time.UTC()
	key := make([]byte, 0, len(p.Prefix)+len(p.Stream)+96)
	key = appendPrefix(key, p, t)
	key = append(key, p.Stream...)
	key = append(key, '-')
	key = strconv.AppendInt(key, int64(p.Version), 10)
	key = append(key, '-')
	key = t.AppendFormat(key, "2006-01-02-15-04-05")
	key = append(key, '-')
	key = appendZeroPaddedUint(key, p.First, 20)
	key = append(key, '-')
	key = appendZeroPaddedUint(key, p.Last, 20)
	key = append(key, '-')
	id := sha256.Sum256([]byte(p.StreamID))
	key = hex.AppendEncode(key, id[:4])
	key = append(key, p.Suffix...)
	key = append(key, p.Extension...)
	return string(key)
}

// appendPrefix appends the evaluated prefix of p.
func appendPrefix(dst []byte, p KeyParams, t time.Time) []byte {
	tmpl, err := parsePrefixTemplate(p.Prefix)
	if err != nil {
		// Not reachable for a validated config; keep the text as it is.
		tmpl = &prefixTemplate{parts: []prefixPart{{literal: p.Prefix}}}
	}
	return appendParsedPrefix(dst, tmpl, p, t)
}

// appendParsedPrefix is appendPrefix for p.Prefix parsed already.
func appendParsedPrefix(dst []byte, tmpl *prefixTemplate, p KeyParams, t time.Time) []byte {
	dst = tmpl.render(dst, p, t)
	switch {
	case p.ErrorOutputType != "":
		if !tmpl.hasExpr {
			dst = append(dst, p.ErrorOutputType...)
			dst = append(dst, '/')
			dst = appendJavaTime(dst, defaultPrefixTimeTokens, t)
		}
	case !tmpl.hasTimestamp && !tmpl.hasPartitionKey:
		dst = appendJavaTime(dst, defaultPrefixTimeTokens, t)
	}
	return dst
}

var defaultPrefixTimeTokens = mustParseJavaTime(defaultTimePrefix)

func appendZeroPaddedUint(dst []byte, v uint64, width int) []byte {
	var buf [20]byte
	s := strconv.AppendUint(buf[:0], v, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// appendPrefixRandomString appends Hydrant's deterministic
// !{firehose:random-string}: 11 base-36 characters from a hash of the
// stream incarnation, the object's first offset and the expression's
// position n in the prefix.
func appendPrefixRandomString(dst []byte, streamID string, first uint64, n int) []byte {
	h := sha256.New()
	h.Write([]byte(streamID))
	var b [13]byte // a separator, so that no ID is a prefix of another's input
	binary.BigEndian.PutUint64(b[1:], first)
	binary.BigEndian.PutUint32(b[9:], uint32(n))
	h.Write(b[:])
	sum := h.Sum(nil)
	const base36x11 = 131621703842267136 // 36^11 < 2^64
	v := binary.BigEndian.Uint64(sum) % base36x11
	var buf [11]byte
	s := strconv.AppendUint(buf[:0], v, 36)
	for i := len(s); i < 11; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// A prefixTemplate is a parsed Prefix or ErrorOutputPrefix.
type prefixTemplate struct {
	parts           []prefixPart
	hasExpr         bool // any !{…} expression
	hasTimestamp    bool // a !{timestamp:…} expression
	hasPartitionKey bool // a !{partitionKeyFrom…:…} expression
	hasErrorType    bool // a !{firehose:error-output-type} expression
}

// A prefixPart is literal text or one expression.
type prefixPart struct {
	literal   string // text, when ns is ""
	ns, value string
	time      []javaTimeToken // the parsed pattern of a timestamp expression
}

func (e prefixPart) String() string { return "!{" + e.ns + ":" + e.value + "}" }

// parsePrefixTemplate splits p into literal text and expressions, and
// checks every expression.
func parsePrefixTemplate(p string) (*prefixTemplate, error) {
	tmpl := &prefixTemplate{}
	for rest := p; rest != ""; {
		i := strings.Index(rest, "!{")
		if i < 0 {
			tmpl.parts = append(tmpl.parts, prefixPart{literal: rest})
			break
		}
		if i > 0 {
			tmpl.parts = append(tmpl.parts, prefixPart{literal: rest[:i]})
		}
		rest = rest[i:]
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return nil, fmt.Errorf("expression %q is not closed: use !{namespace:value}", rest)
		}
		expr := rest[:end+1]
		rest = rest[end+1:]
		body := expr[2:end]
		if strings.Contains(body, "!{") {
			return nil, fmt.Errorf("expression %q is not closed before the next !{: use !{namespace:value}", expr)
		}
		ns, value, ok := strings.Cut(body, ":")
		if !ok {
			return nil, fmt.Errorf("expression %q has no namespace: use !{namespace:value}", expr)
		}
		part := prefixPart{ns: ns, value: value}
		tmpl.hasExpr = true
		switch ns {
		case prefixNSTimestamp:
			tokens, err := parseJavaTime(value)
			if err != nil {
				return nil, fmt.Errorf("expression %q: %w", expr, err)
			}
			part.time = tokens
			tmpl.hasTimestamp = true
		case prefixNSFirehose:
			switch value {
			case prefixRandomString:
			case prefixErrorOutputType:
				tmpl.hasErrorType = true
			default:
				return nil, fmt.Errorf("expression %q: unknown firehose value %q: use %s or %s", expr, value, prefixRandomString, prefixErrorOutputType)
			}
		case prefixNSPartitionKeyFromQuery, prefixNSPartitionKeyFromLambda:
			if !validPartitionKeyName(value) {
				return nil, fmt.Errorf("expression %q: partition key name %q is not valid: use 1 or more of a-z A-Z 0-9 _ -", expr, value)
			}
			tmpl.hasPartitionKey = true
		default:
			return nil, fmt.Errorf("expression %q: unknown namespace %q: use %s, %s, %s or %s", expr, ns,
				prefixNSTimestamp, prefixNSFirehose, prefixNSPartitionKeyFromQuery, prefixNSPartitionKeyFromLambda)
		}
		tmpl.parts = append(tmpl.parts, part)
	}
	return tmpl, nil
}

func validPartitionKeyName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// render appends the template evaluated for p at t.
func (tmpl *prefixTemplate) render(dst []byte, p KeyParams, t time.Time) []byte {
	random := 0
	for _, part := range tmpl.parts {
		switch part.ns {
		case "":
			dst = append(dst, part.literal...)
		case prefixNSTimestamp:
			dst = appendJavaTime(dst, part.time, t)
		case prefixNSFirehose:
			if part.value == prefixRandomString {
				dst = appendPrefixRandomString(dst, p.StreamID, p.First, random)
				random++
			} else {
				dst = append(dst, p.ErrorOutputType...)
			}
		case prefixNSPartitionKeyFromQuery:
			if v, ok := p.PartitionKeys[part.value]; ok {
				dst = append(dst, v...)
			} else {
				dst = append(dst, part.String()...)
			}
		case prefixNSPartitionKeyFromLambda:
			if v, ok := p.LambdaKeys[part.value]; ok {
				dst = append(dst, v...)
			} else {
				dst = append(dst, part.String()...)
			}
		}
	}
	return dst
}

// ValidatePrefix checks a Prefix or ErrorOutputPrefix: every !{ opens a
// closed !{namespace:value} expression of a known namespace (timestamp,
// firehose, partitionKeyFromQuery, partitionKeyFromLambda), timestamp
// patterns are valid Java DateTimeFormatter patterns Hydrant can render,
// and the prefix is valid UTF-8 without control characters, at most
// MaxPrefixLen bytes, and neither as written nor as evaluated starts with
// '/' or holds ".." or "//" (which the embedded object store cannot
// represent as a path). Errors name the offending expression.
//
// Rules that depend on which field the prefix is in are checked by
// Destination.Validate.
func ValidatePrefix(p string) error {
	if len(p) > MaxPrefixLen {
		return fmt.Errorf("prefix is %d bytes long: the limit is %d", len(p), MaxPrefixLen)
	}
	if !utf8.ValidString(p) {
		return errors.New("prefix is not valid UTF-8")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("prefix holds the control character %U", r)
		}
	}
	tmpl, err := parsePrefixTemplate(p)
	if err != nil {
		return err
	}
	if err := checkPrefixPath(p, "prefix"); err != nil {
		return err
	}
	// Literal text inside timestamp patterns (!{timestamp:'..'}) only
	// shows once evaluated; the time fields themselves are digits and
	// letters, so one sample instant stands for all.
	sample := KeyParams{ErrorOutputType: "processing-failed", StreamID: "sample"}
	evaluated := string(tmpl.render(nil, sample, time.Date(2018, 8, 27, 10, 30, 0, 0, time.UTC)))
	return checkPrefixPath(evaluated, fmt.Sprintf("prefix evaluates to %q, which", evaluated))
}

func checkPrefixPath(p, what string) error {
	switch {
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("%s starts with '/': object keys are relative to the bucket", what)
	case strings.Contains(p, ".."):
		return fmt.Errorf("%s holds \"..\"", what)
	case strings.Contains(p, "//"):
		return fmt.Errorf("%s holds \"//\", an empty path segment", what)
	}
	return nil
}

// validatePrefixPair checks Firehose's rules between a destination's
// Prefix and ErrorOutputPrefix, which must each be valid already.
func validatePrefixPair(prefix, errorPrefix string) *FieldError {
	pt, err := parsePrefixTemplate(prefix)
	if err != nil {
		return &FieldError{"prefix", err.Error()}
	}
	if pt.hasErrorType {
		return &FieldError{"prefix", "!{firehose:error-output-type} can only be used in error_output_prefix"}
	}
	if errorPrefix == "" {
		if pt.hasExpr {
			return &FieldError{"error_output_prefix", "must be set when prefix contains !{…} expressions"}
		}
		return nil
	}
	et, err := parsePrefixTemplate(errorPrefix)
	if err != nil {
		return &FieldError{"error_output_prefix", err.Error()}
	}
	if et.hasExpr && !et.hasErrorType {
		return &FieldError{"error_output_prefix", "must contain !{firehose:error-output-type} when it contains !{…} expressions"}
	}
	return nil
}

// A javaTimeToken is one element of a Java DateTimeFormatter pattern: a
// run of count pattern letters, or literal text.
type javaTimeToken struct {
	letter  byte
	count   int
	literal string
}

// javaTimeMaxCount is the largest run of each pattern letter Hydrant
// renders, as java.time.format.DateTimeFormatterBuilder accepts it.
// Letters Java knows but Hydrant does not render are absent: the week
// fields (Y w W e c F) depend on the JVM's locale, and zone, offset and
// nano/milli-of-day fields are not useful in a UTC object key.
var javaTimeMaxCount = [256]int{
	'G': 5,           // era: AD
	'u': 19, 'y': 19, // year, year of era
	'Q': 5, 'q': 5, // quarter
	'M': 5, 'L': 5, // month
	'd': 2, 'D': 3, // day of month, day of year
	'E': 5,                         // day of week
	'a': 1,                         // AM/PM
	'H': 2, 'k': 2, 'K': 2, 'h': 2, // hour 0-23, 1-24, 0-11, 1-12
	'm': 2, 's': 2, // minute, second
	'S': 9, // fraction of second
}

// parseJavaTime parses a DateTimeFormatter pattern: letters are fields,
// text in single quotes is literal (” is a quote), [ and ] mark optional
// sections (always printed when formatting), {, } and # are reserved, and
// anything else is literal.
func parseJavaTime(pattern string) ([]javaTimeToken, error) {
	var tokens []javaTimeToken
	lit := func(s string) {
		if n := len(tokens); n > 0 && tokens[n-1].letter == 0 {
			tokens[n-1].literal += s
			return
		}
		tokens = append(tokens, javaTimeToken{literal: s})
	}
	optional := 0
	for i := 0; i < len(pattern); {
		c := pattern[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			n := 1
			for i+n < len(pattern) && pattern[i+n] == c {
				n++
			}
			limit := javaTimeMaxCount[c]
			switch {
			case limit == 0:
				return nil, fmt.Errorf("pattern letter '%c' is not supported: use letters of y u M L d D H h k K m s S a E G Q q, text in single quotes", c)
			case n > limit:
				return nil, fmt.Errorf("too many pattern letters '%c': at most %d", c, limit)
			}
			tokens = append(tokens, javaTimeToken{letter: c, count: n})
			i += n
		case c == '\'':
			// As java.time does: the literal runs to the next quote that
			// is not doubled; '' is a quote, inside the literal or alone.
			pos := i + 1
			for ; pos < len(pattern); pos++ {
				if pattern[pos] == '\'' {
					if pos+1 < len(pattern) && pattern[pos+1] == '\'' {
						pos++
						continue
					}
					break
				}
			}
			if pos >= len(pattern) {
				return nil, fmt.Errorf("pattern %q has an unclosed quote", pattern)
			}
			if text := pattern[i+1 : pos]; text == "" {
				lit("'")
			} else {
				lit(strings.ReplaceAll(text, "''", "'"))
			}
			i = pos + 1
		case c == '[':
			optional++
			i++
		case c == ']':
			if optional == 0 {
				return nil, fmt.Errorf("pattern %q closes an optional section ']' that was not opened", pattern)
			}
			optional--
			i++
		case c == '{' || c == '}' || c == '#':
			return nil, fmt.Errorf("pattern character '%c' is reserved", c)
		default:
			_, size := utf8.DecodeRuneInString(pattern[i:])
			lit(pattern[i : i+size])
			i += size
		}
	}
	return tokens, nil
}

func mustParseJavaTime(pattern string) []javaTimeToken {
	tokens, err := parseJavaTime(pattern)
	if err != nil {
		panic(err)
	}
	return tokens
}

var javaQuarterNames = [4]string{"1st quarter", "2nd quarter", "3rd quarter", "4th quarter"}

// appendJavaTime appends t formatted with tokens as java.time formats it
// in the English locale.
func appendJavaTime(dst []byte, tokens []javaTimeToken, t time.Time) []byte {
	for _, tok := range tokens {
		n := tok.count
		switch tok.letter {
		case 0:
			dst = append(dst, tok.literal...)
		case 'G':
			era := [3]string{"AD", "Anno Domini", "A"}
			if t.Year() <= 0 {
				era = [3]string{"BC", "Before Christ", "B"}
			}
			dst = append(dst, era[javaTextStyle(n)]...)
		case 'u', 'y':
			year := int64(t.Year())
			if tok.letter == 'y' && year <= 0 {
				year = 1 - year // year of era
			}
			switch {
			case n == 2:
				dst = appendJavaNumber(dst, (year%100+100)%100, 2, false)
			case n >= 4:
				dst = appendJavaNumber(dst, year, n, true)
			default:
				dst = appendJavaNumber(dst, year, n, false)
			}
		case 'Q', 'q':
			q := (int(t.Month()) - 1) / 3
			switch n {
			case 1, 5:
				dst = strconv.AppendInt(dst, int64(q+1), 10)
			case 2:
				dst = appendJavaNumber(dst, int64(q+1), 2, false)
			case 3:
				dst = append(dst, 'Q', byte('1'+q))
			case 4:
				dst = append(dst, javaQuarterNames[q]...)
			}
		case 'M', 'L':
			if n <= 2 {
				dst = appendJavaNumber(dst, int64(t.Month()), n, false)
			} else {
				dst = appendJavaTimeName(dst, t.Month().String(), n)
			}
		case 'd':
			dst = appendJavaNumber(dst, int64(t.Day()), n, false)
		case 'D':
			dst = appendJavaNumber(dst, int64(t.YearDay()), n, false)
		case 'E':
			dst = appendJavaTimeName(dst, t.Weekday().String(), max(n, 3))
		case 'a':
			if t.Hour() < 12 {
				dst = append(dst, "AM"...)
			} else {
				dst = append(dst, "PM"...)
			}
		case 'H':
			dst = appendJavaNumber(dst, int64(t.Hour()), n, false)
		case 'k':
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			dst = appendJavaNumber(dst, int64(h), n, false)
		case 'K':
			dst = appendJavaNumber(dst, int64(t.Hour()%12), n, false)
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			dst = appendJavaNumber(dst, int64(h), n, false)
		case 'm':
			dst = appendJavaNumber(dst, int64(t.Minute()), n, false)
		case 's':
			dst = appendJavaNumber(dst, int64(t.Second()), n, false)
		case 'S':
			frac := int64(t.Nanosecond())
			for range 9 - n {
				frac /= 10
			}
			dst = appendJavaNumber(dst, frac, n, false)
		}
	}
	return dst
}

// javaTextStyle maps a count of text pattern letters to short (0), full
// (1) or narrow (2).
func javaTextStyle(n int) int {
	switch n {
	case 4:
		return 1
	case 5:
		return 2
	}
	return 0
}

// appendJavaTimeName appends an English month or day name: short for 3
// letters, full for 4, narrow for 5.
func appendJavaTimeName(dst []byte, name string, n int) []byte {
	switch javaTextStyle(n) {
	case 1:
		return append(dst, name...)
	case 2:
		return append(dst, name[0])
	}
	return append(dst, name[:3]...)
}

// appendJavaNumber appends v zero-padded to width digits. With
// exceedsPad, a positive value wider than width gets a '+' sign, as
// java.time's SignStyle.EXCEEDS_PAD prints years from 10000 with yyyy.
func appendJavaNumber(dst []byte, v int64, width int, exceedsPad bool) []byte {
	var buf [20]byte
	neg := v < 0
	if neg {
		dst = append(dst, '-')
		v = -v
	}
	s := strconv.AppendInt(buf[:0], v, 10)
	if exceedsPad && !neg && len(s) > width {
		dst = append(dst, '+')
	}
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}
