package clickhouse

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
)

// column buffers the values of one column of a batch, converted from JSON
// into the Go type clickhouse-go encodes for its ClickHouse type, so that
// a batch goes to the driver a column at a time.
type column interface {
	// add converts v, one valid JSON value other than null, and appends
	// it; on error nothing is appended.
	add(v []byte) error
	// addNull appends NULL, or the type's zero value if it is not
	// Nullable: what a missing field or a JSON null becomes.
	addNull()
	// rows is the number of values appended.
	rows() int
	// truncate drops the values after the first n.
	truncate(n int)
	// prepare builds the output of out from the values, once per batch.
	prepare()
	// out returns the values [from, to) as the typed slice clickhouse-go
	// takes for the column; valid until the next add or truncate.
	out(from, to int) any
}

// typed is a column whose output is a []T, which Nullable points into.
type typed[T any] interface {
	column
	values() []T
}

// newColumn returns an empty column buffer for t; lowCard says it is
// inside a LowCardinality.
func newColumn(t *chType, lowCard bool) column {
	switch t.kind {
	case kString:
		if lowCard {
			return &stringCol{form: asCopies}
		}
		return &stringCol{form: asAliases}
	case kFixedString:
		if lowCard {
			return &stringCol{size: t.n, form: asCopies}
		}
		return &stringCol{size: t.n, form: asBytes}
	case kUInt8:
		return newScalar(uintConv[uint8](math.MaxUint8))
	case kUInt16:
		return newScalar(uintConv[uint16](math.MaxUint16))
	case kUInt32:
		return newScalar(uintConv[uint32](math.MaxUint32))
	case kUInt64:
		return newScalar(uintConv[uint64](math.MaxUint64))
	case kInt8:
		return newScalar(intConv[int8](math.MinInt8, math.MaxInt8))
	case kInt16:
		return newScalar(intConv[int16](math.MinInt16, math.MaxInt16))
	case kInt32:
		return newScalar(intConv[int32](math.MinInt32, math.MaxInt32))
	case kInt64:
		return newScalar(intConv[int64](math.MinInt64, math.MaxInt64))
	case kFloat32:
		return newScalar(floatConv[float32](32))
	case kFloat64:
		return newScalar(floatConv[float64](64))
	case kDate:
		c := newScalar(dateConv)
		c.zero = time.Unix(0, 0).UTC() // not time.Time{}, year 1
		return c
	case kDateTime:
		return newScalar(dateTimeConv(t.loc))
	case kUUID:
		return newScalar(uuidConv)
	case kLowCardinality:
		// LowCardinality is an encoding: the values are those of its type.
		return newColumn(t.elem, true)
	case kArray:
		// Elements go to clickhouse-go a row at a time, as []*T: a pointer
		// goes into an interface without an allocation, a T does not.
		elem := newColumn(t.elem, false)
		if t.elem.kind != kNullable && t.elem.kind != kArray {
			elem = pointers(elem)
		}
		return &arrayCol{elem: elem, elemNullable: t.elem.nullable(), elemType: t.elem.String()}
	case kNullable:
		return pointers(newColumn(t.elem, lowCard))
	}
	panic("clickhouse: no column buffer for " + t.String()) // parseType admits no other type
}

// pointers wraps a column of values into one that hands them out as []*T,
// nil where addNull was called: Nullable(T), and Array elements.
func pointers(inner column) column {
	switch inner := inner.(type) {
	case *stringCol:
		if inner.form == asBytes {
			inner.form = asAliases
		}
		return &nullableCol[string]{inner: inner}
	case *scalar[uint8]:
		return &nullableCol[uint8]{inner: inner}
	case *scalar[uint16]:
		return &nullableCol[uint16]{inner: inner}
	case *scalar[uint32]:
		return &nullableCol[uint32]{inner: inner}
	case *scalar[uint64]:
		return &nullableCol[uint64]{inner: inner}
	case *scalar[int8]:
		return &nullableCol[int8]{inner: inner}
	case *scalar[int16]:
		return &nullableCol[int16]{inner: inner}
	case *scalar[int32]:
		return &nullableCol[int32]{inner: inner}
	case *scalar[int64]:
		return &nullableCol[int64]{inner: inner}
	case *scalar[float32]:
		return &nullableCol[float32]{inner: inner}
	case *scalar[float64]:
		return &nullableCol[float64]{inner: inner}
	case *scalar[time.Time]:
		return &nullableCol[time.Time]{inner: inner}
	case *scalar[uuid.UUID]:
		return &nullableCol[uuid.UUID]{inner: inner}
	}
	panic(fmt.Sprintf("clickhouse: no pointer column for %T", inner))
}

