package partition

import (
	"context"
	"errors"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		query string
		want  string
	}{
		{"", "invalid jq query: it is empty"},
		{" \n ", "invalid jq query: it is empty"},
		{"{customer_id: .customer_id}}", "invalid jq query: unexpected token \"}\" at column 28 of `{customer_id: .customer_id}}`"},
		{"{a: .x", "invalid jq query: unexpected EOF at column 7 of `{a: .x`"},
		{"{\n  a: .x,,\n}", "invalid jq query: unexpected token \",\" at line 2, column 9 of `{\n  a: .x,,\n}`"},
		{`{"é€": .x }}`, "invalid jq query: unexpected token \"}\" at column 12 of `{\"é€\": .x }}`"},
		{`{a: .x "b"}`, "invalid jq query: unexpected token \"\\\"b\\\"\" at column 8 of `{a: .x \"b\"}`"},
		{`{a: "\x"}`, "invalid jq query: invalid escape sequence \"\\x\" in string literal at column 6 of `{a: \"\\x\"}`"},
		{`{a: "abc`, "invalid jq query: unterminated string literal at column 9 of `{a: \"abc`"},
		{"{a: foo}", "invalid jq query: function not defined: foo/0 in `{a: foo}`"},
		{"{a: $x}", "invalid jq query: variable not defined: $x in `{a: $x}`"},
		{"{a: input}", "invalid jq query: input(s)/0 is not allowed in `{a: input}`"},
		{`import "m" as m; {a: 1}`, "invalid jq query: cannot load module: \"m\" in `import \"m\" as m; {a: 1}`"},
		{`"abc"`, "invalid jq query: it always outputs a string, not an object of partition keys in `\"abc\"`"},
		{`(1)`, "invalid jq query: it always outputs a number, not an object of partition keys in `(1)`"},
		{`[.a]`, "invalid jq query: it always outputs an array, not an object of partition keys in `[.a]`"},
		{`.a | {}`, "invalid jq query: it always outputs an empty object, without partition keys in `.a | {}`"},
		{`{a: .x, b: null}`, "invalid jq query: the value of key b is always null, not a string, number or boolean in `{a: .x, b: null}`"},
		{`{"a b": [.x]}`, "invalid jq query: the value of key \"a b\" is always an array, not a string, number or boolean in `{\"a b\": [.x]}`"},
		{`.x | {(.k): {b: .c}}`, "invalid jq query: the value of key (.k) is always an object, not a string, number or boolean in `.x | {(.k): {b: .c}}`"},
	}
	for _, tt := range tests {
		_, err := Compile(tt.query)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Compile(%q) = %v; want %s", tt.query, err, tt.want)
		}
	}
}

func TestCompileOptions(t *testing.T) {
	if _, err := Compile("{a: .a}", WithStepLimit(0)); err == nil || err.Error() != "invalid step limit 0 for jq query: it must be positive" {
		t.Errorf("Compile(WithStepLimit(0)) = %v; want an error", err)
	}
	if _, err := Compile("{a: .a}", WithTimeLimit(-time.Second)); err == nil || err.Error() != "invalid time limit -1s for jq query: it must be positive" {
		t.Errorf("Compile(WithTimeLimit(-1s)) = %v; want an error", err)
	}
	q, err := Compile("{a: .a}")
	if err != nil {
		t.Fatal(err)
	}
	if q.steps != DefaultStepLimit || q.timeLimit != DefaultTimeLimit {
		t.Errorf("Compile() limits = %d steps, %v; want %d, %v", q.steps, q.timeLimit, DefaultStepLimit, DefaultTimeLimit)
	}
	if q.String() != "{a: .a}" {
		t.Errorf("String() = %q; want the query", q.String())
	}
}

