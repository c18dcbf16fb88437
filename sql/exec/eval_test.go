package exec

import (
	"testing"

	"github.com/hydrantio/hydrant/sql"
)

// evalSQL evaluates the SQL expression x over the row a = 7, n = NULL,
// s = 'Hello', f = 2.5, b = true, t = 2026-01-02T03:04:05.678Z; it returns
// "NULL" or the value as text.
func evalSQL(t *testing.T, x string) string {
	t.Helper()
	src := "CREATE TABLE r (a BIGINT, n BIGINT, s TEXT, f DOUBLE, b BOOLEAN, t TIMESTAMP(3)) ENGINE = stream CONNECTION = 'r';\n" +
		"CREATE TABLE o (x TEXT) ENGINE = stream CONNECTION = 'o';\n" +
		"INSERT INTO o SELECT CAST(" + x + " AS CHAR) FROM r;"
	app, err := sql.Parse("e.sql", []byte(src))
	if err != nil {
		t.Fatalf("Parse(%q): %v", x, err)
	}
	e := app.Queries[0].Plan.(*sql.Sink).Input.(*sql.Project).Exprs[0]
	ts, _ := parseTimestamp("2026-01-02T03:04:05.678Z")
	v, err := newEvaluator().eval(e, &env{row: []any{int64(7), nil, "Hello", 2.5, true, ts}})
	if err != nil {
		return "error: " + err.Error()
	}
	if v == nil {
		return "NULL"
	}
	return toText(v)
}

func TestEval(t *testing.T) {
	for _, c := range []struct{ x, want string }{
		{"a + 1", "8"}, {"a / 2", "3.5"}, {"a DIV 2", "3"}, {"a % 4", "3"}, {"a / 0", "NULL"}, {"-a * f", "-17.5"},
		{"n + 1", "NULL"}, {"n = n", "NULL"}, {"n <=> n", "true"}, {"n IS NULL", "true"},
		{"n > 1 AND a > 100", "false"}, {"n > 1 OR a > 1", "true"}, {"n > 1 OR a > 100", "NULL"}, {"NOT (n > 1)", "NULL"},
		{"a IN (1, 7)", "true"}, {"a IN (1, n)", "NULL"}, {"a NOT IN (1, 2)", "true"}, {"a BETWEEN 7 AND 8", "true"},
		{"CASE WHEN n > 0 THEN 'p' WHEN a > 0 THEN 'q' END", "q"}, {"CASE a WHEN 7 THEN 'seven' ELSE 'other' END", "seven"},
		{"CASE WHEN a < 0 THEN 'neg' END", "NULL"}, {"COALESCE(n, NULL, a)", "7"}, {"IFNULL(n, 'x')", "x"}, {"NULLIF(a, 7)", "NULL"},
		{"IF(b, 'y', 'n')", "y"},
		{"s LIKE 'H%o'", "true"}, {"s LIKE 'h%'", "false"}, {"s LIKE 'H_llo'", "true"}, {"s NOT LIKE '%z%'", "true"}, {"IF(a > 100, s, NULL) LIKE 'x'", "NULL"},
		{"'50%' LIKE '50\\%'", "true"}, {"s REGEXP '^H.*o$'", "true"},
		{"CONCAT(s, '-', a)", "Hello-7"}, {"s || n", "NULL"}, {"CONCAT_WS(',', s, n, a)", "Hello,7"},
		{"UPPER(s)", "HELLO"}, {"SUBSTRING(s, 2, 3)", "ell"}, {"SUBSTRING(s, -3)", "llo"}, {"LEFT(s, 2)", "He"}, {"RIGHT(s, 2)", "lo"},
		{"TRIM('  x ')", "x"}, {"LPAD('7', 3, '0')", "007"}, {"REPLACE(s, 'l', 'L')", "HeLLo"}, {"LOCATE('l', s)", "3"}, {"INSTR(s, 'lo')", "4"},
		{"CHAR_LENGTH('héllo')", "5"}, {"LENGTH('héllo')", "6"}, {"REVERSE(s)", "olleH"},
		{"ROUND(f)", "3"}, {"ROUND(2.345, 2)", "2.35"}, {"FLOOR(f)", "2"}, {"CEIL(f)", "3"}, {"ABS(-a)", "7"}, {"GREATEST(a, 3, 9)", "9"},
		{"CAST('12' AS SIGNED) + 1", "13"}, {"CAST('x' AS SIGNED)", "error: CAST('x' AS int64): \"x\" is not an integer"},
		{"CAST(a AS DOUBLE) / 2", "3.5"}, {"CAST(b AS SIGNED)", "1"},
		{"t", "2026-01-02T03:04:05.678Z"}, {"DATE_FORMAT(t, '%Y/%m/%d %H:%i:%s')", "2026/01/02 03:04:05"}, {"HOUR(t)", "3"},
		{"t > '2026-01-01T00:00:00Z'", "true"}, {"DATE_ADD(t, INTERVAL 1 DAY)", "2026-01-03T03:04:05.678Z"},
		{"FROM_UNIXTIME(86400)", "1970-01-02T00:00:00.000Z"}, {"UNIX_TIMESTAMP(t)", "1767323045"},
		{`JSON_UNQUOTE(JSON_EXTRACT('{"a":{"b":[1,"x"]}}', '$.a.b[1]'))`, "x"}, {`JSON_EXTRACT('{"a":1}', '$.z')`, "NULL"},
		{`JSON_EXTRACT('{"a":{"b":2}}', '$.a')`, `{"b":2}`},
	} {
		if got := evalSQL(t, c.x); got != c.want {
			t.Errorf("eval(%s) = %s; want %s", c.x, got, c.want)
		}
	}
}

func TestLike(t *testing.T) {
	for _, c := range []struct {
		s, p string
		want bool
	}{
		{"", "", true}, {"", "%", true}, {"a", "", false}, {"abc", "a%c", true}, {"abc", "%b%", true}, {"abc", "_b_", true},
		{"abc", "a_", false}, {"a%c", `a\%c`, true}, {"abc", `a\%c`, false}, {"héllo", "h_llo", true}, {"aaa", "%a%a%a%", true},
	} {
		if got := like(c.s, c.p); got != c.want {
			t.Errorf("like(%q, %q) = %v; want %v", c.s, c.p, got, c.want)
		}
	}
}
