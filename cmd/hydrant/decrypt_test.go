package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hydrantio/hydrant/delivery/encrypt"
)

// testKeys is a key file of two master keys, k2 current.
const testKeys = "# test keys\n" +
	"k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n" +
	"k2:ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=\n"

// sealObject encrypts plain under the current key of keys.
func sealObject(t *testing.T, keys string, plain []byte) []byte {
	t.Helper()
	kr, err := encrypt.ParseKeys([]byte(keys), "test keys")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := encrypt.NewWriter(&buf, kr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeFiles writes name → content files into dir.
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestDecryptStdin(t *testing.T) {
	t.Setenv(encrypt.EnvMasterKeys, strings.ReplaceAll(strings.TrimPrefix(testKeys, "# test keys\n"), "\n", ","))
	plain := bytes.Repeat([]byte(`{"n":1}`+"\n"), 20000) // several chunks
	obj := sealObject(t, testKeys, plain)
	for _, args := range [][]string{{"decrypt"}, {"decrypt", "-"}, {"decrypt", "--stdout"}} {
		out, _, err := runCLI(t, bytes.NewReader(obj), args...)
		if err != nil || out != string(plain) {
			t.Errorf("hydrant %s < object: %d bytes, %v; want the %d bytes of plaintext", strings.Join(args, " "), len(out), err, len(plain))
		}
	}

	// Damage shows, after the chunks before it.
	out, _, err := runCLI(t, bytes.NewReader(obj[:len(obj)-100]), "decrypt")
	if err == nil || !strings.Contains(err.Error(), "cannot decrypt standard input: encrypted object is damaged") ||
		!strings.Contains(err.Error(), "went to standard output") || !strings.HasPrefix(string(plain), out) {
		t.Errorf("decrypt of a truncated object: %d bytes, %v; want a damage error", len(out), err)
	}
	_, _, err = runCLI(t, strings.NewReader("plain text\n"), "decrypt")
	if err == nil || !strings.Contains(err.Error(), "not a Hydrant encrypted object") {
		t.Errorf("decrypt of plain text: %v; want a not encrypted error", err)
	}
}

func TestDecryptFiles(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "keys.txt")
	writeFiles(t, dir, map[string][]byte{"keys.txt": []byte(testKeys)})
	kf := "--key-file=" + keyFile
	in := filepath.Join(dir, "in")
	os.Mkdir(in, 0o755)
	a, b := []byte("first object\n"), bytes.Repeat([]byte("second\n"), 30000)
	writeFiles(t, in, map[string][]byte{
		"a.gz.enc": sealObject(t, testKeys, a),
		"b.enc":    sealObject(t, testKeys[:strings.Index(testKeys, "k2:")], b), // under k1
	})
	aEnc, bEnc := filepath.Join(in, "a.gz.enc"), filepath.Join(in, "b.enc")

	if out, _, err := runCLI(t, nil, "decrypt", kf, aEnc, bEnc); err != nil || out != "" {
		t.Fatalf("decrypt a.gz.enc b.enc = %q, %v", out, err)
	}
	for name, want := range map[string][]byte{"a.gz": a, "b": b} {
		got, err := os.ReadFile(filepath.Join(in, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, %v; want %d bytes of plaintext", name, len(got), err, len(want))
		}
		if fi, err := os.Stat(filepath.Join(in, name)); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s created with mode %v; want 0600", name, fi.Mode().Perm())
		}
	}
	if got, want := listDir(t, in), []string{"a.gz", "a.gz.enc", "b", "b.enc"}; !slices.Equal(got, want) {
		t.Errorf("files after decrypt: %q; want %q", got, want)
	}

	// Existing outputs are kept, unless --force.
	os.WriteFile(filepath.Join(in, "a.gz"), []byte("mine"), 0o644)
	_, _, err := runCLI(t, nil, "decrypt", kf, aEnc)
	if err == nil || !strings.Contains(err.Error(), "a.gz already exists; remove it or use --force") {
		t.Errorf("decrypt over an existing file: %v; want an already exists error", err)
	}
	if got, _ := os.ReadFile(filepath.Join(in, "a.gz")); string(got) != "mine" {
		t.Errorf("decrypt without --force changed the existing file to %q", got)
	}
	if _, _, err := runCLI(t, nil, "decrypt", kf, "--force", aEnc); err != nil {
		t.Errorf("decrypt --force: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(in, "a.gz")); !bytes.Equal(got, a) {
		t.Errorf("decrypt --force left %q; want the plaintext", got)
	}

	// --stdout concatenates, and takes any name.
	plainName := filepath.Join(in, "object")
	os.WriteFile(plainName, sealObject(t, testKeys, []byte("third\n")), 0o644)
	out, _, err := runCLI(t, nil, "decrypt", kf, "-o", aEnc, plainName, bEnc)
	if want := string(a) + "third\n" + string(b); err != nil || out != want {
		t.Errorf("decrypt -o: %d bytes, %v; want %d bytes", len(out), err, len(want))
	}
	_, _, err = runCLI(t, nil, "decrypt", kf, plainName)
	if err == nil || !strings.Contains(err.Error(), "does not end in .enc") || !strings.Contains(err.Error(), "--stdout") {
		t.Errorf("decrypt of a name without .enc: %v; want an error suggesting --stdout", err)
	}
	_, _, err = runCLI(t, nil, "decrypt", "--key-file", keyFile, "--key-env", "X", aEnc)
	if err == nil || !strings.Contains(err.Error(), "key-env") {
		t.Errorf("decrypt with --key-file and --key-env: %v; want an error", err)
	}
}

func TestDecryptFailures(t *testing.T) {
	dir := t.TempDir()
	other := "k2:" + strings.Repeat("A", 43) + "=\n" // another key under the id k2
	obj := sealObject(t, testKeys, bytes.Repeat([]byte("x"), 200000))
	writeFiles(t, dir, map[string][]byte{
		"good.enc":      obj,
		"truncated.enc": obj[:len(obj)-70000],
		"extended.enc":  append(bytes.Clone(obj), 0),
		"plain.enc":     []byte("not encrypted\n"),
		"keys.txt":      []byte(testKeys),
		"other.txt":     []byte(other),
		"old.txt":       []byte(testKeys[:strings.Index(testKeys, "k2:")]),
		"bad.txt":       []byte("k1:MDEy\n"),
	})
	path := func(name string) string { return filepath.Join(dir, name) }
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--key-file", path("other.txt"), path("good.enc")}, `cannot decrypt ` + path("good.enc") + `: master key "k2" does not open this object: wrong key for that id?`},
		{[]string{"--key-file", path("old.txt"), path("good.enc")}, `object is encrypted with master key "k2", which ` + path("old.txt") + ` does not hold (it has "k1")`},
		{[]string{"--key-file", path("keys.txt"), path("truncated.enc")}, "encrypted object is damaged"},
		{[]string{"--key-file", path("keys.txt"), path("extended.enc")}, "encrypted object is damaged"},
		{[]string{"--key-file", path("keys.txt"), path("plain.enc")}, `not a Hydrant encrypted object: it does not start with "HENC"`},
		{[]string{"--key-file", path("keys.txt"), path("missing.enc")}, "no such file"},
		{[]string{"--key-file", path("bad.txt"), path("good.enc")}, `key "k1" in ` + path("bad.txt") + ` line 1 is 3 bytes; a master key is 32 random bytes, base64-encoded: generate one with ` + "`hydrant keys new`"},
		{[]string{"--key-file", path("none.txt"), path("good.enc")}, "cannot read key file"},
		{[]string{"--key-env", "HYDRANT_TEST_NO_SUCH_VAR", path("good.enc")}, "environment variable HYDRANT_TEST_NO_SUCH_VAR is not set"},
		{[]string{path("good.enc")}, "environment variable " + encrypt.EnvMasterKeys + " is not set"},
	}
	t.Setenv(encrypt.EnvMasterKeys, "")
	for _, tt := range tests {
		_, _, err := runCLI(t, nil, append([]string{"decrypt"}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("hydrant decrypt %s: %v; want an error with %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
	want := []string{"bad.txt", "extended.enc", "good.enc", "keys.txt", "old.txt", "other.txt", "plain.enc", "truncated.enc"}
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Errorf("files after failed decrypts: %q; want %q (no partial output)", got, want)
	}

	// One bad file does not stop the others.
	_, stderr, err := runCLI(t, nil, "decrypt", "--key-file", path("keys.txt"), path("truncated.enc"), path("good.enc"), path("plain.enc"))
	if err == nil || err.Error() != "2 of 3 files not decrypted" {
		t.Errorf("decrypt of two bad files and a good one: %v; want 2 of 3 files not decrypted", err)
	}
	for _, name := range []string{"truncated.enc", "plain.enc"} {
		if !strings.Contains(stderr, "hydrant: cannot decrypt "+path(name)+": ") {
			t.Errorf("stderr %q does not report %s", stderr, name)
		}
	}
	if got, err := os.ReadFile(path("good")); err != nil || len(got) != 200000 {
		t.Errorf("good.enc beside bad files: %d bytes, %v; want it decrypted", len(got), err)
	}
}

// TestRotation is the rotation a user does: make a key, encrypt, append a
// new key, encrypt; decrypt both with the key file.
func TestRotation(t *testing.T) {
	dir := t.TempDir()
	first, _, err := runCLI(t, nil, "keys", "new", "--id", "k1")
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := runCLI(t, nil, "keys", "new", "--id", "k2")
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string][]byte{
		"old.enc": sealObject(t, first, []byte("before rotation\n")),
		"new.enc": sealObject(t, first+second, []byte("after rotation\n")),
		"keys":    []byte(first + second),
	})
	out, _, err := runCLI(t, nil, "decrypt", "--key-file", filepath.Join(dir, "keys"), "--stdout", filepath.Join(dir, "old.enc"), filepath.Join(dir, "new.enc"))
	if want := "before rotation\nafter rotation\n"; err != nil || out != want {
		t.Errorf("decrypt after rotation = %q, %v; want %q", out, err, want)
	}
}

func TestDecryptInterrupted(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "x.enc")
	writeFiles(t, dir, map[string][]byte{"x.enc": sealObject(t, testKeys, bytes.Repeat([]byte("y"), 300000))})
	kr, err := encrypt.ParseKeys([]byte(testKeys), "test keys")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as Ctrl-C does
	err = decryptFile(ctx, decryptJob{in: in, out: filepath.Join(dir, "x")}, kr, false)
	if err == nil || err.Error() != "cannot decrypt "+in+": interrupted" {
		t.Errorf("decryptFile after Ctrl-C = %v; want interrupted", err)
	}
	if got := listDir(t, dir); !slices.Equal(got, []string{"x.enc"}) {
		t.Errorf("files after an interrupted decrypt: %q; want only x.enc", got)
	}
}
