package encrypt

import (
	"crypto/cipher"
	"crypto/rand"
	"fmt"
)

// WrappedKeySize is the size of a wrapped data key as NewDataKey returns
// it: a random 12-byte nonce, then the 32-byte data key sealed with
// AES-256-GCM under the master key (48 bytes with the tag). It is the
// wrapping of the objects' headers (FORMAT.md), for callers that store the
// wrapped key in a format of their own, such as the WAL's segment headers.
const WrappedKeySize = wrappedSize

// NewDataKey makes a new random AES-256-GCM data key and wraps it with the
// current master key of kr (kr.Current(); a Keyring does not change, so a
// caller may put that id in ad beforehand). The wrapping authenticates ad,
// the caller's additional data (typically the header the wrapped key is
// stored in), and OpenDataKey needs the same ad.
//
// It returns the cipher keyed by the data key, the wrapped key to store
// (WrappedKeySize bytes) and the id of the master key that wrapped it. The
// data key itself never leaves the package. The cipher takes the standard
// 12-byte nonce; callers choose nonces that never repeat under one data
// key.
func NewDataKey(kr *Keyring, ad []byte) (aead cipher.AEAD, wrapped []byte, keyID string, err error) {
	if kr == nil {
		return nil, nil, "", fmt.Errorf("cannot make a data key: no master keys")
	}
	var dataKey [keySize]byte
	defer clear(dataKey[:])
	rand.Read(dataKey[:]) // never fails: crypto/rand crashes the program instead
	aead, err = newGCM(dataKey[:])
	if err != nil {
		return nil, nil, "", fmt.Errorf("cannot create data key cipher: %w", err)
	}
	keyID = kr.Current()
	wrapped = make([]byte, nonceSize, WrappedKeySize)
	rand.Read(wrapped)
	wrapped = kr.keys[keyID].Seal(wrapped, wrapped[:nonceSize], dataKey[:], ad)
	return aead, wrapped, keyID, nil
}

// OpenDataKey unwraps a data key that NewDataKey wrapped under the master
// key keyID, with the same additional data ad, and returns the cipher it
// keys. It returns a *UnknownKeyError if kr does not hold keyID (or kr is
// nil), a *WrongKeyError if that key does not unwrap it (another key under
// the same id, or wrapped or ad changed), and an error wrapping ErrCorrupt
// if wrapped is not WrappedKeySize bytes.
func OpenDataKey(kr *Keyring, keyID string, wrapped, ad []byte) (cipher.AEAD, error) {
	if kr == nil {
		return nil, &UnknownKeyError{ID: keyID, Source: "the configuration", Have: nil}
	}
	master, ok := kr.keys[keyID]
	if !ok {
		return nil, &UnknownKeyError{ID: keyID, Source: kr.source, Have: kr.IDs()}
	}
	if len(wrapped) != WrappedKeySize {
		return nil, fmt.Errorf("%w: a wrapped data key is %d bytes, want %d", ErrCorrupt, len(wrapped), WrappedKeySize)
	}
	var dataKey [keySize]byte
	defer clear(dataKey[:])
	if _, err := master.Open(dataKey[:0], wrapped[:nonceSize], wrapped[nonceSize:], ad); err != nil {
		return nil, &WrongKeyError{ID: keyID}
	}
	aead, err := newGCM(dataKey[:])
	if err != nil {
		return nil, fmt.Errorf("cannot create data key cipher: %w", err)
	}
	return aead, nil
}
