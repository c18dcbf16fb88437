package guest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/hydrantio/hydrant/transform"
)

// The codec is the guest's hot path: encoding/json spends most of a batch
// in reflection and in its byte-at-a-time scanner, which costs several
// times more under WebAssembly than natively. decodeEvent parses the event
// Hydrant writes (transform.AppendEvent) in one pass and falls back to
// encoding/json for anything unusual, so that together they accept exactly
// what encoding/json accepts and decode it the same way.

// decodeEvent parses the event JSON into ev. The records' Data share one
// fresh allocation, each capped at its own length, so the handler may keep
// or append to them.
func decodeEvent(data []byte, ev *transform.Event) error {
	if decodeEventFast(data, ev) {
		return nil
	}
	*ev = transform.Event{}
	if err := json.Unmarshal(data, ev); err != nil {
		return fmt.Errorf("cannot decode the event: %w", err)
	}
	return nil
}

// decodeEventFast parses the plain JSON of an event: no escapes in
// strings, no nulls, no unknown or repeated keys, integers only. It
// reports false on anything else, leaving ev to be overwritten.
func decodeEventFast(data []byte, ev *transform.Event) bool {
	s := scanner{b: data}
	if !s.consume('{') {
		return false
	}
	var seen [4]bool
	if !s.consume('}') {
		for {
			key, ok := s.plainString()
			if !ok || !s.consume(':') {
				return false
			}
			var k int
			switch string(key) {
			case "invocationId":
				k, ok = 0, s.stringInto(&ev.InvocationID)
			case "deliveryStreamArn":
				k, ok = 1, s.stringInto(&ev.DeliveryStreamArn)
			case "region":
				k, ok = 2, s.stringInto(&ev.Region)
			case "records":
				k, ok = 3, s.records(ev)
			default:
				return false
			}
			if !ok || seen[k] {
				return false
			}
			seen[k] = true
			if s.consume(',') {
				continue
			}
			if s.consume('}') {
				break
			}
			return false
		}
	}
	s.skipSpace()
	return s.i == len(s.b)
}

// scanner reads JSON from b at i.
type scanner struct {
	b     []byte
	i     int
	arena []byte // decoded record data, shared by the records
	strs  []byte // the bytes of decoded strings, never modified once used
}

