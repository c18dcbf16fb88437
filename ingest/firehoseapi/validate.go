package firehoseapi

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// validator collects violations of the Firehose model's constraints
// (required members, lengths, patterns, ranges, enums) and reports them the
// way AWS does, as one ValidationException:
//
//	2 validation errors detected: Value '' at 'deliveryStreamName' failed to satisfy constraint: …; Value …
//
// Member paths are the model's member names in lower camel case, with list
// members as records.1.member.data (1-based).
type validator struct {
	errs []string
}

// constraint is a pattern constraint: the regexp that checks it and the
// pattern as the model spells it, which the message quotes.
type constraint struct {
	re   *regexp.Regexp
	text string
}

func pattern(text string) constraint {
	return constraint{regexp.MustCompile("^(?:" + text + ")$"), text}
}

// Patterns of the Firehose model.
var (
	patBucketARN     = pattern(`arn:.*:s3:::[\w\.\-]{1,255}`)
	patRoleARN       = pattern(`arn:.*:iam::\d{12}:role/[a-zA-Z_0-9+=,.@\-_/]+`)
	patVersionID     = pattern(`[0-9]+`)
	patDestinationID = pattern(`[a-zA-Z0-9-]+`)
	patTagValue      = pattern(`^[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$`)
	// patTagKey's model pattern starts with (?!aws:), which Go's regexp
	// cannot express; tagKey checks the prefix itself.
	patTagKey = constraint{patTagValue.re, `^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$`}
)

// namePatternText is the model's DeliveryStreamName pattern.
const namePatternText = `[a-zA-Z0-9_.-]+`

// Enums of the Firehose model (CompressionFormat with Hydrant's ZSTD).
var (
	enumStreamType   = []string{"DirectPut", "KinesisStreamAsSource", "MSKAsSource", "DatabaseAsSource"}
	enumCompression  = []string{"UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY", "ZSTD"}
	enumNoEncryption = []string{"NoEncryption"}
	enumS3BackupMode = []string{"Disabled", "Enabled"}
)

func (v *validator) add(value, path, msg string) {
	v.errs = append(v.errs, "Value "+value+" at '"+path+"' failed to satisfy constraint: "+msg)
}

func quote(s string) string { return "'" + echo(s) + "'" }

// err returns the ValidationException, or nil when nothing was violated.
func (v *validator) err() error {
	switch len(v.errs) {
	case 0:
		return nil
	case 1:
		return &awsError{Code: codeValidation, Message: "1 validation error detected: " + v.errs[0]}
	}
	return &awsError{Code: codeValidation, Message: strconv.Itoa(len(v.errs)) + " validation errors detected: " + strings.Join(v.errs, "; ")}
}

// required reports whether a required member is present, recording a
// violation when it is not.
func (v *validator) required(path string, present bool) bool {
	if !present {
		v.add("null", path, "Member must not be null")
	}
	return present
}

// str checks an optional string member (nil means absent).
func (v *validator) str(path string, s *string, minLen, maxLen int, pat *constraint) {
	if s == nil {
		return
	}
	n := utf8.RuneCountInString(*s)
	if pat != nil && !pat.re.MatchString(*s) {
		v.add(quote(*s), path, "Member must satisfy regular expression pattern: "+pat.text)
	}
	v.length(quote(*s), path, n, minLen, maxLen)
}

// redacted stands for the value of a sensitive member in messages, as AWS
// words it.
const redacted = "'*** Sensitive Data Redacted ***'"

// sensitive checks an optional string member the model marks sensitive
// (an endpoint URL, an access key): the message does not repeat its value.
func (v *validator) sensitive(path string, s *string, minLen, maxLen int, pat *constraint) {
	if s == nil {
		return
	}
	if pat != nil && !pat.re.MatchString(*s) {
		v.add(redacted, path, "Member must satisfy regular expression pattern: "+pat.text)
	}
	v.length(redacted, path, utf8.RuneCountInString(*s), minLen, maxLen)
}

func (v *validator) length(value, path string, n, minLen, maxLen int) {
	if n < minLen {
		v.add(value, path, "Member must have length greater than or equal to "+strconv.Itoa(minLen))
	}
	if maxLen >= 0 && n > maxLen {
		v.add(value, path, "Member must have length less than or equal to "+strconv.Itoa(maxLen))
	}
}

// name checks a DeliveryStreamName. It is on the hot path, so it does not
// use a regexp.
func (v *validator) name(path string, s *string, required bool) {
	if s == nil {
		if required {
			v.required(path, false)
		}
		return
	}
	if !validNameChars(*s) {
		v.add(quote(*s), path, "Member must satisfy regular expression pattern: "+namePatternText)
	}
	v.length(quote(*s), path, utf8.RuneCountInString(*s), 1, 64)
}

// validNameChars reports whether s is non-empty and only holds
// [a-zA-Z0-9_.-].
func validNameChars(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// intRange checks an optional integer member.
func (v *validator) intRange(path string, n *int, minVal, maxVal int) {
	if n == nil {
		return
	}
	if *n < minVal {
		v.add(quote(strconv.Itoa(*n)), path, "Member must have value greater than or equal to "+strconv.Itoa(minVal))
	}
	if *n > maxVal {
		v.add(quote(strconv.Itoa(*n)), path, "Member must have value less than or equal to "+strconv.Itoa(maxVal))
	}
}

// enum checks an optional enum member.
func (v *validator) enum(path string, s *string, values []string) {
	if s == nil {
		return
	}
	for _, e := range values {
		if *s == e {
			return
		}
	}
	v.add(quote(*s), path, "Member must satisfy enum value set: ["+strings.Join(values, ", ")+"]")
}

// blob checks a required blob member; AWS prints a blob's value as the Java
// ByteBuffer that held it.
func (v *validator) blob(path string, b []byte, maxLen int) {
	if !v.required(path, b != nil) {
		return
	}
	if len(b) > maxLen {
		n := strconv.Itoa(len(b))
		v.add("'java.nio.HeapByteBuffer[pos=0 lim="+n+" cap="+n+"]'", path, "Member must have length less than or equal to "+strconv.Itoa(maxLen))
	}
}

// list checks the length of a list member. AWS leaves a list's value out of
// the message.
func (v *validator) list(path string, n, minLen, maxLen int) {
	if n < minLen {
		v.errs = append(v.errs, "Value at '"+path+"' failed to satisfy constraint: Member must have length greater than or equal to "+strconv.Itoa(minLen))
	}
	if n > maxLen {
		v.errs = append(v.errs, "Value at '"+path+"' failed to satisfy constraint: Member must have length less than or equal to "+strconv.Itoa(maxLen))
	}
}

// tagKey checks a tag key, including the aws: prefix the model's pattern
// excludes.
func (v *validator) tagKey(path string, s *string) {
	if !v.required(path, s != nil) {
		return
	}
	if strings.HasPrefix(*s, "aws:") || !patTagKey.re.MatchString(*s) {
		v.add(quote(*s), path, "Member must satisfy regular expression pattern: "+patTagKey.text)
	}
	v.length(quote(*s), path, utf8.RuneCountInString(*s), 1, 128)
}

// memberPath returns the path of the i-th (0-based) member of a list.
func memberPath(list string, i int, member string) string {
	return list + "." + strconv.Itoa(i+1) + ".member." + member
}