func TestKeys(t *testing.T) {
	tests := []struct {
		query string
		want  []string
	}{
		{`{customer_id: .customer_id, device: .type.device}`, []string{"customer_id", "device"}},
		{`{year: .ts | strftime("%Y"), "month": .ts | strftime("%m")}`, []string{"year", "month"}},
		{`{device}`, []string{"device"}},
		{`.a as $v | {$v, w: 1}`, []string{"v", "w"}},
		{`{a: .x, b: .y, a: .z}`, []string{"a", "b"}},
		{`.x | {a: .y}`, []string{"a"}},
		{`(.x | ({a: .y}))`, []string{"a"}},
		{`{(.k): .v}`, nil},
		{`{a: 1, "\(.k)": .v}`, nil},
		{`if .x then {a: 1} else {b: 2} end`, nil},
		{`{a: .x} + {b: .y}`, nil},
		{`{a: .x} | .a`, nil},
		{`{a: .x}, {a: .y}`, nil},
		{`.`, nil},
	}
	for _, tt := range tests {
		q, err := Compile(tt.query)
		if err != nil {
			t.Errorf("Compile(%q) failed: %v", tt.query, err)
			continue
		}
		if got := q.Keys(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Compile(%q).Keys() = %#v; want %#v", tt.query, got, tt.want)
		}
	}
}

// extractRecord is the example record of Firehose's dynamic partitioning
// guide, with fields for the edge cases.
var extractRecord = `{
	"type": {"device": "mobile", "event": "user_clicked_submit_button"},
	"customer_id": "1234567890",
	"event_timestamp": 1565382027,
	"region": "sample_region",
	"int": 42, "neg": -7, "zero": -0, "one": 1.0, "frac": 0.1, "exp": 1.5e3,
	"tiny": 1e-7, "huge": 1e21, "over": 1e400, "big": 12345678901234567890,
	"t": true, "f": false, "null": null, "obj": {}, "arr": [1],
	"unicode": "Zürich – 東京 😀", "escaped": "\u00e9\ud83d\ude00\n",
	"slash": "a/b", "empty": "", "long": "` + strings.Repeat("x", 600) + `",
	"invalid": "\udc00"
}`

func TestExtract(t *testing.T) {
	tests := []struct {
		query string
		want  map[string]string
	}{
		{`{customer_id: .customer_id, device: .type.device}`, map[string]string{"customer_id": "1234567890", "device": "mobile"}},
		{`{year: .event_timestamp | strftime("%Y"), month: .event_timestamp | strftime("%m"), day: .event_timestamp | strftime("%d"), hour: .event_timestamp | strftime("%H")}`,
			map[string]string{"year": "2019", "month": "08", "day": "09", "hour": "20"}},
		{`{device: .type.device // "unknown", missing: .nothing // "unknown"}`, map[string]string{"device": "mobile", "missing": "unknown"}},
		{`{k: "\(.region)-\(.type.device)"}`, map[string]string{"k": "sample_region-mobile"}},
		// Numbers, as jq prints them.
		{`{int: .int, neg: .neg, zero: .zero, one: .one, frac: .frac, exp: .exp}`,
			map[string]string{"int": "42", "neg": "-7", "zero": "0", "one": "1", "frac": "0.1", "exp": "1500"}},
		{`{tiny: .tiny, huge: .huge, over: .over, big: .big}`,
			map[string]string{"tiny": "1e-7", "huge": "1e+21", "over": "1.7976931348623157e+308", "big": "12345678901234567890"}},
		{`{sum: (.frac + 0.2), half: (.int / 4), int: (.int / 2), neg0: -0.0, inf: infinite}`,
			map[string]string{"sum": "0.30000000000000004", "half": "10.5", "int": "21", "neg0": "-0", "inf": "1.7976931348623157e+308"}},
		{`{t: .t, f: .f}`, map[string]string{"t": "true", "f": "false"}},
		// Strings, as they are.
		{`{u: .unicode, e: .escaped, s: .slash, empty: .empty}`,
			map[string]string{"u": "Zürich – 東京 😀", "e": "é😀\n", "s": "a/b", "empty": ""}},
		{`{long: .long[:512]}`, map[string]string{"long": strings.Repeat("x", 512)}},
		{`{u: .unicode} | {u: (.u | ascii_downcase)}`, map[string]string{"u": "zürich – 東京 😀"}},
		{`if .t then {} else {a: 1} end`, map[string]string{}},
		{`{env: (env | length), ENV: ($ENV | length)}`, map[string]string{"env": "0", "ENV": "0"}},
	}
	dst := map[string]string{"stale": "x"}
	for _, tt := range tests {
		q, err := Compile(tt.query)
		if err != nil {
			t.Errorf("Compile(%q) failed: %v", tt.query, err)
			continue
		}
		if err := q.Extract(context.Background(), []byte(extractRecord), dst); err != nil {
			t.Errorf("Compile(%q).Extract() failed: %v", tt.query, err)
			continue
		}
		if !maps.Equal(dst, tt.want) {
			t.Errorf("Compile(%q).Extract() = %q; want %q", tt.query, dst, tt.want)
		}
	}
}

