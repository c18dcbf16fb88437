package exec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hydrantio/hydrant/sql"
)

func num(v any) float64 {
	f, _ := convert(v, sql.TypeFloat64)
	x, _ := f.(float64)
	return x
}

func integer(v any) int64 {
	n, _ := convert(v, sql.TypeInt64)
	x, _ := n.(int64)
	return x
}

func ts(v any) (time.Time, error) {
	t, err := convert(v, sql.TypeTimestamp)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(int64(t.(Timestamp))).UTC(), nil
}

// function applies the scalar functions of sql's function table; args are
// not NULL unless the function accepts NULL.
func (ev *evaluator) function(name string, args []any) (any, error) {
	switch name {
	case "CONCAT":
		var b strings.Builder
		for _, a := range args {
			b.WriteString(toText(a))
		}
		return b.String(), nil
	case "UPPER", "UCASE":
		return strings.ToUpper(toText(args[0])), nil
	case "LOWER", "LCASE":
		return strings.ToLower(toText(args[0])), nil
	case "SUBSTRING", "SUBSTR":
		r := []rune(toText(args[0]))
		pos := integer(args[1])
		n := int64(len(r))
		if len(args) == 3 {
			n = integer(args[2])
		}
		switch {
		case pos > 0:
			pos--
		case pos < 0:
			pos += int64(len(r))
		default:
			return "", nil
		}
		if pos < 0 || pos >= int64(len(r)) || n <= 0 {
			return "", nil
		}
		return string(r[pos:min(int64(len(r)), pos+n)]), nil
	case "LEFT":
		r := []rune(toText(args[0]))
		return string(r[:max(0, min(int64(len(r)), integer(args[1])))]), nil
	case "RIGHT":
		r := []rune(toText(args[0]))
		n := max(0, min(int64(len(r)), integer(args[1])))
		return string(r[int64(len(r))-n:]), nil
	case "TRIM":
		if len(args) >= 2 { // TRIM(remstr FROM s), both ends
			s, cut := toText(args[0]), toText(args[1])
			if cut == "" {
				return s, nil
			}
			for strings.HasPrefix(s, cut) {
				s = s[len(cut):]
			}
			for strings.HasSuffix(s, cut) {
				s = s[:len(s)-len(cut)]
			}
			return s, nil
		}
		return strings.Trim(toText(args[0]), " "), nil
	case "LTRIM":
		return strings.TrimLeft(toText(args[0]), " "), nil
	case "RTRIM":
		return strings.TrimRight(toText(args[0]), " "), nil
	case "REPLACE":
		return strings.ReplaceAll(toText(args[0]), toText(args[1]), toText(args[2])), nil
	case "LPAD", "RPAD":
		r, pad := []rune(toText(args[0])), []rune(toText(args[2]))
		n := integer(args[1])
		if n < 0 {
			return nil, nil
		}
		if int64(len(r)) >= n {
			return string(r[:n]), nil
		}
		if len(pad) == 0 {
			return nil, nil
		}
		fill := make([]rune, 0, n-int64(len(r)))
		for int64(len(fill)) < n-int64(len(r)) {
			fill = append(fill, pad[len(fill)%len(pad)])
		}
		if name == "LPAD" {
			return string(fill) + string(r), nil
		}
		return string(r) + string(fill), nil
	case "REVERSE":
		r := []rune(toText(args[0]))
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		return string(r), nil
	case "LENGTH":
		return int64(len(toText(args[0]))), nil
	case "CHAR_LENGTH":
		return int64(utf8.RuneCountInString(toText(args[0]))), nil
	case "LOCATE", "INSTR":
		sub, s := toText(args[0]), toText(args[1])
		if name == "INSTR" {
			sub, s = s, sub
		}
		r := []rune(s)
		from := int64(1)
		if len(args) == 3 {
			from = integer(args[2])
		}
		if from < 1 || from > int64(len(r))+1 {
			return int64(0), nil
		}
		i := strings.Index(string(r[from-1:]), sub)
		if i < 0 {
			return int64(0), nil
		}
		return from + int64(utf8.RuneCountInString(string(r[from-1:])[:i])), nil
	case "REGEXP_LIKE":
		flags := ""
		if len(args) == 3 {
			flags = toText(args[2])
		}
		re, err := ev.regexp(toText(args[1]), flags)
		if err != nil {
			return nil, err
		}
		return re.MatchString(toText(args[0])), nil
	case "REGEXP_REPLACE":
		re, err := ev.regexp(toText(args[1]), "")
		if err != nil {
			return nil, err
		}
		return re.ReplaceAllString(toText(args[0]), toText(args[2])), nil
	case "REGEXP_SUBSTR":
		re, err := ev.regexp(toText(args[1]), "")
		if err != nil {
			return nil, err
		}
		m := re.FindStringIndex(toText(args[0]))
		if m == nil {
			return nil, nil
		}
		return toText(args[0])[m[0]:m[1]], nil
	case "ABS":
		if x, ok := args[0].(int64); ok {
			if x < 0 {
				return -x, nil
			}
			return x, nil
		}
		return math.Abs(num(args[0])), nil
	case "CEIL", "CEILING":
		return int64(math.Ceil(num(args[0]))), nil
	case "FLOOR":
		return int64(math.Floor(num(args[0]))), nil
	case "ROUND", "TRUNCATE":
		if x, ok := args[0].(int64); ok && (len(args) == 1 || integer(args[1]) >= 0) {
			return x, nil
		}
		d := int64(0)
		if len(args) == 2 {
			d = integer(args[1])
		}
		p := math.Pow(10, float64(d))
		if name == "ROUND" {
			return math.Round(num(args[0])*p) / p, nil
		}
		return math.Trunc(num(args[0])*p) / p, nil
	case "MOD":
		return arith("%", args[0], args[1])
	case "SIGN":
		f := num(args[0])
		switch {
		case f > 0:
			return int64(1), nil
		case f < 0:
			return int64(-1), nil
		}
		return int64(0), nil
	case "SQRT", "EXP", "LN", "LOG10", "LOG2":
		f := num(args[0])
		var r float64
		switch name {
		case "SQRT":
			r = math.Sqrt(f)
		case "EXP":
			r = math.Exp(f)
		case "LN":
			r = math.Log(f)
		case "LOG10":
			r = math.Log10(f)
		case "LOG2":
			r = math.Log2(f)
		}
		return finite(r), nil
	case "LOG":
		if len(args) == 2 {
			return finite(math.Log(num(args[1])) / math.Log(num(args[0]))), nil
		}
		return finite(math.Log(num(args[0]))), nil
	case "POW", "POWER":
		return finite(math.Pow(num(args[0]), num(args[1]))), nil
	case "GREATEST", "LEAST":
		best := args[0]
		for _, a := range args[1:] {
			c, ok := compare(a, best)
			if !ok {
				return nil, fmt.Errorf("cannot compare %s with %s", toText(a), toText(best))
			}
			if (name == "GREATEST") == (c > 0) && c != 0 {
				best = a
			}
		}
		return best, nil
	case "FROM_UNIXTIME":
		t := Timestamp(math.Round(num(args[0]) * 1000))
		if len(args) == 2 {
			return dateFormat(time.UnixMilli(int64(t)).UTC(), toText(args[1])), nil
		}
		return t, nil
	case "UNIX_TIMESTAMP":
		if len(args) == 0 {
			return time.Now().Unix(), nil
		}
		if args[0] == nil {
			return nil, nil
		}
		t, err := ts(args[0])
		if err != nil {
			return nil, err
		}
		return t.Unix(), nil
	case "NOW", "CURRENT_TIMESTAMP", "PROCTIME":
		return Timestamp(time.Now().UnixMilli()), nil
	case "DATE_FORMAT":
		t, err := ts(args[0])
		if err != nil {
			return nil, err
		}
		return dateFormat(t, toText(args[1])), nil
	case "YEAR", "MONTH", "DAY", "DAYOFMONTH", "HOUR", "MINUTE", "SECOND":
		t, err := ts(args[0])
		if err != nil {
			return nil, err
		}
		return int64(map[string]int{"YEAR": t.Year(), "MONTH": int(t.Month()), "DAY": t.Day(), "DAYOFMONTH": t.Day(),
			"HOUR": t.Hour(), "MINUTE": t.Minute(), "SECOND": t.Second()}[name]), nil
	case "DATE_ADD", "DATE_SUB":
		t, err := ts(args[0])
		if err != nil {
			return nil, err
		}
		n := integer(args[1])
		if name == "DATE_SUB" {
			n = -n
		}
		switch strings.ToUpper(toText(args[2])) {
		case "MICROSECOND":
			t = t.Add(time.Duration(n) * time.Microsecond)
		case "MILLISECOND":
			t = t.Add(time.Duration(n) * time.Millisecond)
		case "SECOND":
			t = t.Add(time.Duration(n) * time.Second)
		case "MINUTE":
			t = t.Add(time.Duration(n) * time.Minute)
		case "HOUR":
			t = t.Add(time.Duration(n) * time.Hour)
		case "DAY":
			t = t.AddDate(0, 0, int(n))
		case "WEEK":
			t = t.AddDate(0, 0, 7*int(n))
		case "MONTH":
			t = t.AddDate(0, int(n), 0)
		case "YEAR":
			t = t.AddDate(int(n), 0, 0)
		default:
			return nil, fmt.Errorf("unit %s is not supported", toText(args[2]))
		}
		return Timestamp(t.UnixMilli()), nil
	case "JSON_EXTRACT":
		return jsonExtract(args)
	case "JSON_UNQUOTE":
		if args[0] == nil {
			return nil, nil
		}
		if j, ok := args[0].(JSON); ok {
			if s, ok := j.V.(string); ok {
				return s, nil
			}
			return toText(j), nil
		}
		s := toText(args[0])
		if u, err := strconv.Unquote(s); err == nil && strings.HasPrefix(s, `"`) {
			return u, nil
		}
		return s, nil
	}
	return nil, fmt.Errorf("function %s is not implemented by sql run yet", name)
}

