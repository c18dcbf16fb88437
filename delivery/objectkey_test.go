package delivery

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// keyTime is Firehose's documentation example instant, with seconds and
// a fraction: Monday 27 August 2018, 10:30:05.123456789 UTC.
var keyTime = time.Date(2018, 8, 27, 10, 30, 5, 123456789, time.UTC)

func TestObjectKey(t *testing.T) {
	base := KeyParams{
		Stream:    "clicks",
		Version:   3,
		StreamID:  "01J9ZQ4K7M3X",
		Time:      keyTime,
		First:     0,
		Last:      499,
		Extension: ".gz",
	}
	// The object name after the prefix, for base.
	const name = "clicks-3-2018-08-27-10-30-05-00000000000000000000-00000000000000000499-7650a0a4.gz"
	tests := []struct {
		name string
		edit func(p *KeyParams)
		want string
	}{
		{"default prefix", func(p *KeyParams) {}, "2018/08/27/10/" + name},
		{"static prefix with slash", func(p *KeyParams) { p.Prefix = "logs/" }, "logs/2018/08/27/10/" + name},
		{"static prefix without slash", func(p *KeyParams) { p.Prefix = "logs" }, "logs2018/08/27/10/" + name},
		{"hive-style timestamps", func(p *KeyParams) {
			p.Prefix = "myPrefix/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/"
		}, "myPrefix/year=2018/month=08/day=27/hour=10/" + name},
		{"quoted literals", func(p *KeyParams) { p.Prefix = "dt=!{timestamp:yyyy'-'MM'-'dd}/h=!{timestamp:HH}/" },
			"dt=2018-08-27/h=10/" + name},
		{"random string, no timestamp: default appended", func(p *KeyParams) { p.Prefix = "rand=!{firehose:random-string}/" },
			"rand=rpxzqn709pm/2018/08/27/10/" + name},
		{"two random strings differ", func(p *KeyParams) {
			p.Prefix = "!{firehose:random-string}/!{firehose:random-string}/!{timestamp:yyyy}/"
		}, "rpxzqn709pm/0drox2voc6b/2018/" + name},
		{"random string follows the first offset", func(p *KeyParams) {
			p.Prefix = "!{firehose:random-string}/!{timestamp:yyyy}/"
			p.First, p.Last = 500, 999
		}, "92b3ccyeoi1/2018/clicks-3-2018-08-27-10-30-05-00000000000000000500-00000000000000000999-7650a0a4.gz"},
		{"partition keys are not evaluated yet, no default appended", func(p *KeyParams) {
			p.Prefix = "customer=!{partitionKeyFromQuery:customer_id}/"
		}, "customer=!{partitionKeyFromQuery:customer_id}/" + name},
		{"error prefix with expressions is used as it is", func(p *KeyParams) {
			p.Prefix = "myFirehoseFailures/!{firehose:error-output-type}/"
			p.ErrorOutputType = "processing-failed"
		}, "myFirehoseFailures/processing-failed/" + name},
		{"error prefix with quoted literals", func(p *KeyParams) {
			p.Prefix = "myErrorPrefix/!{timestamp:'year='yyyy'/month='MM'/day='dd'/hour='HH}/!{firehose:error-output-type}/"
			p.ErrorOutputType = "format-conversion-failed"
		}, "myErrorPrefix/year=2018/month=08/day=27/hour=10/format-conversion-failed/" + name},
		{"error object without any prefix", func(p *KeyParams) { p.ErrorOutputType = "processing-failed" },
			"processing-failed/2018/08/27/10/" + name},
		{"error object under a static prefix", func(p *KeyParams) {
			p.Prefix = "myFirehosePrefix/"
			p.ErrorOutputType = "processing-failed"
		}, "myFirehosePrefix/processing-failed/2018/08/27/10/" + name},
		{"time in another zone is used in UTC", func(p *KeyParams) {
			p.Time = keyTime.In(time.FixedZone("JST", 9*3600))
		}, "2018/08/27/10/" + name},
		{"largest offsets", func(p *KeyParams) {
			p.First, p.Last = 18446744073709551614, 18446744073709551615
			p.Extension = ""
		}, "2018/08/27/10/clicks-3-2018-08-27-10-30-05-18446744073709551614-18446744073709551615-7650a0a4"},
		{"another incarnation of the stream", func(p *KeyParams) { p.StreamID = "01J9ZQ4K7M3Y"; p.Version = 1 },
			"2018/08/27/10/clicks-1-2018-08-27-10-30-05-00000000000000000000-00000000000000000499-9b0ad16d.gz"},
	}
	for _, tt := range tests {
		p := base
		tt.edit(&p)
		if got := ObjectKey(p); got != tt.want {
			t.Errorf("%s: ObjectKey(%+v) =\n\t%s\nwant\n\t%s", tt.name, p, got, tt.want)
		}
		if again := ObjectKey(p); again != ObjectKey(p) {
			t.Errorf("%s: ObjectKey is not deterministic: %s then %s", tt.name, again, ObjectKey(p))
		}
	}
}

