package exec

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/hydrantio/hydrant/sql"
)

// env is what an expression reads: an input row, or for a window's output
// the group's keys, aggregate results and bounds.
type env struct {
	row        []any
	keys       []any
	aggs       []any
	start, end Timestamp
}

// evaluator evaluates expressions, caching compiled patterns.
type evaluator struct {
	regexps map[string]*regexp.Regexp
}

func newEvaluator() *evaluator { return &evaluator{regexps: map[string]*regexp.Regexp{}} }

// eval computes e. NULL is nil; errors (a CAST that cannot convert, a bad
// pattern) send the record to the error stream.
func (ev *evaluator) eval(e *sql.Expr, en *env) (any, error) {
	switch e.Kind {
	case sql.ExprColumn:
		return en.row[e.Index], nil
	case sql.ExprKey:
		return en.keys[e.Index], nil
	case sql.ExprAggregate:
		return en.aggs[e.Index], nil
	case sql.ExprWindowStart:
		return en.start, nil
	case sql.ExprWindowEnd:
		return en.end, nil
	case sql.ExprLiteral:
		if e.Type == sql.TypeDecimal {
			return convert(e.Value, sql.TypeDecimal)
		}
		return e.Value, nil
	case sql.ExprCast:
		v, err := ev.eval(e.Args[0], en)
		if err != nil {
			return nil, err
		}
		x, err := convert(v, e.Type)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", e, err)
		}
		return x, nil
	}
	switch e.Name {
	case "AND", "OR":
		return ev.logic(e, en)
	case "CASE", "CASE_VALUE":
		return ev.caseExpr(e, en)
	case "COALESCE", "IFNULL":
		for _, a := range e.Args {
			v, err := ev.eval(a, en)
			if v != nil || err != nil {
				return coerce(v, e.Type), err
			}
		}
		return nil, nil
	case "IF":
		c, err := ev.eval(e.Args[0], en)
		if err != nil {
			return nil, err
		}
		if truth(c) {
			return ev.evalAs(e.Args[1], en, e.Type)
		}
		return ev.evalAs(e.Args[2], en, e.Type)
	}
	args := make([]any, len(e.Args))
	for i, a := range e.Args {
		v, err := ev.eval(a, en)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	v, err := ev.call(e, args)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", e.Name, err)
	}
	return coerce(v, e.Type), nil
}

func (ev *evaluator) evalAs(e *sql.Expr, en *env, t sql.Type) (any, error) {
	v, err := ev.eval(e, en)
	return coerce(v, t), err
}

// coerce widens a numeric result to the expression's static type (int64 to
// float64 or decimal); other values pass unchanged.
func coerce(v any, t sql.Type) any {
	if x, ok := v.(int64); ok && (t == sql.TypeFloat64 || t == sql.TypeDecimal) {
		return float64(x)
	}
	return v
}

// truth is SQL's test of a condition: NULL and false fail.
func truth(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	}
	return false
}

// logic is three-valued AND and OR, short-circuiting.
func (ev *evaluator) logic(e *sql.Expr, en *env) (any, error) {
	and := e.Name == "AND"
	sawNull := false
	for _, a := range e.Args {
		v, err := ev.eval(a, en)
		if err != nil {
			return nil, err
		}
		if v == nil {
			sawNull = true
			continue
		}
		if truth(v) != and {
			return !and, nil
		}
	}
	if sawNull {
		return nil, nil
	}
	return and, nil
}

func (ev *evaluator) caseExpr(e *sql.Expr, en *env) (any, error) {
	args := e.Args
	var operand any
	if e.Name == "CASE_VALUE" {
		v, err := ev.eval(args[0], en)
		if err != nil {
			return nil, err
		}
		operand, args = v, args[1:]
	}
	for ; len(args) >= 2; args = args[2:] {
		w, err := ev.eval(args[0], en)
		if err != nil {
			return nil, err
		}
		match := truth(w)
		if e.Name == "CASE_VALUE" {
			c, ok := compare(operand, w)
			match = operand != nil && w != nil && ok && c == 0
		}
		if match {
			return ev.evalAs(args[1], en, e.Type)
		}
	}
	if len(args) == 1 {
		return ev.evalAs(args[0], en, e.Type)
	}
	return nil, nil
}

func anyNull(args []any) bool {
	for _, a := range args {
		if a == nil {
			return true
		}
	}
	return false
}

