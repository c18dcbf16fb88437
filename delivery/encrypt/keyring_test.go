package encrypt

import (
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// testKey returns a fixed key for id: the SHA-256 of the id and variant,
// base64-encoded, so that tests and the fuzz corpus see the same keys.
func testKey(id string, variant int) string {
	sum := sha256.Sum256([]byte(id + "/" + string(rune('0'+variant))))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// testKeyring returns a keyring of the ids, with their testKey, the last
// one current.
func testKeyring(t testing.TB, ids ...string) *Keyring {
	t.Helper()
	var lines []string
	for _, id := range ids {
		lines = append(lines, id+":"+testKey(id, 0))
	}
	kr, err := ParseKeys([]byte(strings.Join(lines, "\n")), "test keys")
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestParseKeys(t *testing.T) {
	k1, k2, k3 := testKey("k1", 0), testKey("k2", 0), testKey("k3", 0)
	raw := strings.TrimRight(k3, "=")
	tests := []struct {
		text    string
		ids     []string
		current string
	}{
		{"k1:" + k1, []string{"k1"}, "k1"},
		{"k1:" + k1 + "\n", []string{"k1"}, "k1"},
		{"# keys\n\nk1:" + k1 + "\n  k2 : " + k2 + "   # rotated 2026-01\n\n", []string{"k1", "k2"}, "k2"},
		{"k1:" + k1 + "\r\nk2:" + k2 + "\r\n", []string{"k1", "k2"}, "k2"},
		{"k2:" + k2 + ",k1:" + k1, []string{"k2", "k1"}, "k1"},
		{"k1:" + k1 + ", k2:" + k2 + ",", []string{"k1", "k2"}, "k2"},
		{"k1:" + k1 + "\nk2:" + k2 + ",k3:" + raw, []string{"k1", "k2", "k3"}, "k3"},
		{"A.b_c-9:" + k1 + "\n" + strings.Repeat("x", 64) + ":" + k2, []string{"A.b_c-9", strings.Repeat("x", 64)}, strings.Repeat("x", 64)},
	}
	for _, tt := range tests {
		kr, err := ParseKeys([]byte(tt.text), "keys.txt")
		if err != nil {
			t.Errorf("ParseKeys(%q): %v", tt.text, err)
			continue
		}
		if got := kr.IDs(); !reflect.DeepEqual(got, tt.ids) {
			t.Errorf("ParseKeys(%q).IDs() = %q; want %q", tt.text, got, tt.ids)
		}
		if got := kr.Current(); got != tt.current {
			t.Errorf("ParseKeys(%q).Current() = %q; want %q", tt.text, got, tt.current)
		}
	}
}

func TestParseKeysErrors(t *testing.T) {
	k1 := testKey("k1", 0)
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	tests := []struct {
		text string
		want string // a regexp the error must match
	}{
		{"", `^no master keys in keys.txt: add a line <id>:<base64 key>; a master key is 32 random bytes, base64-encoded: generate one with ` + "`hydrant keys new`$"},
		{"# only a comment\n\n", `^no master keys in keys.txt`},
		{"k0:" + k1 + "\n\nk1:" + short, `^key "k1" in keys.txt line 3 is 16 bytes; a master key is 32 random bytes, base64-encoded: generate one with ` + "`hydrant keys new`$"},
		{"k1:" + short, `^key "k1" in keys.txt entry 1 is 16 bytes`},
		{"k0:" + k1 + ",k1:" + short, `^key "k1" in keys.txt entry 2 is 16 bytes`},
		{"k0:" + k1 + "\nk2:" + k1 + ",k1:" + short, `^key "k1" in keys.txt line 2 entry 2 is 16 bytes`},
		{"k1:" + k1 + "\nk1:" + testKey("k1", 1), `^key id "k1" in keys.txt line 2 is already used by line 1: every key needs an id of its own; to rotate, give the new key a new id$`},
		{k1, `^keys.txt entry 1 has no key id: write <id>:<base64 key>`},
		{":" + k1, `^the key id in keys.txt entry 1 is empty: write <id>:<base64 key>$`},
		{"k 1:" + k1, `^the key id in keys.txt entry 1 has the character ' ' at position 2; ids use A-Z a-z 0-9 _ . - only`},
		{strings.Repeat("x", 65) + ":" + k1, `^the key id in keys.txt entry 1 is 65 characters long; at most 64 are allowed`},
		{"k1:" + k1[:10] + "!" + k1[11:], `^key "k1" in keys.txt entry 1 is not valid base64; a master key is 32 random bytes`},
		{"k1:", `^key "k1" in keys.txt entry 1 is 0 bytes`},
		// A key pasted before its id: the error must not repeat it.
		{k1 + ":k1", `^the key id in keys.txt entry 1 has the character '[+/=]' at position \d+;`},
	}
	for _, tt := range tests {
		_, err := ParseKeys([]byte(tt.text), "keys.txt")
		if err == nil {
			t.Errorf("ParseKeys(%q) succeeded; want an error matching %s", tt.text, tt.want)
			continue
		}
		if !regexp.MustCompile(tt.want).MatchString(err.Error()) {
			t.Errorf("ParseKeys(%q) = %v; want an error matching %s", tt.text, err, tt.want)
		}
		if strings.Contains(err.Error(), k1[:12]) {
			t.Errorf("ParseKeys(%q) = %v: the error shows key material", tt.text, err)
		}
	}
}

func TestLoadKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.txt")
	if err := os.WriteFile(path, []byte("# master keys\nk1:"+testKey("k1", 0)+"\nk2:"+testKey("k2", 0)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kr, err := LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if kr.Current() != "k2" {
		t.Errorf("LoadKeyFile: current key %q; want k2", kr.Current())
	}
	if err := os.WriteFile(path, []byte("k1:"+testKey("k1", 0)+"\nk2:AAAA\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadKeyFile(path)
	if want := `key "k2" in ` + path + ` line 2 is 3 bytes`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("LoadKeyFile of a short key: %v; want an error with %q", err, want)
	}
	missing := filepath.Join(t.TempDir(), "nope.txt")
	_, err = LoadKeyFile(missing)
	if err == nil || !strings.Contains(err.Error(), "cannot read key file") || !strings.Contains(err.Error(), missing) {
		t.Errorf("LoadKeyFile(%q) = %v; want a cannot read error naming the file", missing, err)
	}
}

func TestFromEnv(t *testing.T) {
	const name = "HYDRANT_TEST_MASTER_KEYS"
	t.Setenv(name, "")
	_, err := FromEnv(name)
	if err == nil || !strings.HasPrefix(err.Error(), "environment variable "+name+" is not set") {
		t.Errorf("FromEnv of an empty variable: %v; want an error naming it", err)
	}
	os.Unsetenv(name)
	if _, err := FromEnv(name); err == nil || !strings.Contains(err.Error(), name) {
		t.Errorf("FromEnv of an unset variable: %v; want an error naming it", err)
	}
	t.Setenv(name, "k1:"+testKey("k1", 0)+",k2:"+testKey("k2", 0))
	kr, err := FromEnv(name)
	if err != nil {
		t.Fatal(err)
	}
	if got := kr.IDs(); !reflect.DeepEqual(got, []string{"k1", "k2"}) || kr.Current() != "k2" {
		t.Errorf("FromEnv: keys %q, current %q; want [k1 k2], k2", got, kr.Current())
	}
	t.Setenv(name, "k1:"+testKey("k1", 0)+",k2:AAAA")
	if _, err := FromEnv(name); err == nil || !strings.Contains(err.Error(), `key "k2" in $`+name+` entry 2 is 3 bytes`) {
		t.Errorf("FromEnv with a short key: %v; want an error naming the variable and entry", err)
	}
}

func TestGenerateKey(t *testing.T) {
	line, err := GenerateKey("k9")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^k9:[A-Za-z0-9+/]{43}=$`).MatchString(line) {
		t.Errorf("GenerateKey(k9) = %q; want k9:<base64 of 32 bytes>", line)
	}
	kr, err := ParseKeys([]byte(line), "generated")
	if err != nil || kr.Current() != "k9" {
		t.Errorf("ParseKeys(GenerateKey(k9)) = %v, %v; want a keyring with k9", kr, err)
	}
	other, _ := GenerateKey("k9")
	if other == line {
		t.Errorf("GenerateKey returned the same key twice")
	}
	for _, id := range []string{"", "a b", "k:1", strings.Repeat("x", 65)} {
		if _, err := GenerateKey(id); err == nil || !strings.HasPrefix(err.Error(), "the key id ") {
			t.Errorf("GenerateKey(%q) = %v; want an invalid id error", id, err)
		}
	}
}
