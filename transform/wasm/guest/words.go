package guest

import (
	"math/bits"
	"unicode/utf8"
	"unsafe"
)

// Under wazero with termination checks (which the host needs to stop a
// runaway function), every loop header checks whether to stop, by a call
// out of the compiled code: about 50 ns, the price of 100 plain
// instructions. Go's code generator sends nearly every taken branch, and
// the entry of every function that branches, through a loop header. The
// hot paths below therefore work a word or a block at a time, in
// straight-line code: a byte loop costs 10 to 20 times more than it would
// natively.

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// load64 reads 8 bytes of b at i, little-endian (as both amd64 and wasm
// are). The caller guarantees i+8 <= len(b).
func load64(b []byte, i int) uint64 {
	_ = b[i+7]
	return *(*uint64)(unsafe.Pointer(&b[i]))
}

// store64 writes 8 bytes into b at i, little-endian. The caller
// guarantees i+8 <= len(b).
func store64(b []byte, i int, v uint64) {
	_ = b[i+7]
	*(*uint64)(unsafe.Pointer(&b[i])) = v
}

// special has the high bit set in the lowest byte of x that a JSON string
// cannot hold as is (a quote, a backslash, a control character) or that
// starts a multi-byte UTF-8 sequence, and maybe in bytes above it; zero
// when x has none.
func special(x uint64) uint64 {
	q := x ^ (lsb * '"')
	s := x ^ (lsb * '\\')
	return ((q-lsb)&^q | (s-lsb)&^s | (x - lsb*0x20) | x) & msb
}

// scanString finds the end of the plain JSON string whose contents start
// at b[i]: it returns the index of the closing quote, or false if the
// string has an escape or a control character, is not valid UTF-8, or is
// not closed.
func scanString(b []byte, i int) (int, bool) {
	for {
		for i+16 <= len(b) {
			m := special(load64(b, i))
			if m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			m = special(load64(b, i+8))
			if m != 0 {
				i += 8 + bits.TrailingZeros64(m)/8
				break
			}
			i += 16
		}
		for i < len(b) && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' && b[i] < utf8.RuneSelf {
			i++
		}
		if i >= len(b) {
			return 0, false
		}
		switch c := b[i]; {
		case c == '"':
			return i, true
		case c < utf8.RuneSelf: // a backslash or a control character
			return 0, false
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return 0, false
		}
		i += size
	}
}

// plainString reports whether s needs no escaping in JSON: no quote,
// backslash or control character, and only ASCII.
func plainString(s string) bool {
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	if len(b) < 8 {
		// Padded with spaces to a word, not scanned a byte at a time.
		w := [8]byte{' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '}
		copy(w[:], b)
		return special(load64(w[:], 0)) == 0
	}
	var m uint64
	i := 0
	for ; i+16 <= len(b); i += 16 {
		m |= special(load64(b, i)) | special(load64(b, i+8))
	}
	// The rest, fewer than 16 bytes, as two words that may overlap each
	// other and what was seen.
	return m|special(load64(b, min(i, len(b)-8)))|special(load64(b, len(b)-8)) == 0
}

// parseUint reads the digits of b at i and returns their value, the index
// after them and their number, or false past 19 digits.
func parseUint(b []byte, i int) (v uint64, end, n int, ok bool) {
	for i+8 <= len(b) {
		x := load64(b, i) - lsb*'0'
		// A byte is a digit if it is 0 to 9 after the subtraction: no
		// borrow into its high bits, and below 10.
		nd := (x | (x + lsb*(0x80-10))) & msb
		k := 8
		if nd != 0 {
			k = bits.TrailingZeros64(nd) / 8
			if k == 0 {
				return v, i, n, n <= 19
			}
			x <<= 64 - 8*k // the k digits to the top, zeros below
		}
		n += k
		if n > 19 {
			return 0, 0, 0, false
		}
		v = v*pow10[k] + eightDigits(x)
		i += k
		if k < 8 {
			return v, i, n, true
		}
	}
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if n++; n > 19 {
			return 0, 0, 0, false
		}
		v = v*10 + uint64(b[i]-'0')
	}
	return v, i, n, true
}

// eightDigits returns the value of 8 digits, each a byte 0 to 9, the
// first in the lowest byte.
func eightDigits(x uint64) uint64 {
	x = (x*10 + x>>8) & 0x00ff00ff00ff00ff
	x = (x*100 + x>>16) & 0x0000ffff0000ffff
	return (x*10000 + x>>32) & 0xffffffff
}

var pow10 = [9]uint64{1, 10, 100, 1000, 1e4, 1e5, 1e6, 1e7, 1e8}
