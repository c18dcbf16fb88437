// Package delivery runs delivery streams: it appends acknowledged records
// to each stream's durable log, reads them back from the last committed
// offset, buffers, compresses and delivers them to a sink, and commits the
// log only once the sink has confirmed.
package delivery

import (
	"context"
	"errors"
	"io"
	"time"
)

// Errors callers branch on. The protocol layers map them onto their own
// error shapes in one table each.
var (
	ErrStreamNotFound  = errors.New("delivery stream not found")
	ErrStreamExists    = errors.New("delivery stream already exists")
	ErrStreamNotActive = errors.New("delivery stream is not active")
	ErrVersionMismatch = errors.New("delivery stream version does not match")
	ErrConfigManaged   = errors.New("delivery stream is declared in the config file")
	// ErrLogFull is returned by Put while the stream's log is at its disk
	// limit; producers should retry after delivery catches up.
	ErrLogFull = errors.New("delivery stream log is full")
	// ErrClosed is returned once the manager is shutting down.
	ErrClosed = errors.New("delivery is shutting down")
)

// Stream statuses, as Firehose names them.
const (
	StatusCreating = "CREATING"
	StatusActive   = "ACTIVE"
	StatusDeleting = "DELETING"
)

// Stream sources: where a stream's definition comes from.
const (
	SourceConfig = "config" // the config file; the API may not change it
	SourceAPI    = "api"    // CreateDeliveryStream; persisted in the data dir
)

// StreamInfo describes a stream as DescribeDeliveryStream reports it.
type StreamInfo struct {
	Config StreamConfig `json:"config"`
	// ID is unique per stream incarnation: a stream deleted and created
	// again under the same name gets a new ID.
	ID        string `json:"id"`
	Status    string `json:"status"`
	VersionID int    `json:"versionId"`
	Source    string `json:"source"`
	// ForceDelete is set with StatusDeleting by a delete that discards the
	// backlog (Firehose's AllowForceDelete) instead of delivering it.
	ForceDelete bool `json:"forceDelete,omitempty"`
	// Encryption is the encryption at rest of the stream's log.
	Encryption LogEncryption `json:"encryption,omitzero"`
	CreatedAt  time.Time     `json:"createdAt"`
	UpdatedAt  time.Time     `json:"updatedAt"`
}

// ObjectStore is where object destinations write (the embedded file store,
// S3). PutObject reads size bytes from body and returns only once the
// object is durable at the store, or with an error; it writes atomically,
// so no reader sees half an object, and calling it again with the same key
// replaces the first copy, which is what makes redelivery after a crash
// exactly-once. Each call gets a body positioned at the object's start;
// PutObject does not keep it after it returns.
type ObjectStore interface {
	PutObject(ctx context.Context, bucket, key string, body io.Reader, size int64) error
}

// ObjectMover is an ObjectStore that can also take a finished local file as
// an object by moving it (the embedded store, on the data dir's
// filesystem), sparing the copy. MoveObject makes the file durable, moves
// it into place atomically, and is safe to call again after a failure,
// also once the move itself succeeded. It returns an error wrapping
// errors.ErrUnsupported, having changed nothing, when it cannot move that
// file; the caller then uses PutObject.
type ObjectMover interface {
	MoveObject(ctx context.Context, bucket, key, path string) error
}

// KMSObjectStore is an ObjectStore that can ask the server to encrypt an
// object with a key of its KMS (SSE-KMS), for destinations that name one
// (Firehose's KMSEncryptionConfig). A store without it ignores the key:
// the embedded store keeps objects on the local disk.
type KMSObjectStore interface {
	PutObjectKMS(ctx context.Context, bucket, key string, body io.Reader, size int64, kmsKeyID string) error
}
