package wal

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/record"
)

func TestEntryRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		base uint64
		recs []record.Record
	}{
		{name: "one record", base: 0, recs: []record.Record{{ArrivalTime: time.Unix(1, 2), PartitionKey: "k", Data: []byte("hello")}}},
		{name: "zero time, empty key and data", base: 7, recs: []record.Record{{}}},
		{name: "unicode key", base: 1 << 40, recs: []record.Record{{PartitionKey: "ключ-🔑", Data: []byte{0, 1, 2}}}},
		{name: "negative time", base: 1, recs: []record.Record{{ArrivalTime: time.Unix(-100, 5), Data: []byte("x")}}},
		{name: "long varints", base: 3, recs: []record.Record{{PartitionKey: strings.Repeat("k", 300), Data: bytes.Repeat([]byte("d"), 70000)}}},
		{name: "batch", base: 1000, recs: recs(1000, 500, 1024)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("prefix")
			b := appendEntry(prefix, tt.base, tt.recs)
			if !bytes.Equal(b[:len(prefix)], prefix) {
				t.Fatal("appendEntry changed dst's existing bytes")
			}
			b = b[len(prefix):]
			var want int64
			for i := range tt.recs {
				want += recordSize(&tt.recs[i])
			}
			if int64(len(b)) != entryHeaderLen+want {
				t.Fatalf("entry is %d bytes; recordSize predicts %d", len(b), entryHeaderLen+want)
			}
			h := parseEntryHeader(b)
			if reason := h.check(false); reason != "" {
				t.Fatalf("header check: %s", reason)
			}
			payload := b[entryHeaderLen:]
			if h.size() != int64(len(b)) || h.base != tt.base || h.count != uint32(len(tt.recs)) || h.flags != flagsNone ||
				entryCRC(b, payload) != h.crc {
				t.Fatalf("header = %+v; want base %d, %d records, valid CRC", h, tt.base, len(tt.recs))
			}
			if reason := checkPayload(payload, h.count); reason != "" {
				t.Fatalf("checkPayload: %s", reason)
			}
			p := payload
			for i, r := range tt.recs {
				ns, key, data, rest, ok := decodeRecord(p)
				if !ok {
					t.Fatalf("decodeRecord(record %d) failed", i)
				}
				got := decodeTime(ns)
				if !got.Equal(r.ArrivalTime) || got.IsZero() != r.ArrivalTime.IsZero() || string(key) != r.PartitionKey || !bytes.Equal(data, r.Data) {
					t.Fatalf("record %d = {%v %q %q}; want {%v %q %q}", i, got, key, data, r.ArrivalTime, r.PartitionKey, r.Data)
				}
				p = rest
			}
			if len(p) != 0 {
				t.Fatalf("%d bytes left after the records", len(p))
			}
			// Any flipped bit is caught by the CRC.
			for _, i := range []int{0, 3, 8, 12, 20, len(b) - 1} {
				b[i] ^= 1
				h := parseEntryHeader(b)
				if int64(len(b)) == h.size() && entryCRC(b, b[entryHeaderLen:]) == h.crc {
					t.Errorf("flipping a bit of byte %d went unnoticed", i)
				}
				b[i] ^= 1
			}
		})
	}
}

func TestCheckPayload(t *testing.T) {
	valid := appendEntry(nil, 0, []record.Record{{Data: []byte("ab")}, {PartitionKey: "k"}})[entryHeaderLen:]
	tests := []struct {
		name    string
		payload []byte
		count   uint32
		reason  string
	}{
		{"valid", valid, 2, ""},
		{"fewer records", valid, 3, "record 2 of 3"},
		{"more bytes", valid, 1, "bytes follow"},
		{"short time", valid[:5], 1, "record 0 of 1"},
		{"key longer than payload", []byte{0, 0, 0, 0, 0, 0, 0, 0, 5, 'a'}, 1, "record 0 of 1"},
		{"data longer than payload", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 'a'}, 1, "record 0 of 1"},
		{"varint overflow", append(make([]byte, 8), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), 1, "record 0 of 1"},
		{"truncated varint", append(make([]byte, 8), 0x80), 1, "record 0 of 1"},
	}
	for _, tt := range tests {
		if reason := checkPayload(tt.payload, tt.count); (tt.reason == "") != (reason == "") || !strings.Contains(reason, tt.reason) {
			t.Errorf("%s: checkPayload(%x, %d) = %q; want %q", tt.name, tt.payload, tt.count, reason, tt.reason)
		}
	}
}

