package exec

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hydrantio/hydrant/sql"
)

// Values at run time are Go values whose dynamic type follows the static
// sql.Type of their expression: nil (NULL), string, int64, float64 (also
// DECIMAL, computed in binary floating point for now), bool, Timestamp and
// JSON.

// Timestamp is a point in event time, in milliseconds since the Unix epoch.
type Timestamp int64

// JSON is a decoded JSON document (json.Number for numbers).
type JSON struct{ V any }

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func (t Timestamp) String() string {
	return time.UnixMilli(int64(t)).UTC().Format(timeLayout)
}

// Timestamps are kept within years 1 to 9999, so that window arithmetic
// cannot overflow.
const (
	minTime = -62135596800000
	maxTime = 253402300799999
)

// checkTime converts epoch milliseconds to a Timestamp.
func checkTime(ms float64) (any, error) {
	if !(ms >= minTime && ms <= maxTime) {
		return nil, fmt.Errorf("%v milliseconds since the epoch is out of range (years 1 to 9999)", ms)
	}
	return Timestamp(ms), nil
}

// parseTimestamp reads RFC 3339 (with or without a zone, T or space between
// date and time; UTC when no zone is given) or a plain date.
func parseTimestamp(s string) (Timestamp, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			if ms := t.UnixMilli(); ms >= minTime && ms <= maxTime {
				return Timestamp(ms), nil
			}
		}
	}
	return 0, fmt.Errorf("%q is not a timestamp (want RFC 3339, as in 2026-01-02T15:04:05.000Z)", s)
}

// convert turns v into a value of type t, as CAST does.
func convert(v any, t sql.Type) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t {
	case sql.TypeString:
		return toText(v), nil
	case sql.TypeInt64:
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			return int64(math.Round(x)), nil
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		case Timestamp:
			return int64(x), nil
		case string:
			s := strings.TrimSpace(x)
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				return n, nil
			}
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				return int64(math.Round(f)), nil
			}
			return nil, fmt.Errorf("%q is not an integer", x)
		case JSON:
			return convert(jsonScalar(x.V), t)
		}
	case sql.TypeFloat64, sql.TypeDecimal:
		switch x := v.(type) {
		case int64:
			return float64(x), nil
		case float64:
			return x, nil
		case bool:
			if x {
				return 1.0, nil
			}
			return 0.0, nil
		case Timestamp:
			return float64(x), nil
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not a number", x)
			}
			return f, nil
		case JSON:
			return convert(jsonScalar(x.V), t)
		}
	case sql.TypeBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		case float64:
			return x != 0, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true", "1":
				return true, nil
			case "false", "0":
				return false, nil
			}
			return nil, fmt.Errorf("%q is not a boolean", x)
		case JSON:
			return convert(jsonScalar(x.V), t)
		}
	case sql.TypeTimestamp:
		switch x := v.(type) {
		case Timestamp:
			return x, nil
		case int64:
			return checkTime(float64(x))
		case float64:
			return checkTime(math.Round(x))
		case string:
			return parseTimestamp(x)
		case JSON:
			return convert(jsonScalar(x.V), t)
		}
	case sql.TypeJSON:
		switch x := v.(type) {
		case JSON:
			return x, nil
		case string:
			var d any
			dec := json.NewDecoder(strings.NewReader(x))
			dec.UseNumber()
			if err := dec.Decode(&d); err != nil {
				return nil, fmt.Errorf("%q is not JSON", x)
			}
			return JSON{d}, nil
		case int64:
			return JSON{json.Number(strconv.FormatInt(x, 10))}, nil
		case float64:
			return JSON{json.Number(strconv.FormatFloat(x, 'g', -1, 64))}, nil
		case bool:
			return JSON{x}, nil
		case Timestamp:
			return JSON{x.String()}, nil
		}
	case sql.TypeNull:
		return nil, nil
	}
	return nil, fmt.Errorf("cannot convert %s to %s", toText(v), t)
}

// jsonScalar maps a JSON number, string or bool onto a SQL value.
func jsonScalar(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case string, bool, nil:
		return x
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// toText renders v as a string, as CAST(v AS CHAR) and CONCAT do.
func toText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		if x {
			return "true"
		}
		return "false"
	case Timestamp:
		return x.String()
	case JSON:
		if s, ok := x.V.(string); ok {
			return s
		}
		b, _ := json.Marshal(x.V)
		return string(b)
	}
	return fmt.Sprint(v)
}

