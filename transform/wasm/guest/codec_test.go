package guest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hydrantio/hydrant/transform"
)

func testEvent(n, size int) *transform.Event {
	ev := &transform.Event{InvocationID: "inv-1", DeliveryStreamArn: "arn:aws:firehose:eu-west-1:1:deliverystream/s", Region: "eu-west-1", Records: []transform.Record{}}
	for i := range n {
		data := make([]byte, (size+i)%(size+1))
		for j := range data {
			data[j] = byte(i*7 + j*13)
		}
		ev.Records = append(ev.Records, transform.Record{
			RecordID:                    fmt.Sprintf("record-%d-é", i),
			ApproximateArrivalTimestamp: 1700000000000 + int64(i),
			Data:                        data,
		})
	}
	return ev
}

// sameEvent compares events as a handler sees them: nil and empty Data
// are alike.
func sameEvent(a, b *transform.Event) bool {
	if a.InvocationID != b.InvocationID || a.DeliveryStreamArn != b.DeliveryStreamArn || a.Region != b.Region ||
		len(a.Records) != len(b.Records) || (a.Records == nil) != (b.Records == nil) {
		return false
	}
	for i := range a.Records {
		x, y := a.Records[i], b.Records[i]
		if x.RecordID != y.RecordID || x.ApproximateArrivalTimestamp != y.ApproximateArrivalTimestamp || !bytes.Equal(x.Data, y.Data) {
			return false
		}
	}
	return true
}

// TestDecodeEventFast checks that what Hydrant sends takes the fast path
// and decodes right.
func TestDecodeEventFast(t *testing.T) {
	for _, n := range []int{0, 1, 3, 100} {
		for _, size := range []int{0, 1, 2, 3, 47, 48, 49, 50, 63, 64, 65, 1024, 5000} {
			want := testEvent(n, size)
			event := transform.AppendEvent(nil, want)
			var got transform.Event
			if !decodeEventFast(event, &got) {
				t.Fatalf("decodeEventFast(%d records of %d bytes) took the slow path", n, size)
			}
			if !sameEvent(&got, want) {
				t.Fatalf("decodeEventFast(%d records of %d bytes) = %+v; want %+v", n, size, got, want)
			}
		}
	}
}

// TestDecodeEventData checks that each record's Data is its own: a
// handler appending to one does not overwrite the next.
func TestDecodeEventData(t *testing.T) {
	event := transform.AppendEvent(nil, testEvent(3, 10))
	var ev transform.Event
	if err := decodeEvent(event, &ev); err != nil {
		t.Fatal(err)
	}
	next := bytes.Clone(ev.Records[1].Data)
	_ = append(ev.Records[0].Data, "overwrite?"...)
	if !bytes.Equal(ev.Records[1].Data, next) {
		t.Fatalf("appending to record 0's data changed record 1's: %q; want %q", ev.Records[1].Data, next)
	}
}

