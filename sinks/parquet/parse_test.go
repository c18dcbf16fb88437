package parquet

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"1970-01-01", utc(1970, 1, 1, 0, 0, 0, 0), true},
		{"2017-02-07 15:13:01.14", utc(2017, 2, 7, 15, 13, 1, 140e6), true},
		{"2017-02-07T15:13:01.39256Z", utc(2017, 2, 7, 15, 13, 1, 392560e3), true},
		{"2017-02-07t15:13:01z", utc(2017, 2, 7, 15, 13, 1, 0), true},
		{"2017-2-7 15:13:01", utc(2017, 2, 7, 15, 13, 1, 0), true},
		{"2017-02-07T15:13:01.123456789+02:30", utc(2017, 2, 7, 12, 43, 1, 123456789), true},
		{"2017-02-07T15:13:01-08:00", utc(2017, 2, 7, 23, 13, 1, 0), true},
		{"1969-12-31T23:59:59.999Z", utc(1969, 12, 31, 23, 59, 59, 999e6), true},
		{"0001-01-01 00:00:00", utc(1, 1, 1, 0, 0, 0, 0), true},
		{"9999-12-31 23:59:59.999999999", utc(9999, 12, 31, 23, 59, 59, 999999999), true},
		{"2000-02-29 00:00:00", utc(2000, 2, 29, 0, 0, 0, 0), true},
		{"1900-02-29 00:00:00", time.Time{}, false},
		{"2017-02-07T15:13:01.1234567890Z", time.Time{}, false},
		{"2017-02-07T15:13:01.Z", time.Time{}, false},
		{"2017-02-07T24:00:00Z", time.Time{}, false},
		{"2017-02-07T23:60:00Z", time.Time{}, false},
		{"2017-02-07T23:59:60Z", time.Time{}, false},
		{"2017-02-07T15:13Z", time.Time{}, false},
		{"2017-02-07T15:13:01+0200", time.Time{}, false},
		{"2017-02-07T15:13:01+02:00x", time.Time{}, false},
		{"2017-13-01", time.Time{}, false},
		{"2017-00-01", time.Time{}, false},
		{"2017-01-00", time.Time{}, false},
		{"17-01-01", time.Time{}, false},
		{"2017-01-01x", time.Time{}, false},
		{"2017-01-01 ", time.Time{}, false},
		{"", time.Time{}, false},
		{"1518033528", time.Time{}, false},
	} {
		sec, nsec, ok := parseTimestamp([]byte(tc.in))
		if ok != tc.ok || ok && (sec != tc.want.Unix() || nsec != int64(tc.want.Nanosecond())) {
			t.Errorf("parseTimestamp(%q) = %d, %d, %v; want %d, %d, %v", tc.in, sec, nsec, ok, tc.want.Unix(), tc.want.Nanosecond(), tc.ok)
		}
	}
}

func TestParseDate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int32
		ok   bool
	}{
		{"1970-01-01", 0, true},
		{"1969-12-31", -1, true},
		{"2020-01-02", 18263, true},
		{"2020-1-2", 18263, true},
		{"0000-03-01", -719468, true},
		{"2020-02-30", 0, false},
		{"2020-01-02T00:00:00Z", 0, false},
		{"2020/01/02", 0, false},
		{"20200102", 0, false},
	} {
		got, ok := parseDate([]byte(tc.in))
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseDate(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	// Every day of four centuries against the standard library.
	for d := time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2200; d = d.AddDate(0, 0, 1) {
		got, ok := parseDate([]byte(d.Format("2006-01-02")))
		if want := int32(d.Unix() / 86400); !ok || got != want {
			t.Fatalf("parseDate(%q) = %d, %v; want %d", d.Format("2006-01-02"), got, ok, want)
		}
	}
}

func TestParseInt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"-0", 0, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true},
		{"9223372036854775808", 0, false},
		{"-9223372036854775809", 0, false},
		{"18446744073709551616", 0, false},
		{"99999999999999999999", 0, false},
	} {
		got, ok := parseInt([]byte(tc.in))
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseInt(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseDecimal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		p, s int
		want string // the unscaled value; empty when it does not fit
	}{
		{"0", 10, 2, "0"},
		{"-0.000", 10, 2, "0"},
		{"12.345", 10, 2, "1235"},
		{"-12.345", 10, 2, "-1235"},
		{"12.344", 10, 2, "1234"},
		{"0.005", 10, 2, "1"},
		{"0.0049999", 10, 2, "0"},
		{"-0.004", 10, 2, "0"},
		{"-0.005", 10, 2, "-1"},
		{"99999999.99", 10, 2, "9999999999"},
		{"99999999.995", 10, 2, ""},
		{"123456789", 10, 2, ""},
		{"00012.5", 10, 2, "1250"},
		{"1e2", 10, 2, "10000"},
		{"1E-2", 10, 2, "1"},
		{"1.5e-3", 10, 2, "0"},
		{"5e-3", 10, 2, "1"},
		{"0.05e-1", 10, 2, "1"},
		{"4e-1000000000", 10, 2, "0"},
		{"1e1000000000", 10, 2, ""},
		{"0e1000000000", 10, 2, "0"},
		{"2.5", 5, 0, "3"},
		{"-2.5", 5, 0, "-3"},
		{"99999.4", 5, 0, "99999"},
		{"99999.5", 5, 0, ""},
		{"0.0000000000000000000000000000000000000000000000000123", 38, 37, "0"},
		{"99999999999999999999999999999999999999", 38, 0, "99999999999999999999999999999999999999"},
		{"-99999999999999999999999999999999999999", 38, 0, "-99999999999999999999999999999999999999"},
		{"999999999999999999999999999999999999999", 38, 0, ""},
		{"99999999999999999999999999999999999999.5", 38, 0, ""},
		{"1234567890123456789012345678901234567890123456789e-20", 38, 9, "12345678901234567890123456789012345679"},
		{"1234567890123456789012345678901234567890123456789e-19", 38, 9, ""},
		{"12345678901234567890123456789012345678901234567890e-30", 38, 10, "123456789012345678901234567890"},
		{"0.1234567890123456789012345678901234567890123456789", 38, 38, "12345678901234567890123456789012345679"},
		{"18446744073709551616", 20, 0, "18446744073709551616"},
		{"-18446744073709551616", 20, 0, "-18446744073709551616"},
	} {
		d, ok := parseDecimal([]byte(tc.in), tc.p, tc.s)
		got := ""
		if ok {
			b := d.appendBigEndian(nil, 16)
			v := new(big.Int).SetBytes(b)
			if b[0]&0x80 != 0 {
				v.Sub(v, new(big.Int).Lsh(big.NewInt(1), 128))
			}
			got = v.String()
			if tc.p <= 18 && strconv.FormatInt(d.int64(), 10) != got {
				t.Errorf("parseDecimal(%q, %d, %d).int64() = %d; want %s", tc.in, tc.p, tc.s, d.int64(), got)
			}
		}
		if got != tc.want {
			t.Errorf("parseDecimal(%q, %d, %d) = %q; want %q", tc.in, tc.p, tc.s, got, tc.want)
		}
	}
}

