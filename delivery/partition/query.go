package partition

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/itchyny/gojq"
)

// JSONParsingEngine is the only value Firehose accepts for the
// MetadataExtraction processor's JsonParsingEngine parameter.
const JSONParsingEngine = "JQ-1.6"

// DefaultStepLimit is how many steps of jq's virtual machine a query may
// take on one record unless WithStepLimit says otherwise: some tens of
// milliseconds of one core, while typical partition key queries take
// tens of steps, and iterating over an array a few per element.
const DefaultStepLimit = 1_000_000

// DefaultTimeLimit is how long a query may run on one record unless
// WithTimeLimit says otherwise.
const DefaultTimeLimit = time.Second

// MaxValueLen is the longest partition key value accepted, in bytes.
const MaxValueLen = 512

// Option configures Compile.
type Option func(*options)

type options struct {
	steps     int
	timeLimit time.Duration
	// wholeRecord turns off projection, for tests that compare the two.
	wholeRecord bool
}

// WithStepLimit sets how many steps of jq's virtual machine the query may
// take on one record before Extract gives up on it with an *Error; the
// default is DefaultStepLimit, and n must be positive. It stops queries
// such as repeat(.) or range(1e12) that would otherwise stall delivery.
//
// This is the limit that normally applies, rather than a duration,
// because it is deterministic: a record fails or passes it whatever the
// load of the host, and so goes to the same output when it is delivered
// again after a crash, into an object of the same key.
func WithStepLimit(n int) Option {
	return func(o *options) { o.steps = n }
}

// WithTimeLimit sets how long the query may run on one record before
// Extract gives up on it with an *Error; the default is DefaultTimeLimit,
// and d must be positive. It is a backstop for steps that each take long,
// such as builtins on large values, and should stay well above what the
// step limit allows, since under load it may stop a query early. It is
// checked between steps: a single step runs to completion first.
func WithTimeLimit(d time.Duration) Option {
	return func(o *options) { o.timeLimit = d }
}

func withWholeRecord() Option {
	return func(o *options) { o.wholeRecord = true }
}

// Query is a compiled MetadataExtractionQuery: a jq expression that
// turns a JSON record into an object of partition keys, such as
// {customer_id: .customer_id, device: .type.device}. It is safe for
// concurrent use.
//
// Queries run with gojq, which implements jq 1.7 rather than the jq 1.6
// Firehose names; the differences rarely matter to partition key
// queries. Neither $ENV nor env expose Hydrant's environment (they are
// empty objects), and input, inputs, import and include are not
// available.
type Query struct {
	src       string
	code      *gojq.Code
	keys      []string
	fields    *field // what Extract decodes of a record; nil for all of it
	steps     int
	timeLimit time.Duration
}

// Compile parses and compiles a MetadataExtractionQuery. Besides syntax
// errors, which give the position of the offending token, it rejects
// queries that visibly can never output usable partition keys, such as
// "abc" or {a: null}.
func Compile(query string, opts ...Option) (*Query, error) {
	o := options{steps: DefaultStepLimit, timeLimit: DefaultTimeLimit}
	for _, opt := range opts {
		opt(&o)
	}
	if o.steps <= 0 {
		return nil, fmt.Errorf("invalid step limit %d for jq query: it must be positive", o.steps)
	}
	if o.timeLimit <= 0 {
		return nil, fmt.Errorf("invalid time limit %v for jq query: it must be positive", o.timeLimit)
	}
	if strings.TrimSpace(query) == "" {
		return nil, errors.New("invalid jq query: it is empty")
	}
	parsed, err := gojq.Parse(query)
	if err != nil {
		return nil, parseError(query, err)
	}
	if err := checkStatic(parsed); err != nil {
		return nil, fmt.Errorf("invalid jq query: %w in `%s`", err, query)
	}
	code, err := gojq.Compile(parsed,
		// env and $ENV would put Hydrant's environment, credentials
		// included, into object keys.
		gojq.WithEnvironLoader(func() []string { return nil }),
	)
	if err != nil {
		return nil, fmt.Errorf("invalid jq query: %w in `%s`", err, query)
	}
	q := &Query{src: query, code: code, steps: o.steps, timeLimit: o.timeLimit}
	if obj := outputObject(parsed); obj != nil {
		q.keys = literalKeys(obj)
	}
	if !o.wholeRecord {
		q.fields = projection(parsed)
	}
	return q, nil
}