func (s *scanner) skipSpace() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) consume(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c { // no space: the usual case
		s.i++
		return true
	}
	s.skipSpace()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// plainString reads a string with no escapes and valid UTF-8, and returns
// its contents, which alias s.b.
func (s *scanner) plainString() ([]byte, bool) {
	if !s.consume('"') {
		return nil, false
	}
	end, ok := scanString(s.b, s.i)
	if !ok {
		return nil, false
	}
	v := s.b[s.i:end]
	s.i = end + 1
	return v, true
}

// stringInto reads a plain string into dst. The strings of an event share
// a few allocations rather than one each.
func (s *scanner) stringInto(dst *string) bool {
	v, ok := s.plainString()
	*dst = s.string(v)
	return ok
}

// string returns v as a string, in a block shared with others.
func (s *scanner) string(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	if cap(s.strs)-len(s.strs) < len(v) {
		// The strings made so far keep the old block alive.
		s.strs = make([]byte, 0, max(len(v), 2*cap(s.strs), 4<<10))
	}
	off := len(s.strs)
	s.strs = append(s.strs, v...)
	return unsafe.String(&s.strs[off], len(v))
}

// int64 reads an integer that fits an int64.
func (s *scanner) int64() (int64, bool) {
	s.skipSpace()
	neg := s.i < len(s.b) && s.b[s.i] == '-'
	if neg {
		s.i++
	}
	u, end, n, ok := parseUint(s.b, s.i)
	switch {
	case !ok, n == 0, n > 1 && s.b[s.i] == '0': // no digits, a leading zero
		return 0, false
	case neg && u > 1<<63, !neg && u > 1<<63-1:
		return 0, false
	}
	s.i = end
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// base64 reads a string of padded standard base64 and returns it decoded
// into the arena.
func (s *scanner) base64() ([]byte, bool) {
	if !s.consume('"') {
		return nil, false
	}
	off := len(s.arena)
	n, end, ok := decodeBase64(s.arena[off:cap(s.arena)], s.b, s.i)
	if !ok {
		return nil, false
	}
	s.i = end + 1
	s.arena = s.arena[:off+n]
	return s.arena[off : off+n : off+n], true
}

func (s *scanner) records(ev *transform.Event) bool {
	if !s.consume('[') {
		return false
	}
	ev.Records = []transform.Record{}
	if s.consume(']') {
		return true
	}
	if s.arena == nil {
		// All of the event decoded, and slack for decodeBase64.
		s.arena = make([]byte, 0, len(s.b)/4*3+64)
	}
	for {
		ev.Records = append(ev.Records, transform.Record{})
		r := &ev.Records[len(ev.Records)-1]
		if !s.recordFast(r) && !s.record(r) {
			return false
		}
		if s.consume(',') {
			continue
		}
		return s.consume(']')
	}
}

// The layout transform.AppendEvent writes for a record, and its words.
const (
	recordHead = `{"recordId":"`
	recordTime = `","approximateArrivalTimestamp":`
	recordData = `,"data":"`
)

var (
	headW0, headW1                 = word(recordHead, 0), word(recordHead, 5)
	timeW0, timeW1, timeW2, timeW3 = word(recordTime, 0), word(recordTime, 8), word(recordTime, 16), word(recordTime, 24)
	dataW0                         = word(recordData, 0)
)

// recordFast reads a record in the layout transform.AppendEvent writes,
// with as few branches as it can (words.go); it reports false, having
// consumed nothing, on any other layout.
func (s *scanner) recordFast(r *transform.Record) bool {
	b, i := s.b, s.i
	if i+len(recordHead) > len(b) || (load64(b, i)^headW0)|(load64(b, i+5)^headW1) != 0 {
		return false
	}
	start := i + len(recordHead)
	end, ok := scanString(b, start)
	if !ok || end+len(recordTime)+1 > len(b) ||
		(load64(b, end)^timeW0)|(load64(b, end+8)^timeW1)|
			(load64(b, end+16)^timeW2)|(load64(b, end+24)^timeW3) != 0 {
		return false
	}
	i = end + len(recordTime)
	ts, after, n, ok := parseUint(b, i)
	if !ok || n == 0 || n > 1 && b[i] == '0' || ts > 1<<63-1 ||
		after+len(recordData) > len(b) || load64(b, after)^dataW0 != 0 || b[after+8] != '"' {
		return false
	}
	off := len(s.arena)
	dn, dend, ok := decodeBase64(s.arena[off:cap(s.arena)], b, after+len(recordData))
	if !ok || dend+1 >= len(b) || b[dend+1] != '}' {
		return false
	}
	s.arena = s.arena[:off+dn]
	r.Data = s.arena[off : off+dn : off+dn]
	r.ApproximateArrivalTimestamp = int64(ts)
	r.RecordID = s.string(b[start:end])
	s.i = dend + 2
	return true
}

// word returns the 8 bytes of s at i as load64 would.
func word(s string, i int) uint64 {
	return load64([]byte(s), i)
}

func (s *scanner) record(r *transform.Record) bool {
	if !s.consume('{') {
		return false
	}
	if s.consume('}') {
		return true
	}
	var seen [3]bool
	for {
		key, ok := s.plainString()
		if !ok || !s.consume(':') {
			return false
		}
		var k int
		switch string(key) {
		case "recordId":
			k, ok = 0, s.stringInto(&r.RecordID)
		case "approximateArrivalTimestamp":
			k = 1
			r.ApproximateArrivalTimestamp, ok = s.int64()
		case "data":
			k = 2
			r.Data, ok = s.base64()
		default:
			return false
		}
		if !ok || seen[k] {
			return false
		}
		seen[k] = true
		if s.consume(',') {
			continue
		}
		return s.consume('}')
	}
}

// appendResponse appends resp as the contract's JSON to dst: what
// encoding/json would write, without its reflection, apart from the
// escaping of <, > and & that JSON does not need.
func appendResponse(dst []byte, resp *transform.Response) []byte {
	if resp.Records == nil {
		return append(dst, `{"records":null}`...)
	}
	// Room for all but escapes and metadata, so that the appends below
	// seldom grow dst.
	size := 16
	for i := range resp.Records {
		r := &resp.Records[i]
		size += len(r.RecordID) + len(r.Result) + (len(r.Data)+2)/3*4 + 40
	}
	dst = slices.Grow(dst, size)
	dst = append(dst, `{"records":[`...)
	var keys []string
	for i := range resp.Records {
		r := &resp.Records[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"recordId":`...)
		dst = appendString(dst, r.RecordID)
		dst = append(dst, `,"result":`...)
		dst = appendString(dst, r.Result)
		if len(r.Data) > 0 {
			dst = append(dst, `,"data":"`...)
			dst = appendBase64(dst, r.Data)
			dst = append(dst, '"')
		}
		if m := r.Metadata; m != nil {
			dst = append(dst, `,"metadata":{`...)
			if len(m.PartitionKeys) > 0 {
				keys = keys[:0]
				for k := range m.PartitionKeys {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				dst = append(dst, `"partitionKeys":{`...)
				for j, k := range keys {
					if j > 0 {
						dst = append(dst, ',')
					}
					dst = appendString(dst, k)
					dst = append(dst, ':')
					dst = appendString(dst, m.PartitionKeys[k])
				}
				dst = append(dst, '}')
			}
			dst = append(dst, '}')
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// appendString appends s as a JSON string, invalid UTF-8 replaced by
// U+FFFD as encoding/json does.
func appendString(dst []byte, s string) []byte {
	if plainString(s) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, `\n`...)
			case '\r':
				dst = append(dst, `\r`...)
			case '\t':
				dst = append(dst, `\t`...)
			default:
				dst = append(dst, `\u00`...)
				if c < 0x10 {
					dst = append(dst, '0')
				}
				dst = strconv.AppendUint(dst, uint64(c), 16)
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