func TestDecodeEventLikeJSON(t *testing.T) {
	for _, in := range []string{
		``, `{}`, `null`, `[]`, ` { "records" : [ ] } `, `{"records":null}`,
		`{"invocationId":"a\"b","records":[]}`,
		`{"invocationId":"\u00e9","records":[{"recordId":"1","data":"QQ=="}]}`,
		`{"InvocationId":"case","records":[]}`,
		`{"records":[{"recordId":"1","approximateArrivalTimestamp":1.5,"data":""}]}`,
		`{"records":[{"recordId":"1","approximateArrivalTimestamp":-9223372036854775808}]}`,
		`{"records":[{"recordId":"1","approximateArrivalTimestamp":9223372036854775808}]}`,
		`{"records":[{"recordId":"1","approximateArrivalTimestamp":012}]}`,
		`{"records":[{"recordId":"1","approximateArrivalTimestamp":1234567890123456789012}]}`,
		`{"records":[{"recordId":"1","data":"QUJD\nREVG"}]}`,
		`{"records":[{"recordId":"1","data":"QUJDREVG\r\n"}]}`,
		`{"records":[{"recordId":"1","data":"QR=="}]}`,
		`{"records":[{"recordId":"1","data":"QQ==QUJD"}]}`,
		`{"records":[{"recordId":"1","data":"QUJ"}]}`,
		`{"records":[{"recordId":"1","data":"QU\/D"}]}`,
		`{"records":[{"recordId":"1","data":null}]}`,
		`{"records":[{"recordId":"1","data":"QQ==","data":"Qg=="}]}`,
		`{"records":[{"recordId":"1","other":1}]}`,
		`{"records":[{"recordId":"1"}],"records":[{"recordId":"2"}]}`,
		`{"records":[{"recordId":"1"}]} x`,
		`{"records":[{"recordId":"1"},]}`,
		"{\"invocationId\":\"\xff\",\"records\":[]}",
		// Found by FuzzDecodeEvent: words compared as a^b|c^d, not (a^b)|(c^d).
		"{\"records\":[002$CobdId\"*\"\"70A0000809A01A0280AA0iAeatAm0 :0,\"data\":\"\"}]}",
		`{"records":[{"recordIX":"1","approximateArrivalTimestamp":1,"data":"QQ=="}]}`,
		`{"records":[{"recordId":"1","approximateArrivalTimestampX:1,"data":"QQ=="}]}`,
		`{"records":[{"recordId":"1","approximateArrivalTimestamp":1,"dataX":"QQ=="}]}`,
		"{\"invocationId\":\"tab\there\",\"records\":[]}",
		`{"records":[{"recordId":"1","data":"` + strings.Repeat("QUJD", 40) + `"}]}`,
		`{"records":[{"recordId":"1","data":"` + strings.Repeat("QUJD", 40) + `!"}]}`,
	} {
		checkLikeJSON(t, []byte(in))
	}
}

// checkLikeJSON checks that decodeEvent accepts in exactly when
// encoding/json does, with the same result.
func checkLikeJSON(t *testing.T, in []byte) {
	t.Helper()
	var want transform.Event
	werr := json.Unmarshal(in, &want)
	var got transform.Event
	err := decodeEvent(in, &got)
	if (err == nil) != (werr == nil) {
		t.Fatalf("decodeEvent(%q) error = %v; encoding/json says %v", in, err, werr)
	}
	if err == nil && !sameEvent(&got, &want) {
		t.Fatalf("decodeEvent(%q) = %+v; encoding/json says %+v", in, got, want)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add(transform.AppendEvent(nil, testEvent(3, 70)))
	f.Add([]byte(`{"records":[{"recordId":"1","approximateArrivalTimestamp":12,"data":"QUJD"}]}`))
	f.Add([]byte(`{"records":[{"recordId":"1","data":"` + strings.Repeat("QUJD", 17) + `"}]}`))
	f.Fuzz(func(t *testing.T, in []byte) { checkLikeJSON(t, in) })
}

func TestAppendResponse(t *testing.T) {
	resps := []*transform.Response{
		{},
		{Records: []transform.Result{}},
		{Records: []transform.Result{
			{RecordID: "1", Result: transform.ResultOk, Data: []byte("hello")},
			{RecordID: "q\"uo\\te\n\x01\x1f<>&é\xff", Result: transform.ResultDropped},
			{RecordID: "3", Result: transform.ResultProcessingFailed, Metadata: &transform.Metadata{}},
			{RecordID: "4", Result: transform.ResultOk, Data: bytes.Repeat([]byte{0, 0xff, 7}, 1000),
				Metadata: &transform.Metadata{PartitionKeys: map[string]string{"b": "2", "a": "1\"", "\t": ""}}},
		}},
	}
	for size := range 130 {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(j * 31)
		}
		resps[2].Records = append(resps[2].Records, transform.Result{RecordID: "s", Result: "Ok", Data: data})
	}
	for _, resp := range resps {
		checkResponse(t, resp)
	}
}

