package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/delivery/encrypt"
)

func TestKeysNew(t *testing.T) {
	before := time.Now().Unix()
	out, _, err := runCLI(t, nil, "keys", "new")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^k(\d+):[A-Za-z0-9+/]{43}=\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keys new printed %q; want k<unix time>:<base64 of 32 bytes>", out)
	}
	if ts, _ := strconv.ParseInt(m[1], 10, 64); ts < before || ts > time.Now().Unix() {
		t.Errorf("keys new made the id k%s; want k<now> (%d)", m[1], before)
	}
	kr, err := encrypt.ParseKeys([]byte(out), "keys new")
	if err != nil || kr.Current() != "k"+m[1] {
		t.Errorf("the line keys new printed does not parse: %v", err)
	}

	tests := []struct {
		args []string
		want string // regexp of the output, or "" for an error
		err  string
	}{
		{[]string{"--id", "prod-2026.01"}, `^prod-2026\.01:[A-Za-z0-9+/]{43}=\n$`, ""},
		{[]string{"--id", ""}, "", `invalid --id "": the key id is empty`},
		{[]string{"--id", "a:b"}, "", `invalid --id "a:b": the key id has the character ':' at position 2`},
		{[]string{"extra"}, "", `unknown command "extra"`},
	}
	for _, tt := range tests {
		out, _, err := runCLI(t, nil, append([]string{"keys", "new"}, tt.args...)...)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("keys new %s: %v; want an error with %q", strings.Join(tt.args, " "), err, tt.err)
			}
			continue
		}
		if err != nil || !regexp.MustCompile(tt.want).MatchString(out) {
			t.Errorf("keys new %s printed %q, %v; want %s", strings.Join(tt.args, " "), out, err, tt.want)
		}
	}

	a, _, _ := runCLI(t, nil, "keys", "new", "--id", "k")
	b, _, _ := runCLI(t, nil, "keys", "new", "--id", "k")
	if a == b {
		t.Errorf("keys new printed the same key twice: %q", a)
	}
	if _, _, err := runCLI(t, nil, "keys", "old"); err == nil {
		t.Errorf("keys old succeeded; want an unknown command error")
	}
}