// TestObjectKeySortsInLogOrder checks that zero padding makes keys of one
// stream and hour sort as their offsets do.
func TestObjectKeySortsInLogOrder(t *testing.T) {
	p := KeyParams{Stream: "s", Version: 1, StreamID: "x", Time: keyTime}
	var prev string
	for _, first := range []uint64{0, 9, 10, 99, 100, 1 << 40, 1<<64 - 1} {
		p.First, p.Last = first, first
		key := ObjectKey(p)
		if key <= prev {
			t.Errorf("key for offset %d (%s) sorts before %s", first, key, prev)
		}
		prev = key
	}
}

func TestPrefixTimestampPatterns(t *testing.T) {
	// Sunday 4 January 2009, 00:07:09 UTC: single digits and midnight.
	early := time.Date(2009, 1, 4, 0, 7, 9, 0, time.UTC)
	tests := []struct {
		pattern string
		t       time.Time
		want    string
	}{
		{"yyyy/MM/dd/HH/", keyTime, "2018/08/27/10/"},
		{"yyyy-MM-dd'T'HH:mm:ss", keyTime, "2018-08-27T10:30:05"},
		{"y", keyTime, "2018"},
		{"yy", keyTime, "18"},
		{"yyy", keyTime, "2018"},
		{"yyyyy", keyTime, "02018"},
		{"uuuu", keyTime, "2018"},
		{"uu", early, "09"},
		{"M", early, "1"},
		{"MM", early, "01"},
		{"MMM", keyTime, "Aug"},
		{"MMMM", keyTime, "August"},
		{"MMMMM", keyTime, "A"},
		{"LLLL", keyTime, "August"},
		{"d", early, "4"},
		{"dd", early, "04"},
		{"D", keyTime, "239"},
		{"D", early, "4"},
		{"DD", early, "04"},
		{"DDD", early, "004"},
		{"H", early, "0"},
		{"HH", early, "00"},
		{"k", early, "24"},
		{"K", early, "0"},
		{"h", early, "12"},
		{"hh a", keyTime, "10 AM"},
		{"hh a", time.Date(2018, 8, 27, 13, 0, 0, 0, time.UTC), "01 PM"},
		{"m:s", early, "7:9"},
		{"mm:ss", early, "07:09"},
		{"S", keyTime, "1"},
		{"SSS", keyTime, "123"},
		{"SSSSSSSSS", keyTime, "123456789"},
		{"E", keyTime, "Mon"},
		{"EEE", early, "Sun"},
		{"EEEE", keyTime, "Monday"},
		{"EEEEE", keyTime, "M"},
		{"Q", keyTime, "3"},
		{"QQ", keyTime, "03"},
		{"QQQ", keyTime, "Q3"},
		{"QQQQ", keyTime, "3rd quarter"},
		{"qqqq", early, "1st quarter"},
		{"G", keyTime, "AD"},
		{"GGGG", keyTime, "Anno Domini"},
		{"'year='yyyy", keyTime, "year=2018"},
		{"''yyyy''", keyTime, "'2018'"},
		{"'it''s' HH", keyTime, "it's 10"},
		{"[yyyy]", keyTime, "2018"},
		{"yyyy[-MM", keyTime, "2018-08"},
		{"yyyy.MM_dd äö", keyTime, "2018.08_27 äö"},
		{"yyyy", time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC), "+12345"},
		{"yyyy", time.Date(987, 1, 1, 0, 0, 0, 0, time.UTC), "0987"},
	}
	for _, tt := range tests {
		tokens, err := parseJavaTime(tt.pattern)
		if err != nil {
			t.Errorf("parseJavaTime(%q) = %v", tt.pattern, err)
			continue
		}
		if got := string(appendJavaTime(nil, tokens, tt.t)); got != tt.want {
			t.Errorf("format %q at %v = %q; want %q", tt.pattern, tt.t, got, tt.want)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	valid := []string{
		"",
		"logs/",
		"logs",
		"!{timestamp:yyyy}/",
		"year=!{timestamp:yyyy}/month=!{timestamp:MM}/",
		"dt=!{timestamp:yyyy'-'MM'-'dd}/",
		"!{firehose:random-string}/x/",
		"errors/!{firehose:error-output-type}/",
		"customer_id=!{partitionKeyFromQuery:customer_id}/",
		"k=!{partitionKeyFromLambda:k-1}/",
		"a}b{c/",
		"wow!/",
		"ünïcödé/",
		strings.Repeat("a", MaxPrefixLen),
	}
	for _, p := range valid {
		if err := ValidatePrefix(p); err != nil {
			t.Errorf("ValidatePrefix(%q) = %v; want nil", p, err)
		}
	}

	invalid := []struct {
		prefix string
		want   string // a part of the error message
	}{
		{"!{timestamp:yyyy", `"!{timestamp:yyyy" is not closed`},
		{"a/!{timestamp:yyyy!{firehose:random-string}}/", `"!{timestamp:yyyy!{firehose:random-string}" is not closed before the next !{`},
		{"!{timestamp}/", `"!{timestamp}" has no namespace`},
		{"!{foo:bar}/", `"!{foo:bar}": unknown namespace "foo"`},
		{"!{Timestamp:yyyy}/", `unknown namespace "Timestamp"`},
		{"!{firehose:uuid}/", `"!{firehose:uuid}": unknown firehose value "uuid"`},
		{"!{timestamp:yyyy'}/", `"!{timestamp:yyyy'}": pattern "yyyy'" has an unclosed quote`},
		{"!{timestamp:'''}/", `pattern "'''" has an unclosed quote`},
		{"!{timestamp:ww}/", `"!{timestamp:ww}": pattern letter 'w' is not supported`},
		{"!{timestamp:ZZ}/", `pattern letter 'Z' is not supported`},
		{"!{timestamp:ddd}/", `"!{timestamp:ddd}": too many pattern letters 'd': at most 2`},
		{"!{timestamp:aa}/", `too many pattern letters 'a'`},
		{"!{timestamp:yyyy]}/", `optional section ']' that was not opened`},
		{"!{timestamp:yyyy#}/", `pattern character '#' is reserved`},
		{"!{timestamp:y{y}/", `pattern character '{' is reserved`},
		{"!{partitionKeyFromQuery:}/", `partition key name "" is not valid`},
		{"!{partitionKeyFromQuery:a/b}/", `partition key name "a/b" is not valid`},
		{"/logs/", "starts with '/'"},
		{"a/../b/", `holds ".."`},
		{"a//b/", `holds "//"`},
		{"!{timestamp:'/'}logs/", `prefix evaluates to "/logs/", which starts with '/'`},
		{"a!{timestamp:'.'}./", `prefix evaluates to "a../", which holds ".."`},
		{"a/!{timestamp:'/'}b", `prefix evaluates to "a//b", which holds "//"`},
		{strings.Repeat("a", MaxPrefixLen+1), "1025 bytes long: the limit is 1024"},
		{"a\nb/", "control character U+000A"},
		{"a\x7fb/", "control character U+007F"},
		{"a\xffb/", "not valid UTF-8"},
	}
	for _, tt := range invalid {
		err := ValidatePrefix(tt.prefix)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ValidatePrefix(%q) = %v; want an error containing %s", tt.prefix, err, tt.want)
		}
	}
}