// appendTo hands the n buffered values of c to the batch's column.
// Arrays go a row at a time: clickhouse-go appends a []T row without
// reflection, but a [][]T column only through it.
func appendTo(dst driver.BatchColumn, c column) error {
	c.prepare()
	if a, ok := c.(*arrayCol); ok {
		for i := range a.offs {
			from := 0
			if i > 0 {
				from = a.offs[i-1]
			}
			if err := dst.AppendRow(a.elem.out(from, a.offs[i])); err != nil {
				return err
			}
		}
		return nil
	}
	return dst.Append(c.out(0, c.rows()))
}

// scalar is a column of a fixed-size Go type.
type scalar[T any] struct {
	vals []T
	conv func(v []byte) (T, error)
	zero T // what addNull appends
}

func newScalar[T any](conv func(v []byte) (T, error)) *scalar[T] {
	return &scalar[T]{conv: conv}
}

func (c *scalar[T]) add(v []byte) error {
	x, err := c.conv(v)
	if err != nil {
		return err
	}
	c.vals = append(c.vals, x)
	return nil
}

func (c *scalar[T]) addNull() { c.vals = append(c.vals, c.zero) }

func (c *scalar[T]) rows() int            { return len(c.vals) }
func (c *scalar[T]) truncate(n int)       { c.vals = c.vals[:n] }
func (c *scalar[T]) prepare()             {}
func (c *scalar[T]) out(from, to int) any { return c.vals[from:to] }
func (c *scalar[T]) values() []T          { return c.vals }

// stringCol is a String or FixedString column. Its values are kept end to
// end in one buffer, so that a batch of strings costs no allocation per
// value; clickhouse-go copies them out.
type stringCol struct {
	buf  []byte
	ends []int
	size int // FixedString's size; 0 for String
	form stringOut
	// The values, as prepare hands them out.
	bytes [][]byte
	strs  []string
}

// stringOut is how a stringCol hands its values to clickhouse-go.
type stringOut uint8

const (
	// asAliases is []string pointing into buf, instead of copies: the
	// driver copies each string into its own column as it appends it,
	// and buf is written again only after that, when the buffer is
	// reused. The String type's way, and every []*string's.
	asAliases stringOut = iota
	// asBytes is [][]byte: FixedString's, which the driver pads without
	// an allocation.
	asBytes
	// asCopies is []string of copies: LowCardinality's, whose dictionary
	// keeps the strings until the batch is sent.
	asCopies
)

func (c *stringCol) add(v []byte) error {
	start := len(c.buf)
	switch v[0] {
	case '"':
		c.buf = unquote(c.buf, v)
	default:
		// A number, boolean, object or array is stored as its JSON text.
		c.buf = append(c.buf, v...)
	}
	if c.size > 0 && len(c.buf)-start > c.size {
		n := len(c.buf) - start
		c.buf = c.buf[:start]
		return fmt.Errorf("%d bytes do not fit in FixedString(%d)", n, c.size)
	}
	c.ends = append(c.ends, len(c.buf))
	return nil
}

func (c *stringCol) addNull()  { c.ends = append(c.ends, len(c.buf)) }
func (c *stringCol) rows() int { return len(c.ends) }

func (c *stringCol) truncate(n int) {
	c.ends = c.ends[:n]
	c.buf = c.buf[:c.end(n-1)]
}

func (c *stringCol) end(i int) int {
	if i < 0 {
		return 0
	}
	return c.ends[i]
}

