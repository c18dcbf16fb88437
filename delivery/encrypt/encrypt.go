// Package encrypt implements Hydrant's client-side encryption of delivered
// objects: AES-256-GCM envelope encryption, streamed in chunks.
//
// The operator gives Hydrant one or more master keys (32 random bytes
// each, named by a key id; see Keyring). Every object gets a data key of
// its own, 32 random bytes, which encrypts the object and is stored in the
// object's header wrapped (AES-256-GCM) by the current master key, with
// the rest of the header as additional data. Decrypting needs only the
// object and the master key its header names, so rotating a master key
// means adding a new one: new objects use it, and old objects stay
// readable for as long as the old key is kept.
//
// The body is a sequence of chunks of 64 KiB of plaintext, each sealed
// with AES-256-GCM under the data key. A chunk's nonce is the object's
// random nonce prefix, the chunk's index, and a flag set on the last chunk
// only (the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár,
// "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance",
// 2015, as in Tink's streaming AEAD): chunks that are changed, reordered,
// dropped, duplicated or appended, or an object cut short at a chunk
// boundary, fail to decrypt. Reader releases plaintext only chunk by
// chunk, after the chunk is authenticated, and reports io.EOF only after
// the last chunk. FORMAT.md in this directory specifies the bytes.
//
// Objects are compressed before they are encrypted (ciphertext does not
// compress), so an object key ends in the compression's extension and then
// Extension: "….gz.enc".
//
// Unlike the compression writers, encryption is not deterministic: a
// redelivery of the same records after a crash writes the same plaintext
// under a new data key, so the replaced object decrypts to the same bytes
// but is not byte-identical.
package encrypt

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Extension is the suffix Hydrant appends to the keys of encrypted
// objects, after the compression's own extension.
const Extension = ".enc"

// EnvMasterKeys is the environment variable that holds the master keys,
// in the key file's format with entries separated by commas (see
// ParseKeys), when no key file is given.
const EnvMasterKeys = "HYDRANT_MASTER_KEYS"

// Format constants; FORMAT.md describes them.
const (
	magic         = "HENC"
	version       = 1
	keySize       = 32       // AES-256: master keys and data keys
	tagSize       = 16       // GCM tag
	nonceSize     = 12       // GCM nonce
	prefixSize    = 7        // nonce prefix; then a 4-byte counter and the last flag
	chunkSize     = 64 << 10 // plaintext bytes per chunk (all but the last)
	encChunkSize  = chunkSize + tagSize
	wrappedSize   = nonceSize + keySize + tagSize // wrap nonce, sealed data key
	maxIDLen      = 64
	fixedHdrLen   = len(magic) + 2 // magic, version, key id length
	maxHeaderLen  = fixedHdrLen + maxIDLen + prefixSize + wrappedSize
	lastChunkFlag = 1
)

// maxChunks is the number of chunks the 4-byte counter can number: an
// object holds at most maxChunks × 64 KiB = 256 TiB of plaintext.
const maxChunks = 1 << 32

// ErrNotEncrypted is the error NewReader returns (wrapped) for input that
// does not start with the magic of an encrypted object.
var ErrNotEncrypted = errors.New("not a Hydrant encrypted object")

// ErrUnsupported is the error NewReader returns (wrapped) for an object
// of a format version this build cannot read.
var ErrUnsupported = errors.New("unsupported encrypted object version")

// ErrCorrupt is the error a Reader returns (wrapped) for an object that is
// damaged: a malformed header, a chunk that fails authentication, or an
// object that is truncated or extended.
var ErrCorrupt = errors.New("encrypted object is damaged")

// UnknownKeyError is the error NewReader returns when an object's header
// names a master key that the keyring does not hold.
type UnknownKeyError struct {
	// ID is the key id the object was encrypted with.
	ID string
	// Source is where the keyring came from (a file name or
	// "$HYDRANT_MASTER_KEYS").
	Source string
	// Have lists the key ids the keyring holds.
	Have []string
}

func (e *UnknownKeyError) Error() string {
	return fmt.Sprintf("object is encrypted with master key %q, which %s does not hold (it has %s): add the line %s:<base64 key> with that key to it",
		e.ID, e.Source, quoteList(e.Have), e.ID)
}

// WrongKeyError is the error NewReader returns when the master key the
// object names does not unwrap its data key: the keyring holds a
// different key under that id, or the header was changed.
type WrongKeyError struct {
	// ID is the key id the object was encrypted with.
	ID string
}

func (e *WrongKeyError) Error() string {
	return fmt.Sprintf("master key %q does not open this object: wrong key for that id?", e.ID)
}

// IsEncrypted reports whether prefix, the first bytes of an object (at
// least 4), starts with the magic of an encrypted object.
func IsEncrypted(prefix []byte) bool {
	return bytes.HasPrefix(prefix, []byte(magic))
}

// validID returns "" if id is a valid key id, or what is wrong with it.
// The message does not repeat the id: a key pasted in the wrong place must
// not end up in a log.
func validID(id string) string {
	if id == "" {
		return "is empty"
	}
	if len(id) > maxIDLen {
		return fmt.Sprintf("is %d characters long; at most %d are allowed", len(id), maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		if !idChar(id[i]) {
			return fmt.Sprintf("has the character %q at position %d; ids use A-Z a-z 0-9 _ . - only", rune(id[i]), i+1)
		}
	}
	return ""
}

func idChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-'
}

func quoteList(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = fmt.Sprintf("%q", id)
	}
	return strings.Join(q, ", ")
}