// parseError renders a gojq syntax error with the position of the
// offending token, as a 1-based column in characters, and its line when
// the query has several.
func parseError(query string, err error) error {
	var pe *gojq.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("invalid jq query: %w in `%s`", err, query)
	}
	// Offset is just past the token.
	at := min(max(pe.Offset-len(pe.Token), 0), len(query))
	lineStart := strings.LastIndexByte(query[:at], '\n') + 1
	col := utf8.RuneCountInString(query[lineStart:at]) + 1
	where := "column " + strconv.Itoa(col)
	if strings.Contains(query, "\n") {
		where = "line " + strconv.Itoa(strings.Count(query[:at], "\n")+1) + ", " + where
	}
	return fmt.Errorf("invalid jq query: %w at %s of `%s`", err, where, query)
}

// String returns the query as written.
func (q *Query) String() string { return q.src }

// Keys returns the names of the partition keys the query outputs, in the
// order written, when its output is an object construction with literal
// keys (possibly after a pipe); it returns nil when they cannot be known
// without running the query. (A query whose output is visibly {} does
// not compile.) Configuration validation uses it to check
// that each !{partitionKeyFromQuery:name} in a prefix is produced.
func (q *Query) Keys() []string { return slices.Clone(q.keys) }

// Extract runs the query on record and stores the partition keys it
// outputs in dst, after clearing it; dst must not be nil. It fails with
// an *Error, which the caller sends to the error output with the record,
// when:
//
//   - record is not one JSON value (Firehose: "Non JSON record provided");
//   - the query fails, outputs nothing, or outputs more than one value;
//   - the query takes more steps than its step limit (see WithStepLimit)
//     or runs longer than its time limit (see WithTimeLimit);
//   - the output is not an object, or a value in it is null, an array,
//     an object, NaN, invalid UTF-8, or longer than MaxValueLen bytes.
//
// Strings are stored as they are, booleans as true and false, and
// numbers as gojq prints them: integers without a fraction (1.0 is "1")
// and exactly, however large; other numbers in their shortest form, with
// an exponent from 1e21 up and below 1e-6 (1e-7). jq 1.6 differs only at
// the extremes: it rounds integers beyond 2^53. Values go into S3 keys
// unescaped; they may contain "/", and may be empty.
//
// If ctx ends first, Extract returns ctx's error, not an *Error: the
// record is not at fault.
//
// Only the parts of the record the query reads are decoded, when that
// can be told from the query: {a: .a, d: .type.device} decodes two
// members of a large record and skips (but validates) the rest.
func (q *Query) Extract(ctx context.Context, record []byte, dst map[string]string) error {
	clear(dst)
	input, err := decodeJSON(record, q.fields)
	if err != nil {
		return extractionError("non JSON record provided: " + err.Error())
	}
	runCtx := &limitContext{Context: ctx, maxSteps: q.steps, deadline: time.Now().Add(q.timeLimit)}
	iter := q.code.RunWithContext(runCtx, input)
	out, ok := iter.Next()
	if !ok {
		return extractionError("query produced no output")
	}
	if err, isErr := out.(error); isErr {
		return q.runError(ctx, runCtx, err)
	}
	obj, isObj := out.(map[string]any)
	if !isObj {
		return extractionError("query produced " + describe(out) + ", not an object")
	}
	if more, ok := iter.Next(); ok {
		if err, isErr := more.(error); isErr {
			return q.runError(ctx, runCtx, err)
		}
		return extractionError("query produced more than one output")
	}
	var badKey string
	var bad *Error
	for k, v := range obj {
		s, err := keyValue(k, v)
		if err != nil {
			// Report the first bad key in order, so that the message
			// does not depend on map iteration.
			if bad == nil || k < badKey {
				badKey, bad = k, err
			}
			continue
		}
		// k may share the record's memory (see decodeJSON).
		if q.fields == nil {
			k = strings.Clone(k)
		}
		dst[k] = s
	}
	if bad != nil {
		clear(dst)
		return bad
	}
	return nil
}