func TestDecimalBytes(t *testing.T) {
	for _, tc := range []struct{ p, want int }{{1, 1}, {2, 1}, {3, 2}, {9, 4}, {10, 5}, {18, 8}, {19, 9}, {38, 16}} {
		if got := decimalBytes(tc.p); got != tc.want {
			t.Errorf("decimalBytes(%d) = %d; want %d", tc.p, got, tc.want)
		}
	}
}

// TestAppendString compares the decoding of strings with encoding/json's.
func TestAppendString(t *testing.T) {
	for _, in := range []string{
		`""`, `"abc"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\u20AC"`, `"\ud83d\ude00"`,
		`"\ud83d"`, `"\ud83dx"`, `"\ude00\ud83d"`, `"\ud83d\u0041"`, `"\ud83d\ud83d\ude00"`,
		"\"caf\xc3\xa9\"", "\"\xff\xfe\"", "\"a\xc3\"", "\"\xed\xa0\x80\"", `"\u0000"`,
	} {
		var want string
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("json.Unmarshal(%q): %v", in, err)
		}
		s := scanner{data: []byte(in)}
		got, err := s.appendString(nil)
		if err != nil || string(got) != want || s.pos != len(in) {
			t.Errorf("appendString(%q) = %q, %v at %d; want %q", in, got, err, s.pos, want)
		}
	}
	for _, in := range []string{`"abc`, `"a\`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"a\nb\"", "\"\x00\""} {
		s := scanner{data: []byte(in)}
		if got, err := s.appendString(nil); err == nil {
			t.Errorf("appendString(%q) = %q, nil; want an error", in, got)
		}
		s = scanner{data: []byte(in)}
		if err := s.skipString(); err == nil {
			t.Errorf("skipString(%q) = nil; want an error", in)
		}
	}
}

func TestScanNumber(t *testing.T) {
	for _, tc := range []struct {
		in    string
		n     int
		isInt bool
	}{
		{"0", 1, true}, {"-0", 2, true}, {"123", 3, true}, {"-1.5", 4, false}, {"1e5", 3, false},
		{"1E+5", 4, false}, {"1.5e-5,", 6, false}, {"01", 1, true}, {"12}", 2, true},
		{"-", -1, false}, {"+1", 0, false}, {".5", 0, false}, {"1.", -2, false}, {"1e", -2, false},
		{"1e+", -3, false}, {"-a", -1, false}, {"", 0, false},
	} {
		n, isInt := scanNumber([]byte(tc.in))
		if n != tc.n || isInt != tc.isInt {
			t.Errorf("scanNumber(%q) = %d, %v; want %d, %v", tc.in, n, isInt, tc.n, tc.isInt)
		}
	}
}

// TestStringPositions puts each kind of special byte at every position of
// strings of every length around the 8-byte words the scanner reads, and
// compares with encoding/json.
func TestStringPositions(t *testing.T) {
	specials := []string{`\"`, `\\`, `\n`, `\u00e9`, "é", "\xff", "\x1f", "\x7f", "\x80", `"`}
	for n := 0; n < 26; n++ {
		for pos := 0; pos <= n; pos++ {
			for _, sp := range specials {
				body := []byte(strings.Repeat("a", pos) + sp + strings.Repeat("b", n-pos))
				in := append(append([]byte{'"'}, body...), '"')
				in = append(in, `,"x"`...) // data after the string
				var want string
				d := json.NewDecoder(bytes.NewReader(in))
				wantErr := d.Decode(&want) != nil
				end := int(d.InputOffset())
				s := scanner{data: in}
				got, err := s.appendString(nil)
				if (err != nil) != wantErr || !wantErr && (string(got) != want || s.pos != end) {
					t.Fatalf("appendString(%q) = %q, %v at %d; want %q at %d (error %v)", in, got, err, s.pos, want, end, wantErr)
				}
				s = scanner{data: in}
				if err := s.skipString(); (err != nil) != wantErr || !wantErr && s.pos != end {
					t.Fatalf("skipString(%q) = %v at %d; want error %v at %d", in, err, s.pos, wantErr, end)
				}
			}
		}
	}
}
