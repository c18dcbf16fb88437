package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runSQLCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newSQLCmd()
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestSQLValidateAndExplain(t *testing.T) {
	app := filepath.Join("..", "..", "sql", "testdata", "design.sql")
	out, _, err := runSQLCmd(t, "validate", app)
	if err != nil || !strings.HasPrefix(out, "ok\n") || !strings.Contains(out, "table clicks: source") {
		t.Errorf("sql validate = %q, %v; want ok and a summary", out, err)
	}
	out, _, err = runSQLCmd(t, "explain", app)
	if err != nil || !strings.Contains(out, "WindowAggregate TUMBLE(ts, size 1m)") {
		t.Errorf("sql explain = %q, %v; want the plan", out, err)
	}
}

func TestSQLValidateErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.sql")
	src := "CREATE TABLE s (a INT) ENGINE = stream CONNECTION = 's';\n" +
		"INSERT INTO nowhere SELECT a FROM s;\n" +
		"INSERT INTO s SELECT\tb FROM s;\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runSQLCmd(t, "validate", path)
	if err == nil || out != "" {
		t.Fatalf("sql validate = %q, %v; want an error", out, err)
	}
	want := path + ":2:13: unknown sink table nowhere: declare it with CREATE TABLE nowhere (…) ENGINE = stream CONNECTION = '…'\n" +
		"    INSERT INTO nowhere SELECT a FROM s;\n" +
		"                ^\n" +
		path + ":3:22: unknown column b in s\n" +
		"    INSERT INTO s SELECT\tb FROM s;\n" +
		"                        \t^\n"
	if errOut != want {
		t.Errorf("sql validate printed\n%s\nwant\n%s", errOut, want)
	}
	if _, _, err := runSQLCmd(t, "explain", filepath.Join(t.TempDir(), "missing.sql")); err == nil {
		t.Errorf("sql explain of a missing file succeeded")
	}
}

func TestSQLRun(t *testing.T) {
	dir := filepath.Join("..", "..", "sql", "testdata", "run", "tumble")
	app, input := filepath.Join(dir, "app.sql"), "clicks="+filepath.Join(dir, "clicks.jsonl")
	out := filepath.Join(t.TempDir(), "out")
	stdout, stderr, err := runSQLCmd(t, "run", app, "--input", input, "--output", out)
	if err != nil {
		t.Fatalf("sql run: %v\n%s", err, stderr)
	}
	for _, want := range []string{"input clicks: 12 records", "1 late", "sink per_minute: 5 rows", "sink busy: 4 rows", "errors: 3 records"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("sql run printed %q; want it to contain %q", stdout, want)
		}
	}
	for _, name := range []string{"per_minute.jsonl", "busy.jsonl"} {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(dir, "want", name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s =\n%s\nwant\n%s", name, got, want)
		}
	}
	errs, err := os.ReadFile(filepath.Join(out, "_errors.jsonl"))
	if err != nil || strings.Count(string(errs), "\n") != 3 || !strings.Contains(string(errs), `"reason":"late: event time 2026-01-01T00:00:59.000Z`) {
		t.Errorf("_errors.jsonl = %q, %v; want 3 records, one late", errs, err)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--input", "nope=x.jsonl", "--output", out}, "unknown table nope; the application's source tables are clicks"},
		{[]string{"--input", "per_minute=x.jsonl", "--output", out}, "table per_minute is not a source"},
		{[]string{"--input", "clicks=" + filepath.Join(dir, "missing.jsonl"), "--output", out}, "no such file"},
		{[]string{"--input", "clicks", "--output", out}, "want TABLE=FILE"},
		{[]string{"--input", input}, "--output DIR is required"},
		{[]string{"--input", input, "--input", input, "--output", out}, "two inputs for table clicks"},
	} {
		_, _, err := runSQLCmd(t, append([]string{"run", app}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("sql run %v = %v; want an error containing %q", c.args, err, c.want)
		}
	}
}

func TestSQLRunRejectsProcessingTime(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	_, _, err := runSQLCmd(t, "run", filepath.Join("..", "..", "sql", "testdata", "features.sql"), "--output", out)
	if err == nil || !strings.Contains(err.Error(), "processing time") {
		t.Errorf("sql run of a PROCTIME() window = %v; want an error", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("sql run created %s before failing: %v", out, err)
	}
}

func TestSQLNexmark(t *testing.T) {
	dir := t.TempDir()
	out, _, err := runSQLCmd(t, "nexmark", "--events", "1000", "--seed", "3", "--output", filepath.Join(dir, "in"))
	if err != nil || out != "1000 events: 20 persons, 60 auctions, 920 bids to "+filepath.Join(dir, "in")+"\n" {
		t.Fatalf("sql nexmark = %q, %v; want 1000 events: 20 persons, 60 auctions, 920 bids", out, err)
	}
	for name, want := range map[string]int{"person": 20, "auction": 60, "bid": 920} {
		b, err := os.ReadFile(filepath.Join(dir, "in", name+".jsonl"))
		if err != nil || strings.Count(string(b), "\n") != want {
			t.Errorf("%s.jsonl: %d lines, %v; want %d", name, strings.Count(string(b), "\n"), err, want)
		}
	}
	q0 := filepath.Join("..", "..", "sql", "testdata", "nexmark", "q0.sql")
	out, _, err = runSQLCmd(t, "run", q0, "--input", "bid="+filepath.Join(dir, "in", "bid.jsonl"), "--output", filepath.Join(dir, "out"))
	if err != nil || !strings.Contains(out, "sink q0: 920 rows") || !strings.Contains(out, "errors: 0 records") {
		t.Errorf("sql run q0.sql over the generated bids = %q, %v; want 920 rows and no errors", out, err)
	}
	if _, _, err := runSQLCmd(t, "nexmark", "--events", "10"); err == nil {
		t.Errorf("sql nexmark without --output succeeded")
	}
}
