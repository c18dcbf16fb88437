package delivery

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/delivery/encrypt"
)

func TestLogEncryption(t *testing.T) {
	kr, err := encrypt.ParseKeys([]byte("k1:"+strings.Repeat("B", 43)+"=\n"), "test")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	store := newMemStore()
	store.setFail(errors.New("down")) // keep the records in the log
	open := func(keys *encrypt.Keyring) (*Manager, error) {
		return NewManager(Options{DataDir: dir, Store: store, Keys: keys, FlushTimeout: 100 * time.Millisecond,
			Retry: Backoff{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}})
	}
	m, err := open(kr)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := m.Create(ctx, streamConfig("sealed", 1, 0, GZIP)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(ctx, "sealed", makeRecords("clear", 0, 10, 100)); err != nil {
		t.Fatal(err)
	}
	if err := m.SetLogEncryption(ctx, "sealed", LogEncryption{Enabled: true, KeyType: "AWS_OWNED_CMK"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(ctx, "sealed", makeRecords("secret", 0, 10, 100)); err != nil {
		t.Fatal(err)
	}
	info, _ := m.Describe("sealed")
	if !info.Encryption.Enabled || info.Encryption.Status != EncryptionEnabling || info.Encryption.KeyType != "AWS_OWNED_CMK" {
		t.Errorf("Describe().Encryption = %+v; want enabled, ENABLING while plaintext segments wait", info.Encryption)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "streams", "sealed", "wal", "*.seg"))
	var clear, secret bool
	for _, seg := range segs {
		b, _ := os.ReadFile(seg)
		clear = clear || bytes.Contains(b, []byte("clear-"))
		secret = secret || bytes.Contains(b, []byte("secret-"))
	}
	if !clear || secret {
		t.Errorf("segments hold the records put before encryption: %v, after: %v; want true, false", clear, secret)
	}
	_ = m.Close(ctx)

	var unknown *encrypt.UnknownKeyError
	if _, err := open(nil); !errors.As(err, &unknown) || unknown.ID != "k1" {
		t.Errorf("NewManager without keys = %v; want an *encrypt.UnknownKeyError for k1", err)
	}
	store.setFail(nil)
	m2, err := open(kr)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close(ctx)
	waitFor(t, "delivery of both halves", 10*time.Second, func() bool { return m2.streamLog("sealed").Committed() == 20 })
	got := store.records(t, GZIP)
	checkExactlyOnce(t, got, "clear", 10)
	checkExactlyOnce(t, got, "secret", 10)
	waitFor(t, "ENABLED once the plaintext segments are delivered", 5*time.Second, func() bool {
		info, _ := m2.Describe("sealed")
		return info.Encryption.Status == EncryptionEnabled
	})
	if err := m2.SetLogEncryption(ctx, "sealed", LogEncryption{}); err != nil {
		t.Fatal(err)
	}
	if info, _ := m2.Describe("sealed"); info.Encryption.Enabled || info.Encryption.Status == EncryptionEnabled {
		t.Errorf("after turning it off, Encryption = %+v", info.Encryption)
	}
	m3 := testManager(t, t.TempDir(), newMemStore(), nil)
	if _, err := m3.Create(ctx, streamConfig("plain", 1, 0, GZIP)); err != nil {
		t.Fatal(err)
	}
	if err := m3.SetLogEncryption(ctx, "plain", LogEncryption{Enabled: true}); !errors.Is(err, ErrNoMasterKeys) {
		t.Errorf("SetLogEncryption without keys = %v; want ErrNoMasterKeys", err)
	}
}
