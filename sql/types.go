package sql

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Type is the type of a Hydrant value. SQL column types map onto these few.
type Type uint8

const (
	TypeNull      Type = iota // the type of a NULL literal; assignable to every type
	TypeString                // CHAR, VARCHAR, TEXT, ENUM, SET
	TypeInt64                 // TINYINT … BIGINT, YEAR
	TypeFloat64               // FLOAT, DOUBLE
	TypeDecimal               // DECIMAL, NUMERIC
	TypeBool                  // BOOL, BOOLEAN (TINYINT(1))
	TypeTimestamp             // TIMESTAMP, DATETIME, DATE; milliseconds since the epoch
	TypeJSON                  // JSON
)

var typeNames = [...]string{"null", "string", "int64", "float64", "decimal", "bool", "timestamp", "json"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", t)
}

func (t Type) numeric() bool { return t == TypeInt64 || t == TypeFloat64 || t == TypeDecimal }

// assignable reports whether a value of type from may be written to a column
// of type to without an explicit CAST.
func assignable(from, to Type) bool {
	switch {
	case from == to || from == TypeNull:
		return true
	case to == TypeFloat64 || to == TypeDecimal:
		return from.numeric()
	case to == TypeBool:
		return from == TypeInt64
	}
	return false
}

// ParseDuration parses a window duration written as a string: a positive
// integer, one space and a unit (MILLISECOND, SECOND, MINUTE, HOUR or DAY,
// singular or plural, any case), as in '10 SECOND'.
func ParseDuration(s string) (time.Duration, error) {
	num, unit, ok := strings.Cut(s, " ")
	if !ok || num == "" || unit == "" {
		return 0, fmt.Errorf("duration %q must be a number and a unit, as in '10 SECOND'", s)
	}
	for _, c := range []byte(num) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("duration %q must start with a whole number, as in '10 SECOND'", s)
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("duration %q must be a positive whole number of a unit", s)
	}
	d, err := unitDuration(unit)
	if err != nil {
		return 0, fmt.Errorf("duration %q: %w", s, err)
	}
	if n > int64(1<<62)/int64(d) {
		return 0, fmt.Errorf("duration %q is too long", s)
	}
	return time.Duration(n) * d, nil
}

func unitDuration(unit string) (time.Duration, error) {
	switch strings.TrimSuffix(strings.ToUpper(unit), "S") {
	case "MILLISECOND":
		return time.Millisecond, nil
	case "SECOND":
		return time.Second, nil
	case "MINUTE":
		return time.Minute, nil
	case "HOUR":
		return time.Hour, nil
	case "DAY":
		return 24 * time.Hour, nil
	}
	return 0, fmt.Errorf("unknown unit %q (want MILLISECOND, SECOND, MINUTE, HOUR or DAY)", unit)
}