func TestExtractErrors(t *testing.T) {
	tests := []struct {
		query  string
		record string
		want   string
	}{
		{`{a: .a}`, ``, "non JSON record provided: unexpected end of JSON input looking for beginning of value at offset 0"},
		{`{a: .a}`, `hello`, "non JSON record provided: invalid character 'h' looking for beginning of value at offset 0"},
		{`{a: .a}`, `{"a":1}{"a":2}`, "non JSON record provided: invalid character '{' after top-level value at offset 7"},
		{`{a: .a}`, "{\"a\":1}\n{\"a\":2}\n", "non JSON record provided: invalid character '{' after top-level value at offset 8"},
		{`{a: .a}`, `{"a":1,"b":[}`, "non JSON record provided: invalid character '}' looking for beginning of value at offset 12"},
		{`{a: .a}`, `"text"`, `query failed: expected an object but got: string ("text")`},
		{`{a: .a}`, `{"b":1}`, `partition key "a" is null (missing from the record?)`},
		{`{a: .a}`, `{"a":null}`, `partition key "a" is null (missing from the record?)`},
		{`{a: .a}`, `{"a":{"b":1}}`, `partition key "a" is an object, not a string, number or boolean`},
		{`{a: .a}`, `{"a":[1]}`, `partition key "a" is an array, not a string, number or boolean`},
		{`{b: .b, a: .a, c: .c}`, `{"b":[],"c":{}}`, `partition key "a" is null (missing from the record?)`},
		{`{a: (.a | @base64d)}`, `{"a":"/w=="}`, `partition key "a" is not valid UTF-8`},
		{`{a: .a}`, `{"a":"` + strings.Repeat("é", 257) + `"}`, `partition key "a" is 514 bytes long, more than 512`},
		{`{a: nan}`, `{}`, `partition key "a" is NaN, not a number`},
		{`.a`, `{"a":"x"}`, "query produced a string, not an object"},
		{`.a`, `{}`, "query produced null, not an object"},
		{`.a[]`, `{"a":[{"k":"x"},{"k":"y"}]}`, "query produced more than one output"},
		{`{k: .a[]}`, `{"a":["x","y"]}`, "query produced more than one output"},
		{`{k: .a[]}`, `{"a":["x",{}]}`, "query produced more than one output"},
		{`{k: .a[] | tostring | error}`, `{"a":[]}`, "query produced no output"},
		{`{k: .a}, error("second")`, `{"a":"x"}`, "query failed: error: second"},
		{`empty`, `{}`, "query produced no output"},
		{`halt`, `{}`, "query produced no output: it halted"},
		{`error("boom")`, `{}`, "query failed: error: boom"},
		{`{a: .a.b}`, `{"a":"x"}`, `query failed: expected an object but got: string ("x")`},
	}
	for _, tt := range tests {
		q, err := Compile(tt.query)
		if err != nil {
			t.Errorf("Compile(%q) failed: %v", tt.query, err)
			continue
		}
		dst := map[string]string{"stale": "x"}
		err = q.Extract(context.Background(), []byte(tt.record), dst)
		var pe *Error
		if !errors.As(err, &pe) || pe.Code != CodeMetadataExtractionFailed || pe.Message != tt.want || err.Error() != tt.want {
			t.Errorf("Compile(%q).Extract(%.40q) = %#v; want *Error{%q, %q}", tt.query, tt.record, err, CodeMetadataExtractionFailed, tt.want)
		}
		if len(dst) != 0 {
			t.Errorf("Compile(%q).Extract(%.40q) left %q in dst; want it empty", tt.query, tt.record, dst)
		}
	}
}

