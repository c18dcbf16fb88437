package encrypt

import (
	"bytes"
	"errors"
	"testing"
)

func TestDataKey(t *testing.T) {
	kr := testKeyring(t, "k0", "k1")
	ad := []byte("segment header")
	aead, wrapped, id, err := NewDataKey(kr, ad)
	if err != nil {
		t.Fatalf("NewDataKey() = %v", err)
	}
	if id != "k1" || len(wrapped) != WrappedKeySize {
		t.Fatalf("NewDataKey() = key id %q, %d-byte wrapped key; want k1, %d bytes", id, len(wrapped), WrappedKeySize)
	}
	nonce := make([]byte, aead.NonceSize())
	sealed := aead.Seal(nil, nonce, []byte("records"), nil)

	opened, err := OpenDataKey(kr, id, wrapped, ad)
	if err != nil {
		t.Fatalf("OpenDataKey() = %v", err)
	}
	if got, err := opened.Open(nil, nonce, sealed, nil); err != nil || string(got) != "records" {
		t.Fatalf("the unwrapped key opens %q, %v; want the plaintext", got, err)
	}
	// Rotation: a keyring that holds k1, no longer current, still opens it.
	if _, err := OpenDataKey(testKeyring(t, "k1", "k2"), id, wrapped, ad); err != nil {
		t.Errorf("OpenDataKey() after rotation = %v", err)
	}

	_, wrapped2, _, _ := NewDataKey(kr, ad)
	if bytes.Equal(wrapped, wrapped2) {
		t.Error("two data keys have the same wrapping; want a new key and nonce each")
	}

	other, _ := ParseKeys([]byte("k1:"+testKey("k1", 1)), "keys.txt")
	flipped := bytes.Clone(wrapped)
	flipped[len(flipped)-1] ^= 1
	wrong := []struct {
		name    string
		kr      *Keyring
		wrapped []byte
		ad      []byte
	}{
		{"another key under the id", other, wrapped, ad},
		{"other additional data", kr, wrapped, []byte("segment headeR")},
		{"changed wrapped key", kr, flipped, ad},
	}
	for _, tt := range wrong {
		var werr *WrongKeyError
		if _, err := OpenDataKey(tt.kr, id, tt.wrapped, tt.ad); !errors.As(err, &werr) || werr.ID != "k1" {
			t.Errorf("%s: OpenDataKey() = %v; want *WrongKeyError for k1", tt.name, err)
		}
	}
	for _, k := range []*Keyring{testKeyring(t, "k2"), nil} {
		var uerr *UnknownKeyError
		if _, err := OpenDataKey(k, id, wrapped, ad); !errors.As(err, &uerr) || uerr.ID != "k1" {
			t.Errorf("OpenDataKey(keyring without k1) = %v; want *UnknownKeyError for k1", err)
		}
	}
	if _, err := OpenDataKey(kr, id, wrapped[:20], ad); !errors.Is(err, ErrCorrupt) {
		t.Errorf("OpenDataKey(short wrapped key) = %v; want ErrCorrupt", err)
	}
	if _, _, _, err := NewDataKey(nil, ad); err == nil {
		t.Error("NewDataKey(nil keyring) succeeded")
	}
}