func finite(f float64) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f
}

// jsonExtract is JSON_EXTRACT(doc, path…): the value at path, NULL when
// absent; with several paths, an array of the values found.
func jsonExtract(args []any) (any, error) {
	if anyNull(args) {
		return nil, nil
	}
	docV, err := convert(args[0], sql.TypeJSON)
	if err != nil {
		return nil, err
	}
	doc := docV.(JSON).V
	var found []any
	for _, p := range args[1:] {
		path, err := parsePath(toText(p))
		if err != nil {
			return nil, err
		}
		if v, ok := lookup(doc, path); ok {
			found = append(found, v)
		}
	}
	switch {
	case len(found) == 0:
		return nil, nil
	case len(args) == 2:
		if found[0] == nil {
			return JSON{nil}, nil
		}
		return JSON{found[0]}, nil
	}
	return JSON{found}, nil
}

// dateFormat implements MySQL's DATE_FORMAT specifiers.
func dateFormat(t time.Time, f string) string {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 == len(f) {
			b.WriteByte(f[i])
			continue
		}
		i++
		switch f[i] {
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'c':
			fmt.Fprintf(&b, "%d", int(t.Month()))
		case 'M':
			b.WriteString(t.Month().String())
		case 'b':
			b.WriteString(t.Month().String()[:3])
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'e':
			fmt.Fprintf(&b, "%d", t.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'k':
			fmt.Fprintf(&b, "%d", t.Hour())
		case 'h', 'I':
			fmt.Fprintf(&b, "%02d", (t.Hour()+11)%12+1)
		case 'i':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 's', 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'f':
			fmt.Fprintf(&b, "%06d", t.Nanosecond()/1000)
		case 'p':
			b.WriteString(t.Format("PM"))
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 'W':
			b.WriteString(t.Weekday().String())
		case 'a':
			b.WriteString(t.Weekday().String()[:3])
		default:
			b.WriteByte(f[i])
		}
	}
	return b.String()
}