// TestExtractLimits checks that queries that would run forever fail
// within a second, whatever stops them.
func TestExtractLimits(t *testing.T) {
	const (
		steps    = "query did not finish within its limit of 1000000 steps"
		time1s   = "query did not finish within its time limit of 1s"
		time100  = "query did not finish within its time limit of 100ms"
		steps1e4 = "query did not finish within its limit of 10000 steps"
	)
	tests := []struct {
		query string
		opts  []Option
		want  []string
	}{
		// With the defaults, the step limit normally stops them; under
		// the race detector, which slows jq ten times, the time limit.
		{`{k: last(repeat(1))}`, nil, []string{steps, time1s}},
		{`{k: [repeat(.)] | length}`, nil, []string{steps, time1s}},
		{`{k: last(range(1e12))}`, nil, []string{steps, time1s}},
		{`{k: [limit(1e9; repeat(1))] | length}`, nil, []string{steps, time1s}},
		{`def f: f; {k: f}`, nil, []string{steps, time1s}},
		{`{k: last(range(1e12))}`, []Option{WithStepLimit(10_000)}, []string{steps1e4}},
		{`{k: [repeat(.)] | length}`, []Option{WithStepLimit(10_000)}, []string{steps1e4}},
		{`{k: last(range(1e12))}`, []Option{WithStepLimit(math.MaxInt), WithTimeLimit(100 * time.Millisecond)}, []string{time100}},
		{`{k: [repeat(.)] | length}`, []Option{WithStepLimit(math.MaxInt), WithTimeLimit(100 * time.Millisecond)}, []string{time100}},
	}
	maxDuration := time.Second
	if raceEnabled {
		maxDuration = DefaultTimeLimit + time.Second
	}
	for _, tt := range tests {
		q, err := Compile(tt.query, tt.opts...)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = q.Extract(context.Background(), []byte(`{"a":1}`), map[string]string{})
		if d := time.Since(start); d > maxDuration {
			t.Errorf("Compile(%q).Extract() took %v; want under %v", tt.query, d, maxDuration)
		}
		if pe := (*Error)(nil); !errors.As(err, &pe) || !slices.Contains(tt.want, pe.Message) {
			t.Errorf("Compile(%q).Extract() = %v; want *Error %q", tt.query, err, tt.want)
		}
	}

	// The step limit is exact, so a record passes or fails it the same
	// way every time.
	q, err := Compile(`{k: last(range(.n))}`, WithStepLimit(10_000))
	if err != nil {
		t.Fatal(err)
	}
	fits := -1
	for n := 10; n < 10_000; n += 10 {
		if q.Extract(context.Background(), []byte(`{"n":`+strconv.Itoa(n)+`}`), map[string]string{}) != nil {
			fits = n - 10
			break
		}
	}
	if fits < 100 {
		t.Fatalf("range(n) fails 10,000 steps from n = %d; want it to fit more", fits+10)
	}
	for range 3 {
		if err := q.Extract(context.Background(), []byte(`{"n":`+strconv.Itoa(fits)+`}`), map[string]string{}); err != nil {
			t.Errorf("Extract(n = %d) = %v; want it to pass again", fits, err)
		}
		if err := q.Extract(context.Background(), []byte(`{"n":`+strconv.Itoa(fits+10)+`}`), map[string]string{}); err == nil {
			t.Errorf("Extract(n = %d) passed; want it to fail again", fits+10)
		}
	}
}

