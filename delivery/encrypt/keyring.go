package encrypt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// generateHint ends every error about key material.
const generateHint = "a master key is 32 random bytes, base64-encoded: generate one with `hydrant keys new`"

// Keyring holds the master keys, by key id. The current key (the last one
// listed) wraps the data keys of new objects; the others only unwrap those
// of older objects. A Keyring does not change after it is made and is safe
// for concurrent use.
type Keyring struct {
	source string // where the keys came from, for errors
	ids    []string
	keys   map[string]cipher.AEAD
}

// ParseKeys parses master keys in the key file format: one key per line,
// written <id>:<base64 of 32 bytes>, where an id is 1 to 64 of A-Z a-z 0-9
// _ . -. Commas separate keys too, so that the same text fits in an
// environment variable. Blank entries are ignored, and so is everything
// from a # to the end of its line. Every id must be unique.
//
// The last key listed is the current one: rotating the master key means
// appending a line with a new id, and keeping the old lines for as long as
// objects encrypted under them must be read.
//
// source names the text in errors (a file name, "$HYDRANT_MASTER_KEYS");
// the errors never contain key material.
func ParseKeys(data []byte, source string) (*Keyring, error) {
	kr := &Keyring{source: source, keys: make(map[string]cipher.AEAD)}
	where := make(map[string]string) // id -> position, for duplicates
	// Positions are lines in a file, entries in a one-line variable.
	multiline := bytes.IndexByte(data, '\n') >= 0
	for lineNo, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		entries := strings.Split(line, ",")
		for entryNo, entry := range entries {
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			var pos string
			switch {
			case multiline && len(entries) > 1:
				pos = fmt.Sprintf("line %d entry %d", lineNo+1, entryNo+1)
			case multiline:
				pos = fmt.Sprintf("line %d", lineNo+1)
			default:
				pos = fmt.Sprintf("entry %d", entryNo+1)
			}
			id, b64, ok := strings.Cut(entry, ":")
			if !ok {
				return nil, fmt.Errorf("%s %s has no key id: write <id>:<base64 key>, e.g. k1:…; %s", source, pos, generateHint)
			}
			id, b64 = strings.TrimSpace(id), strings.TrimSpace(b64)
			if msg := validID(id); msg != "" {
				return nil, fmt.Errorf("the key id in %s %s %s: write <id>:<base64 key>", source, pos, msg)
			}
			if prev, dup := where[id]; dup {
				return nil, fmt.Errorf("key id %q in %s %s is already used by %s: every key needs an id of its own; to rotate, give the new key a new id", id, source, pos, prev)
			}
			key, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				key, err = base64.RawStdEncoding.DecodeString(b64) // padding left out
			}
			if err != nil {
				// Not %w: the base64 error quotes the input.
				return nil, fmt.Errorf("key %q in %s %s is not valid base64; %s", id, source, pos, generateHint)
			}
			if len(key) != keySize {
				return nil, fmt.Errorf("key %q in %s %s is %d bytes; %s", id, source, pos, len(key), generateHint)
			}
			aead, err := newGCM(key)
			clear(key)
			if err != nil {
				return nil, fmt.Errorf("cannot use key %q in %s %s: %w", id, source, pos, err)
			}
			where[id] = pos
			kr.keys[id] = aead
			kr.ids = append(kr.ids, id)
		}
	}
	if len(kr.ids) == 0 {
		return nil, fmt.Errorf("no master keys in %s: add a line <id>:<base64 key>; %s", source, generateHint)
	}
	return kr, nil
}

// LoadKeyFile reads the master keys from the key file at path, in the
// format ParseKeys reads.
func LoadKeyFile(path string) (*Keyring, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read key file: %w", err)
	}
	return ParseKeys(data, path)
}

// FromEnv reads the master keys from the environment variable name
// (usually EnvMasterKeys), in the format ParseKeys reads: <id>:<base64 key>
// entries separated by commas, the last one current.
func FromEnv(name string) (*Keyring, error) {
	v := os.Getenv(name)
	if strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("environment variable %s is not set: set it to the master keys, <id>:<base64 key> separated by commas, the current key last (or give a key file); %s", name, generateHint)
	}
	return ParseKeys([]byte(v), "$"+name)
}

// Current returns the id of the current key, the one new objects are
// encrypted with.
func (kr *Keyring) Current() string {
	return kr.ids[len(kr.ids)-1]
}

// IDs returns the ids of all keys, in the order they are listed (the
// current one last).
func (kr *Keyring) IDs() []string {
	return append([]string(nil), kr.ids...)
}

// GenerateKey returns a new master key with the given id, as a line of the
// key file format (without the newline): <id>:<base64 of 32 random bytes>.
func GenerateKey(id string) (string, error) {
	if msg := validID(id); msg != "" {
		return "", fmt.Errorf("the key id %s", msg)
	}
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("cannot generate key: %w", err)
	}
	line := id + ":" + base64.StdEncoding.EncodeToString(key)
	clear(key)
	return line, nil
}

// newGCM returns AES-256-GCM with the standard 12-byte nonce.
func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != keySize {
		return nil, errors.New("key is not 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("cannot create AES cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("cannot create GCM: %w", err)
	}
	return aead, nil
}