// rank orders the dynamic types for compare; numbers share a rank.
func rank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case int64, float64:
		return 2
	case Timestamp:
		return 3
	case string:
		return 4
	}
	return 5
}

// compare orders two non-NULL values of comparable types, converting a
// string compared with a timestamp and a bool compared with a number. ok is
// false when they cannot be compared.
func compare(a, b any) (c int, ok bool) {
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return cmp3(x, y), true
		case float64:
			return cmpFloat(float64(x), y), true
		case bool:
			return compare(x, boolInt(y))
		}
	case float64:
		switch y := b.(type) {
		case int64:
			return cmpFloat(x, float64(y)), true
		case float64:
			return cmpFloat(x, y), true
		case bool:
			return compare(x, boolInt(y))
		}
	case bool:
		switch y := b.(type) {
		case bool:
			return cmp3(boolInt(x), boolInt(y)), true
		case int64, float64:
			return compare(boolInt(x), y)
		}
	case string:
		switch y := b.(type) {
		case string:
			return strings.Compare(x, y), true
		case Timestamp:
			t, err := parseTimestamp(x)
			if err != nil {
				return 0, false
			}
			return cmp3(t, y), true
		}
	case Timestamp:
		switch y := b.(type) {
		case Timestamp:
			return cmp3(x, y), true
		case string:
			c, ok := compare(y, x)
			return -c, ok
		}
	case JSON:
		if y, ok := b.(JSON); ok {
			return strings.Compare(toText(x), toText(y)), true
		}
	}
	return 0, false
}

// order is a total order over values for sorting output: NULL first, then
// by type, then by value.
func order(a, b any) int {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return cmp3(ra, rb)
	}
	if c, ok := compare(a, b); ok {
		return c
	}
	return strings.Compare(toText(a), toText(b))
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func cmp3[T int | int64 | Timestamp](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// appendKey appends an unambiguous encoding of v, to use a tuple of values
// as a map key. Numbers of either kind encode alike when equal.
func appendKey(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, 'n')
	case bool:
		if x {
			return append(dst, 'T')
		}
		return append(dst, 'F')
	case int64:
		return strconv.AppendInt(append(dst, 'i'), x, 10)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<62 {
			return strconv.AppendInt(append(dst, 'i'), int64(x), 10)
		}
		return strconv.AppendFloat(append(dst, 'f'), x, 'g', -1, 64)
	case Timestamp:
		return strconv.AppendInt(append(dst, 't'), int64(x), 10)
	}
	s := toText(v)
	dst = strconv.AppendInt(append(dst, 's'), int64(len(s)), 10)
	return append(append(dst, ':'), s...)
}

// appendJSON appends v as a JSON value.
func appendJSON(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		return strconv.AppendBool(dst, x)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(dst, "null"...)
		}
		return strconv.AppendFloat(dst, x, 'g', -1, 64)
	case Timestamp:
		return strconv.AppendQuote(dst, x.String())
	case string:
		b, _ := json.Marshal(x)
		return append(dst, b...)
	case JSON:
		b, err := json.Marshal(x.V)
		if err != nil {
			return append(dst, "null"...)
		}
		return append(dst, b...)
	case *object:
		return x.appendJSON(dst)
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSON(dst, e)
		}
		return append(dst, ']')
	}
	b, _ := json.Marshal(v)
	return append(dst, b...)
}

// object is a JSON object that keeps its keys in insertion order.
type object struct {
	keys []string
	vals map[string]any
}

func newObject() *object { return &object{vals: map[string]any{}} }

func (o *object) get(k string) (any, bool) {
	v, ok := o.vals[k]
	return v, ok
}

func (o *object) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *object) appendJSON(dst []byte) []byte {
	dst = append(dst, '{')
	for i, k := range o.keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		b, _ := json.Marshal(k)
		dst = append(append(dst, b...), ':')
		dst = appendJSON(dst, o.vals[k])
	}
	return append(dst, '}')
}
