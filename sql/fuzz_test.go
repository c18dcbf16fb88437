package sql

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics and that every error it returns
// is positioned inside the input.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.sql")
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	for _, s := range []string{
		"",
		";",
		"SELECT",
		"INSERT INTO x SELECT STREAM a FROM b FULL JOIN c",
		"CREATE TABLE t (ts TIMESTAMP, watermark TIMESTAMP AS (ts - INTERVAL 1 DAY)) ENGINE = stream CONNECTION = 't?format=csv'",
		"CREATE VIEW v AS SELECT a, COUNT(*) AS n FROM t GROUP BY a, HOP(ts, '1 SECOND', '1 SECOND') HAVING n > 1",
		"CREATE TABLE r (k INT PRIMARY KEY) ENGINE = s3 CONNECTION = 's3://b/k?refresh=1h'",
		"INSERT INTO o SELECT CAST(a AS SIGNED), a->>'$.x', CASE a WHEN 1 THEN 'x' END FROM t WHERE a BETWEEN 1 AND ? ",
		"-- only a comment\n/* and another */",
		"INSERT INTO o SELECT 'é', \"\u00e9\" FROM `t`;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		_, err := Parse("fuzz.sql", []byte(src))
		if err == nil {
			return
		}
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("Parse(%q) = %T %v; want an ErrorList", src, err, err)
		}
		lines := strings.Split(src, "\n")
		for _, e := range list {
			if e.Line < 1 || e.Line > len(lines) {
				t.Fatalf("Parse(%q): error %v has line %d of %d", src, e, e.Line, len(lines))
			}
			if n := utf8.RuneCountInString(lines[e.Line-1]); e.Column < 1 || e.Column > n+1 {
				t.Fatalf("Parse(%q): error %v has column %d on a line of %d characters", src, e, e.Column, n)
			}
			if e.Message == "" {
				t.Fatalf("Parse(%q): error without a message at %d:%d", src, e.Line, e.Column)
			}
		}
	})
}
