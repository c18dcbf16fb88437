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
