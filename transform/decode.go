package transform

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"unsafe"
)

// decodeResponse parses a function's answer into resp. encoding/json spends
// most of a large answer's time in reflection and its byte-at-a-time
// scanner: about 13 ms for 900 records of 1 KiB, as long as a Python
// function takes to transform them. decodeResponseFast reads the usual
// shape of an answer, as Python's json.dumps, JSON.stringify and
// encoding/json write it, in one pass; anything else (escaped strings,
// other members, other spellings of the members, nulls) is left to
// encoding/json, so that together they accept exactly what encoding/json
// accepts and decode it the same way.
func decodeResponse(answer []byte, resp *Response) error {
	if decodeResponseFast(answer, resp) {
		return nil
	}
	*resp = Response{}
	return json.Unmarshal(answer, resp)
}

// respScanner reads an answer. Its methods return false on anything the
// fast path does not handle.
type respScanner struct {
	b     []byte
	i     int
	arena []byte // decoded data of every record, one after another
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

func (s *respScanner) ws() {
	for s.i < len(s.b) && isSpaceByte(s.b[s.i]) {
		s.i++
	}
}

// consume skips spaces and c, reporting whether c was there.
func (s *respScanner) consume(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// plain reads a string without escapes, returning its bytes in the input.
func (s *respScanner) plain() ([]byte, bool) {
	if !s.consume('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			// Escapes, control characters and non-ASCII (which
			// encoding/json checks for valid UTF-8): the slow path.
			return nil, false
		}
		s.i++
	}
	return nil, false
}

// str reads a plain string as a string.
func (s *respScanner) str() (string, bool) {
	b, ok := s.plain()
	return string(b), ok
}

// data reads a base64 string into the arena. The closing quote is found
// with bytes.IndexByte rather than byte by byte: an escape, a control
// character or any other byte that is not base64 fails the decoding,
// which sends the answer down the slow path.
func (s *respScanner) data() ([]byte, bool) {
	if !s.consume('"') {
		return nil, false
	}
	end := bytes.IndexByte(s.b[s.i:], '"')
	if end < 0 {
		return nil, false
	}
	b64 := s.b[s.i : s.i+end]
	s.i += end + 1
	if bytes.IndexByte(b64, '\n') >= 0 || bytes.IndexByte(b64, '\r') >= 0 {
		// base64 skips them; JSON does not allow them raw in a string.
		return nil, false
	}
	start := len(s.arena)
	need := base64.StdEncoding.DecodedLen(len(b64))
	if cap(s.arena)-start < need {
		return nil, false // cannot happen: the arena is sized for the answer
	}
	n, err := base64.StdEncoding.Decode(s.arena[start:start+need], b64)
	if err != nil {
		return nil, false
	}
	s.arena = s.arena[:start+n]
	return s.arena[start : start+n : start+n], true
}

func decodeResponseFast(answer []byte, resp *Response) bool {
	s := &respScanner{b: answer}
	// Every record's data decodes into one buffer, at most 3/4 of the
	// answer: one allocation instead of one per record.
	s.arena = make([]byte, 0, len(answer)/4*3+3)
	if !s.consume('{') {
		return false
	}
	key, ok := s.plain()
	if !ok || string(key) != "records" || !s.consume(':') || !s.consume('[') {
		return false
	}
	resp.Records = resp.Records[:0]
	if !s.consume(']') {
		for {
			var r Result
			if !s.result(&r) {
				return false
			}
			resp.Records = append(resp.Records, r)
			if s.consume(',') {
				continue
			}
			if s.consume(']') {
				break
			}
			return false
		}
	}
	if !s.consume('}') {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}

// result reads one record of the answer.
func (s *respScanner) result(r *Result) bool {
	if !s.consume('{') {
		return false
	}
	if s.consume('}') {
		return true
	}
	var seen uint8 // a member given twice is encoding/json's to merge
	for {
		key, ok := s.plain()
		if !ok || !s.consume(':') {
			return false
		}
		var bit uint8
		switch unsafe.String(unsafe.SliceData(key), len(key)) {
		case "recordId":
			bit = 1
			r.RecordID, ok = s.str()
		case "result":
			bit = 2
			var v []byte
			v, ok = s.plain()
			switch string(v) { // the three results, without allocating
			case ResultOk:
				r.Result = ResultOk
			case ResultDropped:
				r.Result = ResultDropped
			case ResultProcessingFailed:
				r.Result = ResultProcessingFailed
			default:
				r.Result = string(v)
			}
		case "data":
			bit = 4
			r.Data, ok = s.data()
		case "metadata":
			bit = 8
			ok = s.metadata(r)
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		if s.consume(',') {
			continue
		}
		return s.consume('}')
	}
}

// metadata reads {"partitionKeys": {"k": "v", …}}.
func (s *respScanner) metadata(r *Result) bool {
	if !s.consume('{') {
		return false
	}
	r.Metadata = &Metadata{}
	if s.consume('}') {
		return true
	}
	key, ok := s.plain()
	if !ok || string(key) != "partitionKeys" || !s.consume(':') || !s.consume('{') {
		return false
	}
	r.Metadata.PartitionKeys = map[string]string{}
	if !s.consume('}') {
		for {
			k, ok := s.str()
			if !ok || !s.consume(':') {
				return false
			}
			v, ok := s.str()
			if _, dup := r.Metadata.PartitionKeys[k]; !ok || dup {
				return false
			}
			r.Metadata.PartitionKeys[k] = v
			if s.consume(',') {
				continue
			}
			if s.consume('}') {
				break
			}
			return false
		}
	}
	return s.consume('}')
}