func (q *Query) runError(ctx context.Context, runCtx *limitContext, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("cannot extract partition keys: %w", context.Cause(ctx))
	case runCtx.exceeded == errStepLimit:
		return extractionError("query did not finish within its limit of " + strconv.Itoa(q.steps) + " steps")
	case runCtx.exceeded == errTimeLimit:
		return extractionError("query did not finish within its time limit of " + q.timeLimit.String())
	}
	if he := (*gojq.HaltError)(nil); errors.As(err, &he) && he.Value() == nil && he.ExitCode() == 0 {
		return extractionError("query produced no output: it halted")
	}
	return extractionError("query failed: " + err.Error())
}

var (
	errStepLimit = errors.New("step limit exceeded")
	errTimeLimit = errors.New("time limit exceeded")
)

// limitContext is the context a query runs with. gojq receives the
// context of each run and checks Done before every step of its virtual
// machine, so Done counts the steps, and looks at the clock every
// timeCheckSteps steps: cheaper than a timer per record.
//
// It is used by the one goroutine running the query.
type limitContext struct {
	context.Context
	maxSteps int
	steps    int
	deadline time.Time
	exceeded error // errStepLimit or errTimeLimit, once exceeded
	done     chan struct{}
}

const timeCheckSteps = 1024

func (c *limitContext) Done() <-chan struct{} {
	if c.exceeded == nil {
		c.steps++
		switch {
		case c.steps > c.maxSteps:
			c.exceed(errStepLimit)
		case c.steps%timeCheckSteps == 0 && !time.Now().Before(c.deadline):
			c.exceed(errTimeLimit)
		default:
			return c.Context.Done()
		}
	}
	return c.done
}

func (c *limitContext) exceed(err error) {
	c.exceeded = err
	c.done = make(chan struct{})
	close(c.done)
}

func (c *limitContext) Err() error {
	if c.exceeded != nil {
		return c.exceeded
	}
	return c.Context.Err()
}

// keyValue renders the value of partition key k.
func keyValue(k string, v any) (string, *Error) {
	var s string
	switch v := v.(type) {
	case string:
		if !utf8.ValidString(v) {
			return "", extractionError("partition key " + strconv.Quote(k) + " is not valid UTF-8")
		}
		// v may share the record's memory (see decodeJSON), which the
		// caller, keeping the keys, would keep too.
		s = strings.Clone(v)
	case bool:
		s = strconv.FormatBool(v)
	case int:
		s = strconv.Itoa(v)
	case float64:
		if math.IsNaN(v) {
			return "", extractionError("partition key " + strconv.Quote(k) + " is NaN, not a number")
		}
		s = formatFloat(v)
	case *big.Int:
		s = v.String()
	case json.Number: // gojq passes them through; the parser builds none
		s = formatNumber(v.String())
	case nil:
		return "", extractionError("partition key " + strconv.Quote(k) + " is null (missing from the record?)")
	default:
		return "", extractionError("partition key " + strconv.Quote(k) + " is " + describe(v) + ", not a string, number or boolean")
	}
	if len(s) > MaxValueLen {
		return "", extractionError("partition key " + strconv.Quote(k) + " is " + strconv.Itoa(len(s)) + " bytes long, more than " + strconv.Itoa(MaxValueLen))
	}
	return s, nil
}

// formatFloat renders f as jq does (gojq's encoder, after encoding/json):
// shortest representation, no fraction for integers, an exponent from
// 1e21 up and below 1e-6, ±Inf clamped to the largest float64.
func formatFloat(f float64) string {
	f = min(max(f, -math.MaxFloat64), math.MaxFloat64)
	format := byte('f')
	if x := math.Abs(f); x != 0 && x < 1e-6 || x >= 1e21 {
		format = 'e'
	}
	s := strconv.FormatFloat(f, format, -1, 64)
	if format == 'e' {
		// 1e-07 is printed 1e-7.
		if n := len(s); n >= 4 && s[n-4] == 'e' && s[n-3] == '-' && s[n-2] == '0' {
			s = s[:n-2] + s[n-1:]
		}
	}
	return s
}

// formatNumber renders a JSON number literal as jq does.
func formatNumber(lit string) string {
	switch v := parseNumber(lit, !strings.ContainsAny(lit, ".eE")).(type) {
	case int:
		return strconv.Itoa(v)
	case *big.Int:
		return v.String()
	case float64:
		return formatFloat(v)
	}
	return lit
}

// describe names the jq type of v with an article: "an object", "null".
func describe(v any) string {
	switch t := gojq.TypeOf(v); t {
	case "null":
		return t
	case "array", "object":
		return "an " + t
	default:
		return "a " + t
	}
}
