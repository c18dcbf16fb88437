package guest

import (
	"encoding/base64"
	"slices"
	"unsafe"
)

// Standard base64 (RFC 4648, padded), the encoding of the contract's data
// fields, 64 characters (48 bytes) at a time, by straight-line code that
// costs no termination check (words.go).

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

var (
	// b64Pairs decodes two characters at once: the 12 bits of c0 | c1<<8,
	// or 0xffff when either is outside the alphabet.
	b64Pairs [1 << 16]uint16
	// b64EncPairs encodes 12 bits at once into two characters, the first
	// in the low byte.
	b64EncPairs [1 << 12]uint16
)

func init() {
	// Filled by doubling copies: a loop over the 65536 entries would
	// cost 3 ms at each start of an instance.
	b64Pairs[0] = 0xffff
	for n := 1; n < len(b64Pairs); n *= 2 {
		copy(b64Pairs[n:], b64Pairs[:n])
	}
	for i := range len(b64Alphabet) {
		for j := range len(b64Alphabet) {
			b64Pairs[uint16(b64Alphabet[i])|uint16(b64Alphabet[j])<<8] = uint16(i)<<6 | uint16(j)
			b64EncPairs[i<<6|j] = uint16(b64Alphabet[i]) | uint16(b64Alphabet[j])<<8
		}
	}
}

// decode64 decodes the 64 characters at src into the 48 bytes at dst,
// and writes 2 more bytes of garbage after them. bad has its high bit set
// if a character is outside the alphabet. It has no branch, not even a
// bounds check, so calling it costs no termination check: the caller
// checks the bounds.
func decode64(dst, src unsafe.Pointer) (bad uint16) {
	var (
		x, n, m    uint64
		p, q, r, t uint16
	)
	x = *(*uint64)(unsafe.Add(src, 0))
	p, q, r, t = b64Pairs[uint16(x)], b64Pairs[uint16(x>>16)], b64Pairs[uint16(x>>32)], b64Pairs[uint16(x>>48)]
	bad |= p | q | r | t
	n, m = uint64(p)<<12|uint64(q), uint64(r)<<12|uint64(t)
	*(*uint64)(unsafe.Add(dst, 0)) = n>>16&0xff | n&0xff00 | (n&0xff)<<16 | (m>>16&0xff)<<24 | (m&0xff00)<<24 | (m&0xff)<<40
	x = *(*uint64)(unsafe.Add(src, 8))
	p, q, r, t = b64Pairs[uint16(x)], b64Pairs[uint16(x>>16)], b64Pairs[uint16(x>>32)], b64Pairs[uint16(x>>48)]
	bad |= p | q | r | t
	n, m = uint64(p)<<12|uint64(q), uint64(r)<<12|uint64(t)
	*(*uint64)(unsafe.Add(dst, 6)) = n>>16&0xff | n&0xff00 | (n&0xff)<<16 | (m>>16&0xff)<<24 | (m&0xff00)<<24 | (m&0xff)<<40
	x = *(*uint64)(unsafe.Add(src, 16))
	p, q, r, t = b64Pairs[uint16(x)], b64Pairs[uint16(x>>16)], b64Pairs[uint16(x>>32)], b64Pairs[uint16(x>>48)]
	bad |= p | q | r | t
	n, m = uint64(p)<<12|uint64(q), uint64(r)<<12|uint64(t)
	*(*uint64)(unsafe.Add(dst, 12)) = n>>16&0xff | n&0xff00 | (n&0xff)<<16 | (m>>16&0xff)<<24 | (m&0xff00)<<24 | (m&0xff)<<40
	x = *(*uint64)(unsafe.Add(src, 24))
	p, q, r, t = b64Pairs[uint16(x)], b64Pairs[uint16(x>>16)], b64Pairs[uint16(x>>32)], b64Pairs[uint16(x>>48)]
	bad |= p | q | r | t
	n, m = uint64(p)<<12|uint64(q), uint64(r)<<12|uint64(t)
	*(*uint64)(unsafe.Add(dst, 18)) = n>>16&0xff | n&0xff00 | (n&0xff)<<16 | (m>>16&0xff)<<24 | (m&0xff00)<<24 | (m&0xff)<<40
	x = *(*uint64)(unsafe.Add(src, 32))
	p, q, r, t = b64Pairs[uint16(x)], b64Pairs[uint16(x>>16)], b64Pairs[uint16(x>>32)], b64Pairs[uint16(x>>48)]
	bad |= p | q | r | t
	n, m = uint64(p)<<12|uint64(q), uint64(r)<<12|uint64(t)
	*(*uint64)(unsafe.Add(dst, 24)) = n>>16&0xff | n&0xff00 | (n&0xff)<<16 | (m>>16&0xff)<<24 | (m&0xff00)<<24 | (m&0xff)<<40
	x = *(*uint64)(unsafe.Add(src, 40))
	p, q, r, t = b64Pairs[uint16(x)], b64Pairs[uint16(x>>16)], b64Pairs[uint16(x>>32)], b64Pairs[uint16(x>>48)]
	bad |= p | q | r | t
	n, m = uint64(p)<<12|uint64(q), uint64(r)<<12|uint64(t)
	*(*uint64)(unsafe.Add(dst, 30)) = n>>16&0xff | n&0xff00 | (n&0xff)<<16 | (m>>16&0xff)<<24 | (m&0xff00)<<24 | (m&0xff)<<40
	x = *(*uint64)(unsafe.Add(src, 48))
	p, q, r, t = b64Pairs[uint16(x)], b64Pairs[uint16(x>>16)], b64Pairs[uint16(x>>32)], b64Pairs[uint16(x>>48)]
	bad |= p | q | r | t
	n, m = uint64(p)<<12|uint64(q), uint64(r)<<12|uint64(t)
	*(*uint64)(unsafe.Add(dst, 36)) = n>>16&0xff | n&0xff00 | (n&0xff)<<16 | (m>>16&0xff)<<24 | (m&0xff00)<<24 | (m&0xff)<<40
	x = *(*uint64)(unsafe.Add(src, 56))
	p, q, r, t = b64Pairs[uint16(x)], b64Pairs[uint16(x>>16)], b64Pairs[uint16(x>>32)], b64Pairs[uint16(x>>48)]
	bad |= p | q | r | t
	n, m = uint64(p)<<12|uint64(q), uint64(r)<<12|uint64(t)
	*(*uint64)(unsafe.Add(dst, 42)) = n>>16&0xff | n&0xff00 | (n&0xff)<<16 | (m>>16&0xff)<<24 | (m&0xff00)<<24 | (m&0xff)<<40
	return bad
}