func (c *stringCol) prepare() {
	c.bytes, c.strs = c.bytes[:0], c.strs[:0]
	for i := range c.ends {
		v := c.buf[c.end(i-1):c.ends[i]:c.ends[i]]
		switch {
		case c.form == asBytes:
			c.bytes = append(c.bytes, v)
		case c.form == asCopies:
			c.strs = append(c.strs, string(v))
		case len(v) == 0:
			c.strs = append(c.strs, "")
		default:
			c.strs = append(c.strs, unsafe.String(&v[0], len(v)))
		}
	}
}

func (c *stringCol) out(from, to int) any {
	if c.form == asBytes {
		return c.bytes[from:to]
	}
	return c.strs[from:to]
}

func (c *stringCol) values() []string { return c.strs }

// nullableCol hands out the values of its inner column as []*T, nil for
// NULL, where the inner column holds a zero value.
type nullableCol[T any] struct {
	inner typed[T]
	null  []bool
	ptrs  []*T
}

func (c *nullableCol[T]) add(v []byte) error {
	if err := c.inner.add(v); err != nil {
		return err
	}
	c.null = append(c.null, false)
	return nil
}

func (c *nullableCol[T]) addNull() {
	c.inner.addNull()
	c.null = append(c.null, true)
}

func (c *nullableCol[T]) rows() int { return len(c.null) }

func (c *nullableCol[T]) truncate(n int) {
	c.inner.truncate(n)
	c.null = c.null[:n]
}

func (c *nullableCol[T]) prepare() {
	c.inner.prepare()
	vals := c.inner.values()
	c.ptrs = c.ptrs[:0]
	for i, null := range c.null {
		if null {
			c.ptrs = append(c.ptrs, nil)
		} else {
			c.ptrs = append(c.ptrs, &vals[i])
		}
	}
}

func (c *nullableCol[T]) out(from, to int) any { return c.ptrs[from:to] }

// arrayCol is an Array(T) column: the elements of every row end to end in
// elem, and where each row's end.
type arrayCol struct {
	elem         column
	elemNullable bool
	elemType     string
	offs         []int
	rowsOut      []any // for an Array(Array(T)) element
}

func (c *arrayCol) add(v []byte) error {
	if v[0] != '[' {
		return fmt.Errorf("want a JSON array, not %s", jsonKind(v))
	}
	n := c.elem.rows()
	err := elements(v, func(e []byte) error {
		if e[0] == 'n' {
			if !c.elemNullable {
				return fmt.Errorf("null element: an Array(%s) cannot hold one; use Array(Nullable(%s))", c.elemType, c.elemType)
			}
			c.elem.addNull()
			return nil
		}
		if err := c.elem.add(e); err != nil {
			return fmt.Errorf("element %d: %w", c.elem.rows()-n, err)
		}
		return nil
	})
	if err != nil {
		c.elem.truncate(n)
		return err
	}
	c.offs = append(c.offs, c.elem.rows())
	return nil
}

func (c *arrayCol) addNull()  { c.offs = append(c.offs, c.elem.rows()) }
func (c *arrayCol) rows() int { return len(c.offs) }

func (c *arrayCol) truncate(n int) {
	c.offs = c.offs[:n]
	end := 0
	if n > 0 {
		end = c.offs[n-1]
	}
	c.elem.truncate(end)
}

func (c *arrayCol) prepare() { c.elem.prepare() }

// out is used for an Array(Array(T)): each row of the outer array is a
// slice of inner rows, which clickhouse-go walks by reflection.
func (c *arrayCol) out(from, to int) any {
	c.rowsOut = c.rowsOut[:0]
	for i := from; i < to; i++ {
		start := 0
		if i > 0 {
			start = c.offs[i-1]
		}
		c.rowsOut = append(c.rowsOut, c.elem.out(start, c.offs[i]))
	}
	return c.rowsOut
}

// excerpt returns the start of a value for a message: a record's number
// may be as long as the record.
func excerpt(b []byte) string {
	const most = 40
	if len(b) <= most {
		return string(b)
	}
	n := most
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n]) + "…"
}