func TestEntryHeaderCheck(t *testing.T) {
	ok := entryHeader{payloadLen: 100, count: 10}
	tests := []struct {
		name   string
		h      entryHeader
		reason string
	}{
		{"valid", ok, ""},
		{"reserved", entryHeader{payloadLen: 100, count: 1, reserved: [3]byte{0, 1, 0}}, "reserved"},
		{"too long", entryHeader{payloadLen: maxEntryPayload + 1, count: 1}, "exceeds"},
		{"no records", entryHeader{payloadLen: 100}, "no records"},
		{"too many records", entryHeader{payloadLen: 100, count: 11}, "claims 11 records"},
	}
	for _, tt := range tests {
		if reason := tt.h.check(false); (tt.reason == "") != (reason == "") || !strings.Contains(reason, tt.reason) {
			t.Errorf("%s: check(%+v) = %q; want %q", tt.name, tt.h, reason, tt.reason)
		}
	}
}

func TestCommitFile(t *testing.T) {
	good := appendCommit(nil, 12345)
	if off, reason := parseCommit(good); off != 12345 || reason != "" {
		t.Fatalf("parseCommit(appendCommit(12345)) = %d, %q", off, reason)
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := []struct {
		name   string
		b      []byte
		reason string
	}{
		{"empty", nil, "0 bytes"},
		{"short", good[:19], "19 bytes"},
		{"long", append(append([]byte(nil), good...), 0), "21 bytes"},
		{"magic", mutate(func(b []byte) []byte { b[0] = 'X'; return b }), "magic"},
		{"offset bit flip", mutate(func(b []byte) []byte { b[10] ^= 4; return b }), "checksum"},
		{"crc bit flip", mutate(func(b []byte) []byte { b[19] ^= 4; return b }), "checksum"},
	}
	for _, tt := range tests {
		if _, reason := parseCommit(tt.b); !strings.Contains(reason, tt.reason) || reason == "" {
			t.Errorf("%s: parseCommit(%x) reason = %q; want %q", tt.name, tt.b, reason, tt.reason)
		}
	}
}

func TestPlanEntries(t *testing.T) {
	sized := func(sizes ...int) []record.Record {
		rs := make([]record.Record, len(sizes))
		for i, n := range sizes {
			rs[i].Data = make([]byte, n)
		}
		return rs
	}
	// A record of n data bytes (n < 128) takes n+10 bytes.
	tests := []struct {
		name     string
		recs     []record.Record
		maxEntry int64
		want     [][2]int
	}{
		{"one entry", sized(10, 10, 10), 1000, [][2]int{{0, 3}}},
		{"exact fit", sized(10, 10), entryHeaderLen + 40, [][2]int{{0, 2}}},
		{"split", sized(10, 10, 10), entryHeaderLen + 40, [][2]int{{0, 2}, {2, 3}}},
		{"oversized record alone", sized(10, 100, 10), entryHeaderLen + 40, [][2]int{{0, 1}, {1, 2}, {2, 3}}},
		{"segment smaller than a header", sized(1, 1), 3, [][2]int{{0, 1}, {1, 2}}},
	}
	for _, tt := range tests {
		plan, err := planEntries(nil, tt.recs, tt.maxEntry, 0)
		if err != nil {
			t.Fatalf("%s: planEntries() = %v", tt.name, err)
		}
		var got [][2]int
		for _, e := range plan {
			got = append(got, [2]int{e.lo, e.hi})
			var size int64 = entryHeaderLen
			for i := e.lo; i < e.hi; i++ {
				size += recordSize(&tt.recs[i])
			}
			if e.size != size {
				t.Errorf("%s: entry %v has size %d; want %d", tt.name, e, e.size, size)
			}
		}
		if len(got) != len(tt.want) {
			t.Errorf("%s: planEntries() = %v; want %v", tt.name, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: planEntries() = %v; want %v", tt.name, got, tt.want)
				break
			}
		}
	}
}

func TestNextAllocations(t *testing.T) {
	l := openLog(t, t.TempDir(), Options{})
	rs := recs(0, 500, 1024)
	for i := range rs {
		rs[i].PartitionKey = "same-key"
	}
	appendN(t, l, 0, 1, 0)
	for range 4 {
		if _, err := l.Append(t.Context(), rs); err != nil {
			t.Fatal(err)
		}
	}
	r, err := l.NewReader(0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Next(); err != nil { // first entry: buffers grow
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0.01 {
		t.Errorf("Next() allocates %.2f times per record; want ~0", allocs)
	}
}