// TestExtractCanceled checks that a canceled context is no fault of the
// record: Extract returns ctx's error, not an *Error.
func TestExtractCanceled(t *testing.T) {
	for _, query := range []string{`{a: .a}`, `{k: [repeat(.)] | length}`} {
		q, err := Compile(query)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err = q.Extract(ctx, []byte(`{"a":"x"}`), map[string]string{})
		if pe := (*Error)(nil); errors.As(err, &pe) || !errors.Is(err, context.Canceled) {
			t.Errorf("Compile(%q).Extract(canceled) = %v; want context.Canceled", query, err)
		}
	}
	// Cancellation during a run.
	q, err := Compile(`{k: [repeat(.)] | length}`, WithStepLimit(math.MaxInt), WithTimeLimit(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = q.Extract(ctx, []byte(`{}`), map[string]string{})
	if pe := (*Error)(nil); errors.As(err, &pe) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Extract(ctx with deadline) = %v; want context.DeadlineExceeded", err)
	}
}

// TestExtractConcurrent runs one query from several goroutines, for the
// race detector.
func TestExtractConcurrent(t *testing.T) {
	q, err := Compile(`{customer_id: .customer_id, device: .type.device}`)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			dst := map[string]string{}
			for range 100 {
				if err := q.Extract(context.Background(), []byte(extractRecord), dst); err != nil || dst["device"] != "mobile" {
					t.Errorf("Extract() = %v, %q; want device mobile", err, dst)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestProjection checks what Extract decodes of a record for a query.
func TestProjection(t *testing.T) {
	tests := []struct {
		query string
		want  string // "*" for the whole record
	}{
		{`{customer_id: .customer_id, device: .type.device}`, "{customer_id:*,type:{device:*}}"},
		{`{k: .a.b[0]}`, "{a:{b:*}}"},
		{`{k: .a[.i]}`, "{a:*,i:*}"},
		{`{k: .a[.b[.c]]}`, "{a:*,b:*,c:*}"},
		{`{k: .a[]}`, "{a:*}"},
		{`{k: .a[1:2]}`, "{a:*}"},
		{`{k: .a?.b}`, "{a:{b:*}}"},
		{`{k: .["a"]."b"}`, "{a:{b:*}}"},
		{`{k: ."\(.x)"}`, "*"},
		{`{k: .a.b, l: .a}`, "{a:*}"},
		{`{k: .a, l: .a.b}`, "{a:*}"},
		{`{k: .ts | strftime("%Y")}`, "{ts:*}"},
		{`{k: (.a | keys[0])}`, "{a:*}"},
		{`{k: keys[0]}`, "*"},
		{`{k: length}`, "*"},
		{`{k: tostring}`, "*"},
		{`.a as $x | {k: $x, l: .b}`, "{a:*,b:*}"},
		{`.a as [$x, {b: $y}] | {k: $x, l: $y}`, "{a:*}"},
		{`. as {a: $x} | {k: $x}`, "*"},
		{`.a as {(.k): $x} | {k: $x}`, "*"},
		{`{k: (if .a then .b elif .c then .d else .e end)}`, "{a:*,b:*,c:*,d:*,e:*}"},
		{`{k: (if .a then .b end)}`, "*"},
		{`{k: (if .a then .b elif .c then .d end)}`, "*"},
		{`{k: (try .a catch .)}`, "{a:*}"},
		{`{k: "\(.a)-\(.b.c)"}`, "{a:*,b:{c:*}}"},
		{`{k: @base64 "\(.a)"}`, "{a:*}"},
		{`{k: @base64}`, "*"},
		{`{k: (.a // "x"), l: (.b + .c), m: -.d, n: (.e and .f)}`, "{a:*,b:*,c:*,d:*,e:*,f:*}"},
		{`{k: ([.a, .b] | join("-"))}`, "{a:*,b:*}"},
		{`{(.k): .v}`, "{k:*,v:*}"},
		{`{"\(.k)": .v}`, "{k:*,v:*}"},
		{`{"\(.k)"}`, "*"},
		{`{a}`, "{a:*}"},
		{`{"a b"}`, "{a b:*}"},
		{`def f: .a; {k: f}`, "*"},
		{`{k: (reduce .a[] as $x (0; . + $x))}`, "*"},
		{`{k: ([..] | length)}`, "*"},
		{`.a = 1 | {k: .a}`, "*"},
		{`{k: .a} | {m: .k}`, "{a:*}"},
		{`{k: now, e: ($ENV | length)}`, "{}"},
		{`{k: getpath(["a"])}`, "*"},
		{`label $out | {k: .a}`, "*"},
		{`.`, "*"},
	}
	for _, tt := range tests {
		q, err := Compile(tt.query)
		if err != nil {
			t.Errorf("Compile(%q) failed: %v", tt.query, err)
			continue
		}
		if got := formatField(q.fields); got != tt.want {
			t.Errorf("Compile(%q) projection = %s; want %s", tt.query, got, tt.want)
		}
	}
}

func formatField(f *field) string {
	if f == nil {
		return "*"
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(f.sub)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + ":" + formatField(f.sub[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// projectionRecords are records on which TestProjectionEquivalence runs
// the queries of TestProjection with and without projection.
var projectionRecords = []string{
	extractRecord,
	`{"a":{"b":["x",1]},"b":"y","c":2,"d":3,"e":true,"f":false,"i":0,"k":"key","v":"val","ts":0,"x":"a"}`,
	`{"a":"1","b":{"c":"2"},"k":"b","v":[1]}`,
	`{"a":[1,2,3],"i":1,"b":[0],"c":0}`,
	`{"a":null}`,
	`[1,2]`,
	`"s"`,
	`{"a":{"b":1},"a":{"c":2}}`,
}

// projectionQueries are queries with a projection, which
// TestProjectionEquivalence and FuzzProjection run with and without it.
var projectionQueries = []string{
	`{customer_id: .customer_id, device: .type.device}`,
	`{k: .a.b[0]}`, `{k: .a[.i]}`, `{k: .a[.b[.c]]}`, `{k: .a[]}`, `{k: .a[1:2] | length}`,
	`{k: .a?.b}`, `{k: .["a"]."b"}`, `{k: .a.b, l: .a | tostring}`, `{k: (.a | keys[0])}`,
	`.a as $x | {k: $x, l: .b}`, `.a as [$x, {b: $y}] | {k: $x, l: $y}`,
	`{k: (if .a then .b elif .c then .d else .e end)}`, `{k: (try .a catch .)}`,
	`{k: "\(.a)-\(.b.c)"}`, `{k: @base64 "\(.a)"}`,
	`{k: (.a // "x"), l: (.b + .c), m: -.d, n: (.e and .f)}`, `{k: ([.a, .b] | tostring)}`,
	`{(.k): .v}`, `{"\(.k)": .v}`, `{a}`, `{k: .a} | {m: .k}`, `{k: (.a | length)}`,
}

// TestProjectionEquivalence checks that decoding only what a query reads
// changes none of its results.
func TestProjectionEquivalence(t *testing.T) {
	for _, tt := range projectionQueries {
		projected, err := Compile(tt)
		if err != nil {
			t.Fatalf("Compile(%q) failed: %v", tt, err)
		}
		whole, err := Compile(tt, withWholeRecord())
		if err != nil {
			t.Fatal(err)
		}
		if projected.fields == nil {
			t.Errorf("Compile(%q) has no projection; the test case is wasted", tt)
		}
		for _, record := range projectionRecords {
			checkSameExtract(t, projected, whole, []byte(record))
		}
	}
}

// checkSameExtract checks that two compilations of one query extract the
// same keys, or fail with the same error, from record.
func checkSameExtract(t *testing.T, q1, q2 *Query, record []byte) {
	t.Helper()
	got1, got2 := map[string]string{}, map[string]string{}
	err1 := q1.Extract(context.Background(), record, got1)
	err2 := q2.Extract(context.Background(), record, got2)
	if !maps.Equal(got1, got2) || errString(err1) != errString(err2) {
		t.Errorf("Compile(%q).Extract(%.60q) = %q, %v with projection; %q, %v without", q1, record, got1, err1, got2, err2)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