// jsonKind names the kind of a JSON value, for messages.
func jsonKind(v []byte) string {
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

var errNotInteger = errors.New("not an integer")

// numberText returns the text of a number given as a JSON number or as a
// JSON string holding one, as ClickHouse's JSONEachRow accepts both.
func numberText(v []byte) ([]byte, error) {
	if v[0] == '"' {
		s := v[1 : len(v)-1]
		if len(s) == 0 || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
			return nil, fmt.Errorf("want a number, not a string that is not one")
		}
		if end, err := scanNumber(s, 0); err != nil || end != len(s) {
			return nil, fmt.Errorf("want a number, not a string that is not one")
		}
		return s, nil
	}
	if v[0] == '-' || v[0] >= '0' && v[0] <= '9' {
		return v, nil
	}
	return nil, fmt.Errorf("want a number, not %s", jsonKind(v))
}

// parseInt parses a valid JSON number that must be an integer. Exponents
// and fractions are allowed when the value is whole (1e3, 2.0).
func parseInt(s []byte) (neg bool, mag uint64, err error) {
	i := 0
	if s[0] == '-' {
		neg, i = true, 1
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return parseIntSlow(s)
		}
		d := uint64(c - '0')
		if mag > (math.MaxUint64-d)/10 {
			return neg, 0, fmt.Errorf("%s is out of range", excerpt(s))
		}
		mag = mag*10 + d
	}
	return neg, mag, nil
}

func parseIntSlow(s []byte) (bool, uint64, error) {
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil || math.IsInf(f, 0) {
		return false, 0, fmt.Errorf("%s is out of range", excerpt(s))
	}
	if f != math.Trunc(f) {
		return false, 0, fmt.Errorf("%s: %w", excerpt(s), errNotInteger)
	}
	if math.Abs(f) >= 1<<64 {
		return false, 0, fmt.Errorf("%s is out of range", excerpt(s))
	}
	if f < 0 {
		return true, uint64(-f), nil
	}
	return false, uint64(f), nil
}

func boolValue(v []byte) (uint64, bool) {
	switch v[0] {
	case 't':
		return 1, true
	case 'f':
		return 0, true
	}
	return 0, false
}

func uintConv[T uint8 | uint16 | uint32 | uint64](max uint64) func([]byte) (T, error) {
	return func(v []byte) (T, error) {
		if b, ok := boolValue(v); ok {
			return T(b), nil
		}
		s, err := numberText(v)
		if err != nil {
			return 0, err
		}
		neg, mag, err := parseInt(s)
		if err != nil {
			return 0, err
		}
		if neg && mag != 0 || mag > max {
			return 0, fmt.Errorf("%s is out of range [0, %d]", excerpt(s), max)
		}
		return T(mag), nil
	}
}

func intConv[T int8 | int16 | int32 | int64](min, max int64) func([]byte) (T, error) {
	return func(v []byte) (T, error) {
		if b, ok := boolValue(v); ok {
			return T(b), nil
		}
		s, err := numberText(v)
		if err != nil {
			return 0, err
		}
		neg, mag, err := parseInt(s)
		if err != nil {
			return 0, err
		}
		if !neg && mag > uint64(max) || neg && mag > uint64(-(min+1))+1 {
			return 0, fmt.Errorf("%s is out of range [%d, %d]", excerpt(s), min, max)
		}
		if neg && mag > 0 {
			return T(-int64(mag-1) - 1), nil // -(mag-1)-1: no overflow at min
		}
		return T(mag), nil
	}
}

func floatConv[T float32 | float64](bits int) func([]byte) (T, error) {
	return func(v []byte) (T, error) {
		if b, ok := boolValue(v); ok {
			return T(b), nil
		}
		var s []byte
		if v[0] == '"' {
			// As ClickHouse, a string may also hold nan or inf.
			s = v[1 : len(v)-1]
		} else if v[0] == '-' || v[0] >= '0' && v[0] <= '9' {
			s = v
		} else {
			return 0, fmt.Errorf("want a number, not %s", jsonKind(v))
		}
		f, err := strconv.ParseFloat(string(s), bits)
		if err != nil {
			var ne *strconv.NumError
			if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
				return 0, fmt.Errorf("%s is out of range for Float%d", excerpt(s), bits)
			}
			return 0, fmt.Errorf("want a number, not a string that is not one")
		}
		return T(f), nil
	}
}

