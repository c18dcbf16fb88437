package exec

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/hydrantio/hydrant/sql"
)

// FuzzRun feeds arbitrary records to an application with a JSON and a CSV
// source, JSON paths and a session window: a bad record goes to the error
// stream, never a panic.
func FuzzRun(f *testing.F) {
	src := `CREATE TABLE j (k VARCHAR(8) COMMENT '$.a.k', v BIGINT COMMENT '$.v[1]', d JSON, ts TIMESTAMP(3) NOT NULL,
  watermark TIMESTAMP(3) AS (ts - INTERVAL 1 SECOND)) ENGINE = stream CONNECTION = 'j';
CREATE TABLE c (k VARCHAR(8), v DOUBLE, ts TIMESTAMP(3) NOT NULL, watermark TIMESTAMP(3) AS (ts))
  ENGINE = stream CONNECTION = 'c?format=csv';
CREATE TABLE o (k VARCHAR(8), n BIGINT, s DOUBLE, e TIMESTAMP(3)) ENGINE = stream CONNECTION = 'o';
CREATE TABLE p (k VARCHAR(8), x VARCHAR(32)) ENGINE = stream CONNECTION = 'p';
INSERT INTO o SELECT k, COUNT(DISTINCT v), AVG(v), SESSION_END(ts, '2 SECOND') FROM j GROUP BY k, SESSION_WINDOW(ts, '2 SECOND');
INSERT INTO o SELECT k, COUNT(*), MAX(v), HOP_END(ts, '1 SECOND', '3 SECOND') FROM c GROUP BY k, HOP(ts, '1 SECOND', '3 SECOND');
INSERT INTO p SELECT k, UPPER(d->>'$.x') || SUBSTRING(k, v) FROM j WHERE k LIKE '%a_' OR v / 0 IS NULL;`
	app, err := sql.Parse("fuzz.sql", []byte(src))
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"a":{"k":"xa1"},"v":[0,3],"d":{"x":"y"},"ts":"2026-01-01T00:00:01Z"}`+"\n"+`{"ts":0}`), []byte("a,1.5,2026-01-01T00:00:01Z\nb,,1970-01-01\n"))
	f.Add([]byte(`{"ts":-5}`+"\n"+`[]`+"\n"+`{"a":1,"ts":"x"}`), []byte(`"a`))
	f.Fuzz(func(t *testing.T, j, c []byte) {
		out := Output{Sinks: map[string]io.Writer{"o": io.Discard, "p": io.Discard}, Errors: io.Discard}
		in := []Input{{Table: "j", Name: "j", R: bytes.NewReader(j)}, {Table: "c", Name: "c", R: bytes.NewReader(c)}}
		if _, err := Run(context.Background(), app, in, out); err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
}