// call applies an operator or function whose arguments are evaluated.
func (ev *evaluator) call(e *sql.Expr, args []any) (any, error) {
	switch e.Name {
	case "IS NULL":
		return args[0] == nil, nil
	case "IS NOT NULL":
		return args[0] != nil, nil
	case "IS TRUE":
		return args[0] != nil && truth(args[0]), nil
	case "IS NOT TRUE":
		return args[0] == nil || !truth(args[0]), nil
	case "IS FALSE":
		return args[0] != nil && !truth(args[0]), nil
	case "IS NOT FALSE":
		return args[0] == nil || truth(args[0]), nil
	case "<=>":
		if args[0] == nil || args[1] == nil {
			return args[0] == nil && args[1] == nil, nil
		}
		c, ok := compare(args[0], args[1])
		return ok && c == 0, nil
	case "IN", "NOT IN":
		return in(args, e.Name == "NOT IN")
	case "CONCAT_WS":
		if args[0] == nil {
			return nil, nil
		}
		var parts []string
		for _, a := range args[1:] {
			if a != nil {
				parts = append(parts, toText(a))
			}
		}
		return strings.Join(parts, toText(args[0])), nil
	case "NULLIF":
		if args[0] == nil || args[1] == nil {
			return args[0], nil
		}
		if c, ok := compare(args[0], args[1]); ok && c == 0 {
			return nil, nil
		}
		return args[0], nil
	case "NOW", "CURRENT_TIMESTAMP", "PROCTIME", "UNIX_TIMESTAMP", "JSON_EXTRACT", "JSON_UNQUOTE", "XOR":
	default:
		if anyNull(args) {
			return nil, nil // every other function is NULL on a NULL argument
		}
	}
	switch e.Name {
	case "NOT":
		return !truth(args[0]), nil
	case "XOR":
		if anyNull(args) {
			return nil, nil
		}
		return truth(args[0]) != truth(args[1]), nil
	case "=", "!=", "<", "<=", ">", ">=":
		c, ok := compare(args[0], args[1])
		if !ok {
			return nil, fmt.Errorf("cannot compare %s with %s", toText(args[0]), toText(args[1]))
		}
		switch e.Name {
		case "=":
			return c == 0, nil
		case "!=":
			return c != 0, nil
		case "<":
			return c < 0, nil
		case "<=":
			return c <= 0, nil
		case ">":
			return c > 0, nil
		}
		return c >= 0, nil
	case "BETWEEN", "NOT BETWEEN":
		lo, ok1 := compare(args[0], args[1])
		hi, ok2 := compare(args[0], args[2])
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("cannot compare %s", toText(args[0]))
		}
		return (lo >= 0 && hi <= 0) != (e.Name == "NOT BETWEEN"), nil
	case "+", "-", "*", "/", "%", "DIV":
		if len(args) == 1 {
			return negate(args[0]), nil
		}
		return arith(e.Name, args[0], args[1])
	case "LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE":
		s, p := toText(args[0]), toText(args[1])
		if strings.HasSuffix(e.Name, "ILIKE") {
			s, p = strings.ToLower(s), strings.ToLower(p)
		}
		return like(s, p) != strings.HasPrefix(e.Name, "NOT "), nil
	case "REGEXP", "NOT REGEXP":
		re, err := ev.regexp(toText(args[1]), "")
		if err != nil {
			return nil, err
		}
		return re.MatchString(toText(args[0])) != (e.Name == "NOT REGEXP"), nil
	}
	return ev.function(e.Name, args)
}

func (ev *evaluator) regexp(p, flags string) (*regexp.Regexp, error) {
	if strings.Contains(flags, "i") {
		p = "(?i)" + p
	}
	if re, ok := ev.regexps[p]; ok {
		return re, nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("bad regular expression %q: %v", p, err)
	}
	if len(ev.regexps) < 1000 {
		ev.regexps[p] = re
	}
	return re, nil
}

func in(args []any, not bool) (any, error) {
	if args[0] == nil {
		return nil, nil
	}
	sawNull := false
	for _, a := range args[1:] {
		if a == nil {
			sawNull = true
			continue
		}
		if c, ok := compare(args[0], a); ok && c == 0 {
			return !not, nil
		}
	}
	if sawNull {
		return nil, nil
	}
	return not, nil
}

func negate(v any) any {
	switch x := v.(type) {
	case int64:
		return -x
	case float64:
		return -x
	}
	return nil
}

// arith is + - * / % DIV; division by zero is NULL, as in MySQL.
func arith(op string, a, b any) (any, error) {
	x, xInt := a.(int64)
	y, yInt := b.(int64)
	if xInt && yInt && op != "/" {
		switch op {
		case "+":
			return x + y, nil
		case "-":
			return x - y, nil
		case "*":
			return x * y, nil
		case "%":
			if y == 0 {
				return nil, nil
			}
			return x % y, nil
		case "DIV":
			if y == 0 {
				return nil, nil
			}
			return x / y, nil
		}
	}
	fa, err := convert(a, sql.TypeFloat64)
	if err != nil {
		return nil, err
	}
	fb, err := convert(b, sql.TypeFloat64)
	if err != nil {
		return nil, err
	}
	f, g := fa.(float64), fb.(float64)
	switch op {
	case "+":
		return f + g, nil
	case "-":
		return f - g, nil
	case "*":
		return f * g, nil
	case "/":
		if g == 0 {
			return nil, nil
		}
		return f / g, nil
	case "%":
		if g == 0 {
			return nil, nil
		}
		return math.Mod(f, g), nil
	case "DIV":
		if g == 0 {
			return nil, nil
		}
		return int64(math.Trunc(f / g)), nil
	}
	return nil, fmt.Errorf("unknown operator %s", op)
}

// like matches s against a LIKE pattern: % any run, _ one character,
// backslash escapes the next character. Matching is case-sensitive.
func like(s, p string) bool {
	for len(p) > 0 {
		r, n := utf8.DecodeRuneInString(p)
		switch {
		case r == '%':
			for len(p) > 0 && p[0] == '%' {
				p = p[1:]
			}
			if p == "" {
				return true
			}
			for i := 0; i <= len(s); {
				if like(s[i:], p) {
					return true
				}
				if i == len(s) {
					break
				}
				_, m := utf8.DecodeRuneInString(s[i:])
				i += m
			}
			return false
		case r == '_':
			if s == "" {
				return false
			}
			_, m := utf8.DecodeRuneInString(s)
			s, p = s[m:], p[n:]
			continue
		case r == '\\' && len(p) > 1:
			p = p[1:]
			r, n = utf8.DecodeRuneInString(p)
		}
		c, m := utf8.DecodeRuneInString(s)
		if s == "" || c != r {
			return false
		}
		s, p = s[m:], p[n:]
	}
	return s == ""
}