// The ranges of ClickHouse's Date (days since 1970, a UInt16) and
// DateTime (seconds since 1970, a UInt32).
const (
	maxDate     = math.MaxUint16
	maxDateTime = math.MaxUint32
	// epochMillisFrom is where a number stops being read as epoch
	// seconds and starts being read as epoch milliseconds: 1e11 s is in
	// the year 5138, 1e11 ms in 1973.
	epochMillisFrom = 1e11
)

// epochSeconds reads a number of seconds or, from epochMillisFrom up,
// milliseconds since 1970, rounding down to the second.
func epochSeconds(s []byte) (int64, error) {
	neg, mag, err := parseInt(s)
	if err == nil {
		if mag >= epochMillisFrom {
			mag /= 1000
		}
		if neg {
			return -int64(min(mag, math.MaxInt64)), nil
		}
		return int64(min(mag, math.MaxInt64)), nil
	}
	f, ferr := strconv.ParseFloat(string(s), 64)
	if ferr != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%s is not a time", excerpt(s))
	}
	if math.Abs(f) >= epochMillisFrom {
		f /= 1000
	}
	f = math.Floor(f)
	if f < math.MinInt64 || f > math.MaxInt64 {
		return 0, fmt.Errorf("%s is out of range", excerpt(s))
	}
	return int64(f), nil
}

// timeValue reads a Date or DateTime value: a string holding an RFC 3339
// date or date-time (isTS), or epoch seconds or milliseconds as a number
// or a string holding one (secs).
func timeValue(v []byte, want string) (ts timestamp, isTS bool, secs int64, err error) {
	if v[0] == '"' && len(v) > 2 && !isNumberStart(v[1]) || v[0] == '"' && len(v) > 6 && v[5] == '-' {
		ts, err = parseTimestamp(v[1 : len(v)-1])
		return ts, true, 0, err
	}
	s, err := numberText(v)
	if err != nil {
		return ts, false, 0, fmt.Errorf("want %s or epoch seconds, not %s", want, jsonKind(v))
	}
	secs, err = epochSeconds(s)
	return ts, false, secs, err
}

// dateConv converts an RFC 3339 date (2024-05-01) or date-time, whose date
// is taken as written, or epoch seconds or milliseconds, whose date is
// taken in UTC.
func dateConv(v []byte) (time.Time, error) {
	ts, isTS, secs, err := timeValue(v, "an RFC 3339 date")
	if err != nil {
		return time.Time{}, err
	}
	days := floorDiv(secs, 86400)
	if isTS {
		days = daysFromCivil(ts.year, ts.month, ts.day)
	}
	if days < 0 || days > maxDate {
		return time.Time{}, fmt.Errorf("date out of the range of Date (1970-01-01 to 2149-06-06)")
	}
	return time.Unix(days*86400, 0).UTC(), nil
}

// dateTimeConv converts an RFC 3339 date-time or epoch seconds or
// milliseconds. A date-time without a zone offset (2024-05-01 12:00:00,
// as ClickHouse writes them) is read in loc, the column's time zone; with
// none, it is an error rather than a guess at the server's.
func dateTimeConv(loc *time.Location) func([]byte) (int64, error) {
	return func(v []byte) (int64, error) {
		ts, isTS, secs, err := timeValue(v, "an RFC 3339 date-time")
		if err != nil {
			return 0, err
		}
		switch {
		case !isTS:
		case ts.hasZone:
			secs = daysFromCivil(ts.year, ts.month, ts.day)*86400 + int64(ts.hour*3600+ts.min*60+ts.sec) - int64(ts.offset)
		case loc != nil:
			secs = time.Date(ts.year, time.Month(ts.month), ts.day, ts.hour, ts.min, ts.sec, 0, loc).Unix()
		default:
			return 0, errors.New("a date-time without a zone offset is ambiguous: add Z or ±hh:mm (RFC 3339), or give the column a zone, as in DateTime('UTC')")
		}
		if secs < 0 || secs > maxDateTime {
			return 0, fmt.Errorf("time out of the range of DateTime (1970-01-01 to 2106-02-07 UTC)")
		}
		return secs, nil
	}
}