// encode48 encodes the 48 bytes at src, and reads 2 more, into the 64
// characters at dst. Like decode64, it has no branch.
func encode48(dst, src unsafe.Pointer) {
	var x, n, m uint64
	x = *(*uint64)(unsafe.Add(src, 0))
	n, m = (x&0xff)<<16|x&0xff00|x>>16&0xff, (x>>24&0xff)<<16|x>>24&0xff00|x>>40&0xff
	*(*uint64)(unsafe.Add(dst, 0)) = uint64(b64EncPairs[n>>12]) | uint64(b64EncPairs[n&0xfff])<<16 | uint64(b64EncPairs[m>>12])<<32 | uint64(b64EncPairs[m&0xfff])<<48
	x = *(*uint64)(unsafe.Add(src, 6))
	n, m = (x&0xff)<<16|x&0xff00|x>>16&0xff, (x>>24&0xff)<<16|x>>24&0xff00|x>>40&0xff
	*(*uint64)(unsafe.Add(dst, 8)) = uint64(b64EncPairs[n>>12]) | uint64(b64EncPairs[n&0xfff])<<16 | uint64(b64EncPairs[m>>12])<<32 | uint64(b64EncPairs[m&0xfff])<<48
	x = *(*uint64)(unsafe.Add(src, 12))
	n, m = (x&0xff)<<16|x&0xff00|x>>16&0xff, (x>>24&0xff)<<16|x>>24&0xff00|x>>40&0xff
	*(*uint64)(unsafe.Add(dst, 16)) = uint64(b64EncPairs[n>>12]) | uint64(b64EncPairs[n&0xfff])<<16 | uint64(b64EncPairs[m>>12])<<32 | uint64(b64EncPairs[m&0xfff])<<48
	x = *(*uint64)(unsafe.Add(src, 18))
	n, m = (x&0xff)<<16|x&0xff00|x>>16&0xff, (x>>24&0xff)<<16|x>>24&0xff00|x>>40&0xff
	*(*uint64)(unsafe.Add(dst, 24)) = uint64(b64EncPairs[n>>12]) | uint64(b64EncPairs[n&0xfff])<<16 | uint64(b64EncPairs[m>>12])<<32 | uint64(b64EncPairs[m&0xfff])<<48
	x = *(*uint64)(unsafe.Add(src, 24))
	n, m = (x&0xff)<<16|x&0xff00|x>>16&0xff, (x>>24&0xff)<<16|x>>24&0xff00|x>>40&0xff
	*(*uint64)(unsafe.Add(dst, 32)) = uint64(b64EncPairs[n>>12]) | uint64(b64EncPairs[n&0xfff])<<16 | uint64(b64EncPairs[m>>12])<<32 | uint64(b64EncPairs[m&0xfff])<<48
	x = *(*uint64)(unsafe.Add(src, 30))
	n, m = (x&0xff)<<16|x&0xff00|x>>16&0xff, (x>>24&0xff)<<16|x>>24&0xff00|x>>40&0xff
	*(*uint64)(unsafe.Add(dst, 40)) = uint64(b64EncPairs[n>>12]) | uint64(b64EncPairs[n&0xfff])<<16 | uint64(b64EncPairs[m>>12])<<32 | uint64(b64EncPairs[m&0xfff])<<48
	x = *(*uint64)(unsafe.Add(src, 36))
	n, m = (x&0xff)<<16|x&0xff00|x>>16&0xff, (x>>24&0xff)<<16|x>>24&0xff00|x>>40&0xff
	*(*uint64)(unsafe.Add(dst, 48)) = uint64(b64EncPairs[n>>12]) | uint64(b64EncPairs[n&0xfff])<<16 | uint64(b64EncPairs[m>>12])<<32 | uint64(b64EncPairs[m&0xfff])<<48
	x = *(*uint64)(unsafe.Add(src, 42))
	n, m = (x&0xff)<<16|x&0xff00|x>>16&0xff, (x>>24&0xff)<<16|x>>24&0xff00|x>>40&0xff
	*(*uint64)(unsafe.Add(dst, 56)) = uint64(b64EncPairs[n>>12]) | uint64(b64EncPairs[n&0xfff])<<16 | uint64(b64EncPairs[m>>12])<<32 | uint64(b64EncPairs[m&0xfff])<<48
}

