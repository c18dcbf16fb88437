package parquet

import (
	"math"
	"math/bits"
)

// parseInt parses a JSON integer literal (as scanNumber accepted it: an
// optional minus sign, then digits without a leading zero) and reports
// whether it fits an int64.
func parseInt(b []byte) (int64, bool) {
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) > 19 { // 10^19 > MaxInt64 and there are no leading zeros
		return 0, false
	}
	var u uint64 // 19 digits fit
	for _, c := range b {
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// u128 is an unsigned 128-bit integer, enough for 38 decimal digits.
type u128 struct{ hi, lo uint64 }

func (u u128) mul10add(d uint64) u128 {
	hi, lo := bits.Mul64(u.lo, 10)
	lo, carry := bits.Add64(lo, d, 0)
	return u128{hi: u.hi*10 + hi + carry, lo: lo}
}

// decimal is a decimal number scaled to an integer: value = unscaled /
// 10^scale.
type decimal struct {
	neg      bool
	unscaled u128
}

// parseDecimal converts the JSON number b to an unscaled integer at the
// given scale, rounding half away from zero as Hive does, and reports whether
// the result has at most precision digits.
func parseDecimal(b []byte, precision, scale int) (decimal, bool) {
	var d decimal
	if b[0] == '-' {
		d.neg = true
		b = b[1:]
	}
	// The significant digits, and the power of ten they are scaled by.
	var digits [maxDecimalPrecision + 2]byte
	nd, exp, i := 0, 0, 0
	dropped := 0 // integer digits past the buffer, too small to matter for rounding
	for ; i < len(b) && isDigit(b[i]); i++ {
		if nd == 0 && b[i] == '0' {
			continue
		}
		if nd < len(digits) {
			digits[nd] = b[i]
			nd++
		} else {
			dropped++
		}
	}
	exp += dropped
	if i < len(b) && b[i] == '.' {
		for i++; i < len(b) && isDigit(b[i]); i++ {
			if nd == 0 && b[i] == '0' {
				exp-- // leading zeros of the fraction
				continue
			}
			if nd < len(digits) {
				digits[nd] = b[i]
				nd++
				exp--
			}
			// Digits past the buffer are too small to matter: a decimal holds
			// at most 38 digits and rounding looks at one more.
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if b[i] == '+' || b[i] == '-' {
			eneg = b[i] == '-'
			i++
		}
		e := 0
		for ; i < len(b); i++ {
			if e < 1e6 { // anything larger is out of range or zero anyway
				e = e*10 + int(b[i]-'0')
			}
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if nd == 0 {
		return decimal{}, true // zero, however written
	}
	// value = digits * 10^exp; unscaled = digits * 10^(exp+scale).
	shift := exp + scale
	if shift >= 0 {
		if nd+shift > precision {
			return decimal{}, false
		}
		for k := 0; k < nd; k++ {
			d.unscaled = d.unscaled.mul10add(uint64(digits[k] - '0'))
		}
		for k := 0; k < shift; k++ {
			d.unscaled = d.unscaled.mul10add(0)
		}
		return d, true
	}
	keep := nd + shift // digits left of the rounding point
	if keep < 0 {
		return decimal{}, true // rounds to zero
	}
	if keep > precision {
		return decimal{}, false
	}
	for k := 0; k < keep; k++ {
		d.unscaled = d.unscaled.mul10add(uint64(digits[k] - '0'))
	}
	if digits[keep] >= '5' {
		lo, carry := bits.Add64(d.unscaled.lo, 1, 0)
		d.unscaled = u128{hi: d.unscaled.hi + carry, lo: lo}
		if digitCount(d.unscaled) > precision {
			return decimal{}, false
		}
	}
	if d.unscaled == (u128{}) {
		d.neg = false
	}
	return d, true
}

// digitCount returns the number of decimal digits of u (0 for zero).
func digitCount(u u128) int {
	n := 0
	for u != (u128{}) {
		q, _ := bits.Div64(u.hi%10, u.lo, 10)
		u = u128{hi: u.hi / 10, lo: q}
		n++
	}
	return n
}

// int64 returns the decimal as an int64; its precision must be at most 18.
func (d decimal) int64() int64 {
	v := int64(d.unscaled.lo)
	if d.neg {
		return -v
	}
	return v
}

// appendBigEndian appends the two's complement of the decimal in n bytes.
func (d decimal) appendBigEndian(dst []byte, n int) []byte {
	hi, lo := d.unscaled.hi, d.unscaled.lo
	if d.neg {
		var borrow uint64
		lo, borrow = bits.Sub64(0, lo, 0)
		hi, _ = bits.Sub64(0, hi, borrow)
	}
	sign := byte(0)
	if d.neg {
		sign = 0xff
	}
	for k := n - 1; k >= 0; k-- {
		switch {
		case k >= 16:
			dst = append(dst, sign)
		case k >= 8:
			dst = append(dst, byte(hi>>(8*(k-8))))
		default:
			dst = append(dst, byte(lo>>(8*k)))
		}
	}
	return dst
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// digits parses exactly n decimal digits at b[i:].
func digits(b []byte, i, n int) (int, bool) {
	if i+n > len(b) {
		return 0, false
	}
	v := 0
	for _, c := range b[i : i+n] {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// digits12 parses one or two decimal digits at b[i:] and returns the value
// and the index after them.
func digits12(b []byte, i int) (int, int, bool) {
	if i >= len(b) || !isDigit(b[i]) {
		return 0, i, false
	}
	v := int(b[i] - '0')
	i++
	if i < len(b) && isDigit(b[i]) {
		v = v*10 + int(b[i]-'0')
		i++
	}
	return v, i, true
}

// parseDatePart parses yyyy-M[M]-d[d] at the start of b and returns the
// days since the epoch and the index after the date.
func parseDatePart(b []byte) (days int64, n int, ok bool) {
	y, ok := digits(b, 0, 4)
	if !ok || len(b) < 5 || b[4] != '-' {
		return 0, 0, false
	}
	m, i, ok := digits12(b, 5)
	if !ok || m < 1 || m > 12 || i >= len(b) || b[i] != '-' {
		return 0, 0, false
	}
	d, i, ok := digits12(b, i+1)
	if !ok || d < 1 || d > daysIn(y, m) {
		return 0, 0, false
	}
	return daysFromCivil(y, m, d), i, true
}

// parseDate parses a date column's string: yyyy-MM-dd (one-digit month and
// day are accepted too).
func parseDate(b []byte) (int32, bool) {
	days, n, ok := parseDatePart(b)
	if !ok || n != len(b) {
		return 0, false
	}
	return int32(days), true
}

// parseTimestamp parses a timestamp column's string and returns the seconds
// since the epoch and the nanoseconds within the second. It accepts
//
//	yyyy-M[M]-d[d]
//	yyyy-M[M]-d[d]('T'|'t'|' ')HH:mm:ss[.f{1,9}][zone]
//
// where zone is 'Z', 'z' or ±HH:mm; without a zone the time is UTC. This
// covers RFC 3339 and Firehose's "yyyy-MM-dd HH:mm:ss[.fffffffff]".
func parseTimestamp(b []byte) (sec, nsec int64, ok bool) {
	days, i, ok := parseDatePart(b)
	if !ok {
		return 0, 0, false
	}
	sec = days * 86400
	if i == len(b) {
		return sec, 0, true
	}
	if c := b[i]; c != 'T' && c != 't' && c != ' ' {
		return 0, 0, false
	}
	hh, ok1 := digits(b, i+1, 2)
	mm, ok2 := digits(b, i+4, 2)
	ss, ok3 := digits(b, i+7, 2)
	if !ok1 || !ok2 || !ok3 || b[i+3] != ':' || b[i+6] != ':' || hh > 23 || mm > 59 || ss > 59 {
		return 0, 0, false
	}
	sec += int64(hh*3600 + mm*60 + ss)
	i += 9
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		for ; i < len(b) && isDigit(b[i]); i++ {
			nsec = nsec*10 + int64(b[i]-'0')
		}
		n := i - start
		if n == 0 || n > 9 {
			return 0, 0, false
		}
		for ; n < 9; n++ {
			nsec *= 10
		}
	}
	if i == len(b) {
		return sec, nsec, true
	}
	switch b[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		oh, ok1 := digits(b, i+1, 2)
		om, ok2 := digits(b, i+4, 2)
		if !ok1 || !ok2 || b[i+3] != ':' || oh > 23 || om > 59 {
			return 0, 0, false
		}
		off := int64(oh*3600 + om*60)
		if b[i] == '+' {
			off = -off
		}
		sec += off
		i += 6
	default:
		return 0, 0, false
	}
	return sec, nsec, i == len(b)
}
