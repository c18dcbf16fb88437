package delivery

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// A destination's secrets (an HTTP endpoint's access key, a ClickHouse
// password, an S3 secret key or SSE-C key) are left out of its JSON, so
// they are in neither stream.json nor the delivery intent. A stream
// created through the API keeps them in stream.secrets beside stream.json,
// readable by the server's user only; a stream declared in the config file
// gets them from the file at every start.
const streamSecretsFile = "stream.secrets"

// destinationSecrets are the secrets of one destination.
type destinationSecrets struct {
	HTTPAccessKey      string `json:"httpAccessKey,omitempty"`
	ClickHousePassword string `json:"clickhousePassword,omitempty"`
	S3SecretAccessKey  string `json:"s3SecretAccessKey,omitempty"`
	S3CustomerKey      string `json:"s3CustomerKey,omitempty"`
}

func secretsOf(d *Destination) destinationSecrets {
	return destinationSecrets{
		HTTPAccessKey:      d.HTTP.AccessKey,
		ClickHousePassword: d.ClickHouse.Password,
		S3SecretAccessKey:  d.S3.SecretAccessKey,
		S3CustomerKey:      d.S3.SSE.CustomerKey,
	}
}

func (s destinationSecrets) apply(d *Destination) {
	d.HTTP.AccessKey = s.HTTPAccessKey
	d.ClickHouse.Password = s.ClickHousePassword
	d.S3.SecretAccessKey = s.S3SecretAccessKey
	d.S3.SSE.CustomerKey = s.S3CustomerKey
}

// copySecrets gives d the secrets of from where both name the same
// server: a redelivery under the definition saved in the intent uses the
// secrets of the current one.
func (d *Destination) copySecrets(from *Destination) {
	if d.HTTP.URL != "" && d.HTTP.URL == from.HTTP.URL {
		d.HTTP.AccessKey = from.HTTP.AccessKey
	}
	if len(d.ClickHouse.Addrs) > 0 && slices.Equal(d.ClickHouse.Addrs, from.ClickHouse.Addrs) {
		d.ClickHouse.Password = from.ClickHouse.Password
	}
	if d.S3.Endpoint != "" && d.S3.Endpoint == from.S3.Endpoint {
		d.S3.SecretAccessKey, d.S3.SSE.CustomerKey = from.S3.SecretAccessKey, from.S3.SSE.CustomerKey
	}
}

// writeStreamSecrets saves the secrets of info's destination, or removes
// the file when there are none.
func writeStreamSecrets(dir string, info StreamInfo) error {
	path := filepath.Join(dir, streamSecretsFile)
	sec := secretsOf(&info.Config.Destination)
	if sec == (destinationSecrets{}) {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cannot remove %q: %w", path, err)
		}
		return nil
	}
	b, err := json.Marshal(sec)
	if err != nil {
		return err
	}
	return writeFileAtomicMode(path, b, 0o600)
}

// readStreamSecrets restores the secrets saved for info's destination.
func readStreamSecrets(dir string, info *StreamInfo) error {
	path := filepath.Join(dir, streamSecretsFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot read %q: %w", path, err)
	}
	var sec destinationSecrets
	if err := json.Unmarshal(b, &sec); err != nil {
		return fmt.Errorf("cannot read %q: %w", path, err)
	}
	sec.apply(&info.Config.Destination)
	return nil
}
