package transform

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestAppendEvent(t *testing.T) {
	ev := Event{InvocationID: "id\x01\"q\"\\", DeliveryStreamArn: "arn:aws:firehose:r:1:deliverystream/s", Region: "bad\xffutf8",
		Records: []Record{{RecordID: "0-0", ApproximateArrivalTimestamp: 1700000000123, Data: []byte("hello\x00")}, {RecordID: "0-1", Data: []byte{}}}}
	var got Event
	if err := json.Unmarshal(AppendEvent(nil, &ev), &got); err != nil {
		t.Fatalf("AppendEvent wrote invalid JSON: %v", err)
	}
	want := ev
	want.Region = "bad\uFFFDutf8"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AppendEvent round trip = %+v; want %+v", got, want)
	}
}

func TestDecode(t *testing.T) {
	ev := &Event{Records: []Record{{RecordID: "a"}, {RecordID: "b"}}}
	for _, c := range []struct {
		answer string
		code   string // "" for success
	}{
		{`{"records":[{"recordId":"b","result":"Dropped"},{"recordId":"a","result":"Ok","data":"eA=="}]}`, ""},
		{`not json`, CodeInvalidResponse},
		{`{"records":[{"recordId":"a","result":"Ok"}]}`, CodeMissingRecordID},
		{`{"records":[{"recordId":"a","result":"Ok"},{"recordId":"a","result":"Ok"}]}`, CodeDuplicatedRecordID},
		{`{"records":[{"recordId":"a","result":"Ok"},{"recordId":"b","result":"Ok"},{"recordId":"c","result":"Ok"}]}`, CodeUnknownRecordID},
		{`{"records":[{"recordId":"a","result":"Fine"},{"recordId":"b","result":"Ok"}]}`, CodeInvalidResponse},
		{`{"records":[{"recordId":"a","result":"Ok","data":"%%%"},{"recordId":"b","result":"Ok"}]}`, CodeInvalidResponse},
	} {
		res, err := Decode([]byte(c.answer), ev)
		if c.code == "" {
			if err != nil || len(res) != 2 || res[0].RecordID != "a" || string(res[0].Data) != "x" || res[1].Result != ResultDropped {
				t.Errorf("Decode(%s) = %+v, %v; want the results in the event's order", c.answer, res, err)
			}
			continue
		}
		te, ok := err.(*Error)
		if !ok || te.Code != c.code || strings.TrimSpace(te.Message) == "" {
			t.Errorf("Decode(%s) = %v; want an *Error with code %s", c.answer, err, c.code)
		}
	}
	big := make([]byte, MaxResponseBytes+1)
	if _, err := Decode(big, ev); err == nil || err.(*Error).Code != CodeResponseTooLarge {
		t.Errorf("Decode of %d bytes = %v; want %s", len(big), err, CodeResponseTooLarge)
	}
}

// FuzzDecode checks that no answer, however broken, panics Decode, and
// that an accepted one answers every record given exactly once.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"records":[{"recordId":"a","result":"Ok","data":"eA=="},{"recordId":"b","result":"Dropped"}]}`))
	f.Add([]byte(`{"records":[{"recordId":"a","result":"Ok","metadata":{"partitionKeys":{"k":"v"}}}]}`))
	f.Add([]byte(`{"records":null}`))
	f.Add([]byte(`[]`))
	ev := &Event{Records: []Record{{RecordID: "a"}, {RecordID: "b"}}}
	f.Fuzz(func(t *testing.T, answer []byte) {
		res, err := Decode(answer, ev)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Decode error %T %v; want an *Error", err, err)
			}
			return
		}
		if len(res) != len(ev.Records) {
			t.Fatalf("Decode accepted %d results for %d records", len(res), len(ev.Records))
		}
		for i, r := range res {
			if r.RecordID != ev.Records[i].RecordID {
				t.Fatalf("result %d is for %q; want %q", i, r.RecordID, ev.Records[i].RecordID)
			}
		}
	})
}

// FuzzDecodeResponse checks that the fast path of answer decoding agrees
// with encoding/json wherever it takes an answer.
func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(`{"records": [{"recordId": "0-1", "result": "Ok", "data": "eyJhIjoxfQo=", "metadata": {"partitionKeys": {"k": "v"}}}]}`))
	f.Add([]byte(`{"records":[{"recordId":"a","result":"Dropped"},{"recordId":"b","result":"Ok","data":""}]}`))
	f.Add([]byte(`{"records":[{"recordId":"a","result":"Ok","data":"eA=="}],"extra":1}`))
	f.Add([]byte(`{"records":[{"RecordId":"a","result":"Ok","metadata":{}}]}`))
	f.Add([]byte(`{"records":[{"recordId":"a\u00e9","result":"Ok","data":null}]}`))
	f.Add([]byte("{\"records\":[{\"recordId\":\"a\",\"result\":\"Ok\",\"data\":\"aGVs\nbG8=\"}]}"))
	f.Fuzz(func(t *testing.T, answer []byte) {
		var fast Response
		if !decodeResponseFast(answer, &fast) {
			return
		}
		var slow Response
		if err := json.Unmarshal(answer, &slow); err != nil {
			t.Fatalf("the fast path took %q, which encoding/json refuses: %v", answer, err)
		}
		if len(fast.Records) == 0 && len(slow.Records) == 0 {
			return
		}
		for i := range slow.Records {
			if len(slow.Records[i].Data) == 0 && len(fast.Records[i].Data) == 0 {
				fast.Records[i].Data, slow.Records[i].Data = nil, nil
			}
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("answer %q: fast path %+v, encoding/json %+v", answer, fast, slow)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	ev := &Event{}
	var answer []byte
	answer = append(answer, `{"records": [`...)
	for i := range 900 {
		id := "0-" + strconv.Itoa(i)
		ev.Records = append(ev.Records, Record{RecordID: id})
		if i > 0 {
			answer = append(answer, ", "...)
		}
		data := base64.StdEncoding.EncodeToString([]byte(strings.Repeat(`{"name":"x","n":1}`, 57)))
		answer = append(answer, `{"recordId": "`+id+`", "result": "Ok", "data": "`+data+`", "metadata": {"partitionKeys": {"customer": "c`+strconv.Itoa(i%7)+`"}}}`...)
	}
	answer = append(answer, "]}"...)
	b.SetBytes(int64(len(answer)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(answer, ev); err != nil {
			b.Fatal(err)
		}
	}
}
