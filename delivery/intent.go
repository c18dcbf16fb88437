package delivery

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hydrantio/hydrant/delivery/wal"
)

// pending is the delivery intent, made durable before an object is written:
// after a crash the same records go to the same key, so the object is
// rewritten rather than duplicated, whatever the buffering does next time.
//
// The intent names the records and the definition the batch was built
// under; the batch's objects are a pure function of the two, so the
// intent need not list them.
type pending struct {
	First       uint64      `json:"first"`
	Last        uint64      `json:"last"`
	StreamID    string      `json:"streamId"`
	Version     int         `json:"version"`
	Destination Destination `json:"destination"`
}

// The intent file is rewritten in place: a 4-byte length and a CRC32-C of
// the JSON that follows. One fdatasync makes it durable, where a temporary
// file and a rename would take two fsyncs per batch. A torn write fails
// its checksum and is ignored, which is safe: an intent is written before
// its object, so a torn one has no object; and it only replaces an intent
// whose batch was already committed.
var intentCRC = crc32.MakeTable(crc32.Castagnoli)

func (s *stream) writePending(p pending) error {
	buf, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if s.intent == nil {
		path := filepath.Join(s.dir, pendingFile)
		_, statErr := os.Stat(path)
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("cannot open delivery intent: %w", err)
		}
		if errors.Is(statErr, os.ErrNotExist) {
			if err := syncDir(s.dir); err != nil {
				f.Close()
				return err
			}
		}
		s.intent = f
	}
	rec := make([]byte, 8, 8+len(buf))
	binary.LittleEndian.PutUint32(rec[0:], uint32(len(buf)))
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(buf, intentCRC))
	rec = append(rec, buf...)
	if _, err := s.intent.WriteAt(rec, 0); err != nil {
		return fmt.Errorf("cannot write delivery intent: %w", err)
	}
	if err := wal.SyncData(s.intent); err != nil {
		return fmt.Errorf("cannot sync delivery intent: %w", err)
	}
	return nil
}

// readPending reads the intent file; ok is false when there is none or it
// is torn.
func readPending(path string) (p pending, ok bool, err error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return p, false, nil
	}
	if err != nil {
		return p, false, err
	}
	if len(raw) < 8 {
		return p, false, nil
	}
	n := binary.LittleEndian.Uint32(raw[0:])
	if uint64(n) > uint64(len(raw)-8) || crc32.Checksum(raw[8:8+n], intentCRC) != binary.LittleEndian.Uint32(raw[4:]) {
		return p, false, nil
	}
	if err := json.Unmarshal(raw[8:8+n], &p); err != nil {
		return p, false, fmt.Errorf("cannot decode delivery intent %q: %w", path, err)
	}
	return p, true, nil
}

// redeliverPending finishes a delivery that a crash interrupted: if the
// intent on disk covers records not yet committed, the same records are
// written again to the same key. It returns an error only when the worker
// is stopped.
func (s *stream) redeliverPending(ctx context.Context) error {
	p, ok, err := readPending(filepath.Join(s.dir, pendingFile))
	if err != nil {
		// Checksummed yet undecodable: outside damage.
		s.logger.Error("ignoring unreadable delivery intent", "err", err)
		return nil
	}
	if !ok {
		return nil // none, or torn before its object was written
	}
	committed := s.log.Committed()
	if p.Last < committed {
		return nil // delivered and committed
	}
	if p.First != committed {
		s.logger.Error("ignoring delivery intent that does not start at the committed offset",
			"first", p.First, "last", p.Last, "committed", committed)
		return nil
	}
	for failures := 1; ; failures++ {
		out, err := s.redeliver(ctx, p)
		if err != nil {
			s.logger.Error("ignoring delivery intent", "first", p.First, "last", p.Last, "err", err)
			return nil
		}
		switch out {
		case delivered:
			return nil
		case stopped:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return nil // force-deleted: the main loop finishes it
		}
		if !sleep(ctx, s.m.opts.Retry.Delay(failures)) {
			return ctx.Err()
		}
	}
}

// redeliver builds the batch of intent p from the log, under the
// definition the intent names, and delivers it. An error means the intent
// cannot be honoured at all.
func (s *stream) redeliver(ctx context.Context, p pending) (outcome, error) {
	if p.Destination.Bucket == "" {
		return stopped, errors.New("it names no destination")
	}
	info := s.info()
	// Secrets are not saved in the intent; the definition has them.
	p.Destination.copySecrets(&info.Config.Destination)
	if err := p.Destination.Validate(); err != nil {
		return stopped, fmt.Errorf("its destination is not valid: %w", err)
	}
	info.ID, info.VersionID, info.Config.Destination = p.StreamID, p.Version, p.Destination
	r, err := s.openReader(ctx, p.First)
	if err != nil {
		return stopped, nil
	}
	defer func() { r.Close() }()
	var b *batch
	for off := p.First; off <= p.Last; {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return stopped, fmt.Errorf("it covers records missing from the log, from offset %d", off)
		}
		if err == nil && b == nil {
			if b = s.openBatch(info, rec); b == nil {
				err = errors.New("cannot start the batch")
			}
		}
		if err != nil {
			s.logger.Error("cannot read records of the delivery intent; retrying", "err", err)
			if !sleep(ctx, time.Second) {
				return stopped, nil
			}
			// Reader errors are sticky: start the batch over.
			r.Close()
			if r, err = s.openReader(ctx, p.First); err != nil {
				return stopped, nil
			}
			b, off = nil, p.First
			continue
		}
		s.add(ctx, b, rec)
		off = rec.Offset + 1
	}
	s.logger.Info("redelivering the batch a restart interrupted", "first", p.First, "last", p.Last)
	return s.deliver(ctx, b, false), nil
}
