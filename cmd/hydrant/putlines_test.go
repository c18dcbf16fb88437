package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPutLines(t *testing.T) {
	long := func(c string, n int, end string) string { return strings.Repeat(c, n-len(end)) + end }
	a := []string{
		"first\n",
		"\n",
		long("a", maxRecordBytes, "\n"),     // exactly the limit with its newline
		long("b", maxRecordBytes+1, "\n"),   // a byte over, but not without its newline
		long("c", 3*maxRecordBytes, "\n"),   // far over, longer than any buffer
		long("d", maxRecordBytes+2, "\r\n"), // over, but not without its line ending
		"crlf\r\n",
		"last without newline",
	}
	b := []string{long("e", maxRecordBytes, "")} // over once its newline is added
	dir := t.TempDir()
	pathA, pathB := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	for path, lines := range map[string][]string{pathA: a, pathB: b} {
		if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	type skip struct {
		path       string
		line, size int
	}
	tests := []struct {
		noNewline bool
		want      []string
		skipped   []skip
	}{
		{false, []string{a[0], a[1], a[2], a[6], a[7] + "\n"},
			[]skip{{pathA, 4, len(a[3])}, {pathA, 5, len(a[4])}, {pathA, 6, len(a[5])}, {pathB, 1, len(b[0])}}},
		{true, []string{"first", "", strings.TrimSuffix(a[2], "\n"), strings.TrimSuffix(a[3], "\n"),
			strings.TrimSuffix(a[5], "\r\n"), "crlf", a[7], b[0]},
			[]skip{{pathA, 5, len(a[4])}}},
	}
	for _, tt := range tests {
		f := newFakeFirehose(t)
		p, stderr := newTestPutter(t, f, putFlags{noNewline: tt.noNewline, concurrency: 1})
		err := p.run(context.Background(), context.Background(), []input{{name: pathA, path: pathA}, {name: pathB, path: pathB}})
		last := tt.skipped[len(tt.skipped)-1]
		want := fmt.Sprintf("%d %s not delivered; last error: %s:%d: line over the 1,000 KiB record limit",
			len(tt.skipped), plural(int64(len(tt.skipped)), "record was", "records were"), last.path, last.line)
		if err == nil || err.Error() != want {
			t.Errorf("noNewline=%v: put: %v; want %s", tt.noNewline, err, want)
		}
		for _, s := range tt.skipped {
			w := fmt.Sprintf("hydrant: %s:%d: line of %d bytes is over the 1,000 KiB record limit; skipped\n", s.path, s.line, s.size)
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("noNewline=%v: put printed %q; want %q", tt.noNewline, stderr, w)
			}
		}
		_, _, delivered := f.counts()
		total := 0
		for _, n := range delivered {
			total += n
		}
		for _, w := range tt.want {
			if delivered[w] != 1 {
				t.Errorf("noNewline=%v: record of %d bytes %.10q… delivered %d times; want once", tt.noNewline, len(w), w, delivered[w])
			}
		}
		if total != len(tt.want) {
			t.Errorf("noNewline=%v: %d records delivered; want %d", tt.noNewline, total, len(tt.want))
		}
		if p.failed.Load() != int64(len(tt.skipped)) || p.sent.Load() != int64(len(tt.want)) {
			t.Errorf("noNewline=%v: %d sent, %d failed; want %d, %d", tt.noNewline, p.sent.Load(), p.failed.Load(), len(tt.want), len(tt.skipped))
		}
	}
}