// checkResponse checks that appendResponse writes JSON that reads back as
// what encoding/json writes.
func checkResponse(t *testing.T, resp *transform.Response) {
	t.Helper()
	want, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	got := appendResponse([]byte("prefix"), resp)
	if !bytes.HasPrefix(got, []byte("prefix")) {
		t.Fatalf("appendResponse overwrote dst: %q", got)
	}
	got = got[len("prefix"):]
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("appendResponse(%+v) = %q, not JSON: %v", resp, got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("appendResponse(%+v) = %s; want %s", resp, got, want)
	}
}

func FuzzAppendResponse(f *testing.F) {
	f.Add("id", "Ok", []byte("data"), "k", "v")
	f.Add("\x00\"", "\xff", []byte{}, "", "é")
	f.Fuzz(func(t *testing.T, id, result string, data []byte, key, value string) {
		checkResponse(t, &transform.Response{Records: []transform.Result{
			{RecordID: id, Result: result, Data: data},
			{RecordID: id, Result: result, Data: data, Metadata: &transform.Metadata{PartitionKeys: map[string]string{key: value}}},
		}})
	})
}

func TestBase64(t *testing.T) {
	for size := range 300 {
		src := make([]byte, size)
		for j := range src {
			src[j] = byte(j*131 + size)
		}
		enc := appendBase64(nil, src)
		if want := base64.StdEncoding.EncodeToString(src); string(enc) != want {
			t.Fatalf("appendBase64(%d bytes) = %s; want %s", size, enc, want)
		}
		quoted := append(enc, '"')
		dst := make([]byte, len(quoted)+50)
		n, end, ok := decodeBase64(dst, quoted, 0)
		if !ok || end != len(enc) || !bytes.Equal(dst[:n], src) {
			t.Fatalf("decodeBase64(%s) = %x, %d, %v; want %x, %d, true", enc, dst[:n], end, ok, src, len(enc))
		}
	}
}

func TestParseUint(t *testing.T) {
	for _, in := range []string{"0", "7", "12345678", "123456789", "1700000000000", "18446744073709551615", "9999999999999999999", "99999999999999999999", "12x", "x", ""} {
		for _, tail := range []string{"", ",", "}abcdefgh", "12345678,"} {
			b := []byte(in + tail)
			v, end, n, ok := parseUint(b, 0)
			digits := len(in) - len(strings.TrimLeft(in, "0123456789")) + 0
			d := in[:digits]
			if len(tail) > 0 && tail[0] >= '0' && tail[0] <= '9' {
				continue
			}
			if len(d) > 19 {
				if ok {
					t.Errorf("parseUint(%q) = %d, ok; want not ok", b, v)
				}
				continue
			}
			var want uint64
			fmt.Sscan(d, &want)
			if !ok || v != want || end != len(d) || n != len(d) {
				t.Errorf("parseUint(%q) = %d, %d, %d, %v; want %d, %d, %d, true", b, v, end, n, ok, want, len(d), len(d))
			}
		}
	}
}

func TestScanWords(t *testing.T) {
	plain := func(s string) bool {
		for _, c := range []byte(s) {
			if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
				return false
			}
		}
		return true
	}
	for n := range 40 {
		for at := range n + 1 {
			for _, c := range []byte{'a', '"', '\\', 0, 0x1f, 0x7f, 0x80, 0xff} {
				b := bytes.Repeat([]byte{'x'}, n)
				if at < n {
					b[at] = c
				}
				s := string(b)
				if got, want := plainString(s), plain(s); got != want {
					t.Fatalf("plainString(%q) = %v; want %v", s, got, want)
				}
				end, ok := scanString(append(b, '"'), 0)
				wantEnd, wantOK := n, true
				if at < n && c != 'a' && c != 0x7f {
					wantEnd, wantOK = at, c == '"'
					if c >= 0x80 {
						wantOK = false // invalid UTF-8 alone
					}
					if !wantOK {
						wantEnd = 0
					}
				}
				if end != wantEnd || ok != wantOK {
					t.Fatalf("scanString(%q) = %d, %v; want %d, %v", append(b, '"'), end, ok, wantEnd, wantOK)
				}
			}
		}
	}
}