// b64Block is a block of characters for decode64, with room for its
// slack.
type b64Block [64 + 8]byte

// zeroBlock is a block of characters worth 0, to pad a short one.
var zeroBlock = func() (b b64Block) {
	for i := range b {
		b[i] = 'A'
	}
	return b
}()

// decodeBase64 decodes the padded base64 string whose contents start at
// src[i] and end at the next quote into dst. It returns the number of
// bytes written and the index of the closing quote, or false for
// anything but canonical padded base64 (the caller falls back to
// encoding/json, which decides) or if dst is shorter than the decoded
// bytes plus 50.
func decodeBase64(dst, src []byte, i int) (n, end int, ok bool) {
	// Whole blocks up to the first that is not all alphabet: the one
	// holding the padding or the closing quote.
	for i+128 <= len(src) && n+98 <= len(dst) {
		if (decode64(unsafe.Pointer(&dst[n]), unsafe.Pointer(&src[i]))|
			decode64(unsafe.Pointer(&dst[n+48]), unsafe.Pointer(&src[i+64])))&0x8000 != 0 {
			break
		}
		i, n = i+128, n+96
	}
	if i+64 <= len(src) && n+50 <= len(dst) && decode64(unsafe.Pointer(&dst[n]), unsafe.Pointer(&src[i]))&0x8000 == 0 {
		i, n = i+64, n+48
	}
	// The rest, up to the quote, padded to a block with zeros: the
	// padding characters become zeros too, and the bytes they stand for
	// are dropped.
	end, ok = scanString(src, i)
	l := end - i
	if !ok || l > 64 || l%4 != 0 || n+50 > len(dst) {
		return 0, 0, false
	}
	block := zeroBlock
	copy(block[:], src[i:end])
	pad := 0
	if l > 0 && block[l-1] == '=' {
		pad, block[l-1] = 1, 'A'
		if block[l-2] == '=' {
			pad, block[l-2] = 2, 'A'
		}
	}
	if decode64(unsafe.Pointer(&dst[n]), unsafe.Pointer(&block))&0x8000 != 0 {
		return 0, 0, false
	}
	return n + l/4*3 - pad, end, true
}

// appendBase64 appends src as padded standard base64 to dst.
func appendBase64(dst, src []byte) []byte {
	o := len(dst)
	dst = slices.Grow(dst, base64.StdEncoding.EncodedLen(len(src)))
	dst = dst[:cap(dst)]
	i := 0
	for ; i+98 <= len(src) && o+128 <= len(dst); i, o = i+96, o+128 {
		encode48(unsafe.Pointer(&dst[o]), unsafe.Pointer(&src[i]))
		encode48(unsafe.Pointer(&dst[o+64]), unsafe.Pointer(&src[i+48]))
	}
	// The rest, fewer than 98 bytes unless dst ran short, through two
	// blocks padded with zeros: the characters of a last, partial group
	// come out right, and the padding replaces those past it.
	for i < len(src) {
		var in [96 + 2]byte
		var out [128]byte
		n := copy(in[:96], src[i:])
		encode48(unsafe.Pointer(&out[0]), unsafe.Pointer(&in[0]))
		encode48(unsafe.Pointer(&out[64]), unsafe.Pointer(&in[48]))
		o += copy(dst[o:], out[:(n+2)/3*4])
		switch n % 3 {
		case 1:
			dst[o-2], dst[o-1] = '=', '='
		case 2:
			dst[o-1] = '='
		}
		i += n
	}
	return dst[:o]
}
