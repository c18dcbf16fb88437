package delivery

import (
	"context"
	"errors"
	"fmt"
)

// ErrNoMasterKeys is returned when encryption is asked for but the
// manager has no master keys.
var ErrNoMasterKeys = errors.New("no master keys are configured: give hydrant serve a key file (encryption.key_file) or set HYDRANT_MASTER_KEYS")

// Log encryption statuses, as Firehose reports DeliveryStreamEncryption.
const (
	EncryptionEnabled   = "ENABLED"
	EncryptionEnabling  = "ENABLING"
	EncryptionDisabled  = "DISABLED"
	EncryptionDisabling = "DISABLING"
)

// LogEncryption is the encryption at rest of a stream's log (Firehose's
// DeliveryStreamEncryptionConfiguration). Hydrant encrypts the log
// segments written from then on with AES-256-GCM under data keys wrapped
// by the server's current master key; KeyType and KeyARN are kept as the
// API gave them and reported back.
type LogEncryption struct {
	Enabled bool   `json:"enabled,omitempty"`
	KeyType string `json:"keyType,omitempty"`
	KeyARN  string `json:"keyArn,omitempty"`
	// Status is computed when the stream is described: ENABLING while
	// segments written before encryption was turned on still wait for
	// delivery, DISABLING the other way round.
	Status string `json:"-"`
}

// SetLogEncryption turns the encryption at rest of a stream's log on or
// off. It applies to the records appended once it returns; records
// already in the log keep the form they were written in until they are
// delivered. Turning it on without master keys returns ErrNoMasterKeys.
func (m *Manager) SetLogEncryption(_ context.Context, name string, enc LogEncryption) error {
	m.mu.RLock()
	s := m.streams[name]
	m.mu.RUnlock()
	if s == nil {
		return ErrStreamNotFound
	}
	if enc.Enabled && m.opts.Keys == nil {
		return ErrNoMasterKeys
	}
	// One change at a time, so the log and the definition agree.
	s.encMu.Lock()
	defer s.encMu.Unlock()
	if st := s.info().Status; st != StatusActive {
		return ErrStreamNotActive
	}
	// The log first: a definition saying "encrypted" must never cover
	// records written in the clear after it was saved.
	if enc.Enabled {
		s.encryptionSeen.Store(true)
	}
	if err := s.log.SetEncryption(enc.Enabled); err != nil {
		return fmt.Errorf("cannot change the encryption of the log of stream %q: %w", name, err)
	}
	return m.update(s, func(info *StreamInfo) { info.Encryption = enc })
}

// logEncryptionStatus is the status of s's log encryption now. A log that
// was never encrypted answers without taking the log's lock, which the
// put path would otherwise contend for on every request.
func (s *stream) logEncryptionStatus() string {
	if !s.encryptionSeen.Load() {
		return EncryptionDisabled
	}
	st := s.log.Stats()
	switch {
	case st.Encrypted && st.PlaintextSegments > 0:
		return EncryptionEnabling
	case st.Encrypted:
		return EncryptionEnabled
	case st.EncryptedSegments > 0:
		return EncryptionDisabling
	}
	return EncryptionDisabled
}