func TestDestinationValidatePrefixes(t *testing.T) {
	tests := []struct {
		prefix, errorPrefix string
		field, want         string // the FieldError expected; "" for none
	}{
		{"", "", "", ""},
		{"logs/", "", "", ""},
		{"", "errors/!{firehose:error-output-type}/", "", ""},
		{"!{timestamp:yyyy}/", "errors/", "", ""},
		{"!{timestamp:yyyy}/", "errors/!{firehose:error-output-type}/!{timestamp:yyyy}/", "", ""},
		{"!{timestamp:yyyy}/", "", "error_output_prefix", "must be set when prefix contains !{…} expressions"},
		{"!{firehose:random-string}/", "", "error_output_prefix", "must be set when prefix contains"},
		{"x/!{firehose:error-output-type}/", "e/!{firehose:error-output-type}/", "prefix", "can only be used in error_output_prefix"},
		{"!{timestamp:yyyy}/", "errors/!{timestamp:yyyy}/", "error_output_prefix", "must contain !{firehose:error-output-type}"},
		{"!{timestamp:yyyy", "", "prefix", "is not closed"},
		{"logs/", "/errors/", "error_output_prefix", "starts with '/'"},
	}
	for _, tt := range tests {
		d := Destination{Bucket: "my-bucket", Prefix: tt.prefix, ErrorOutputPrefix: tt.errorPrefix, Compression: GZIP}
		d.ApplyDefaults()
		err := d.Validate()
		if tt.field == "" {
			if err != nil {
				t.Errorf("Validate(prefix %q, error prefix %q) = %v; want nil", tt.prefix, tt.errorPrefix, err)
			}
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field || !strings.Contains(fe.Message, tt.want) {
			t.Errorf("Validate(prefix %q, error prefix %q) = %v; want a %s error containing %q", tt.prefix, tt.errorPrefix, err, tt.field, tt.want)
		}
	}
}

// FuzzValidatePrefix checks that ValidatePrefix never panics and that a
// prefix it accepts renders, in every role, a key that is a safe relative
// path.
func FuzzValidatePrefix(f *testing.F) {
	f.Add("logs/")
	f.Add("!{timestamp:yyyy'-'MM}/!{firehose:random-string}/")
	f.Fuzz(func(t *testing.T, prefix string) {
		if err := ValidatePrefix(prefix); err != nil {
			if err.Error() == "" {
				t.Fatalf("ValidatePrefix(%q) returned an empty error", prefix)
			}
			return
		}
		roles := []string{"processing-failed"}
		if !strings.Contains(prefix, "!{firehose:error-output-type}") {
			roles = append(roles, "") // allowed in error prefixes only
		}
		for _, errorType := range roles {
			p := KeyParams{Prefix: prefix, ErrorOutputType: errorType, Stream: "s", Version: 1,
				StreamID: "id", Time: keyTime, First: 1, Last: 2, Extension: ".gz"}
			key := ObjectKey(p)
			if strings.HasPrefix(key, "/") || strings.Contains(key, "..") || strings.Contains(key, "//") || !utf8.ValidString(key) {
				t.Fatalf("valid prefix %q renders the unsafe key %q", prefix, key)
			}
			if !strings.Contains(key, "s-1-2018-08-27-10-30-05-00000000000000000001-00000000000000000002-") || !strings.HasSuffix(key, ".gz") {
				t.Fatalf("key %q does not end with the object name", key)
			}
			if ObjectKey(p) != key {
				t.Fatalf("ObjectKey(%+v) is not deterministic", p)
			}
		}
	})
}