func isNumberStart(c byte) bool { return c == '-' || c >= '0' && c <= '9' }

func uuidConv(v []byte) (uuid.UUID, error) {
	if v[0] != '"' {
		return uuid.UUID{}, fmt.Errorf("want a UUID string, not %s", jsonKind(v))
	}
	u, err := uuid.ParseBytes(v[1 : len(v)-1])
	if err != nil {
		return uuid.UUID{}, fmt.Errorf("not a UUID: %w", err)
	}
	return u, nil
}

// timestamp is a parsed RFC 3339 date or date-time.
type timestamp struct {
	year, month, day int
	hour, min, sec   int
	hasZone          bool
	offset           int // seconds east of UTC
}

var errTimestamp = errors.New("not an RFC 3339 date or date-time (2024-05-01, 2024-05-01T12:00:00Z, 2024-05-01 12:00:00.5+02:00)")

// parseTimestamp parses YYYY-MM-DD, optionally followed by T or a space
// and hh:mm[:ss[.frac]], optionally followed by Z or ±hh[:mm]. Fractions
// of a second are dropped: DateTime holds whole seconds.
func parseTimestamp(s []byte) (timestamp, error) {
	var ts timestamp
	num := func(i, n int) (int, bool) {
		if i+n > len(s) {
			return 0, false
		}
		x := 0
		for _, c := range s[i : i+n] {
			if c < '0' || c > '9' {
				return 0, false
			}
			x = x*10 + int(c-'0')
		}
		return x, true
	}
	var ok1, ok2, ok3 bool
	ts.year, ok1 = num(0, 4)
	ts.month, ok2 = num(5, 2)
	ts.day, ok3 = num(8, 2)
	if !ok1 || !ok2 || !ok3 || s[4] != '-' || s[7] != '-' {
		return ts, errTimestamp
	}
	if ts.month < 1 || ts.month > 12 || ts.day < 1 || ts.day > daysIn(ts.year, ts.month) {
		return ts, fmt.Errorf("%w: no such day", errTimestamp)
	}
	i := 10
	if i == len(s) {
		return ts, nil
	}
	if s[i] != 'T' && s[i] != 't' && s[i] != ' ' {
		return ts, errTimestamp
	}
	var ok bool
	if ts.hour, ok = num(i+1, 2); !ok || i+3 >= len(s) || s[i+3] != ':' {
		return ts, errTimestamp
	}
	if ts.min, ok = num(i+4, 2); !ok {
		return ts, errTimestamp
	}
	i += 6
	if i < len(s) && s[i] == ':' {
		if ts.sec, ok = num(i+1, 2); !ok {
			return ts, errTimestamp
		}
		i += 3
		if i < len(s) && s[i] == '.' {
			i++
			start := i
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
			if i == start {
				return ts, errTimestamp
			}
		}
	}
	if ts.hour > 23 || ts.min > 59 || ts.sec > 60 {
		return ts, fmt.Errorf("%w: no such time", errTimestamp)
	}
	if i == len(s) {
		return ts, nil
	}
	ts.hasZone = true
	switch s[i] {
	case 'Z', 'z':
		if i+1 != len(s) {
			return ts, errTimestamp
		}
		return ts, nil
	case '+', '-':
		h, ok := num(i+1, 2)
		if !ok {
			return ts, errTimestamp
		}
		m := 0
		switch rest := len(s) - (i + 3); {
		case rest == 0:
		case rest == 3 && s[i+3] == ':':
			m, ok = num(i+4, 2)
		case rest == 2:
			m, ok = num(i+3, 2)
		default:
			ok = false
		}
		if !ok || h > 23 || m > 59 {
			return ts, errTimestamp
		}
		ts.offset = h*3600 + m*60
		if s[i] == '-' {
			ts.offset = -ts.offset
		}
		return ts, nil
	}
	return ts, errTimestamp
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic
// Gregorian date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(int64(y), 400)
	yoe := int64(y) - era*400
	mp := int64(m+9) % 12
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
