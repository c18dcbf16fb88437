package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hydrantio/hydrant/delivery"
	"github.com/hydrantio/hydrant/record"
)

// discardStreams is the benchmark baseline behind `serve --discard`: the
// Firehose API decodes and validates requests as usual, and every put is
// acknowledged at once without being stored. Any stream name is accepted.
type discardStreams struct{ next atomic.Uint64 }

func newDiscardStreams() *discardStreams { return &discardStreams{} }

func (d *discardStreams) Create(_ context.Context, cfg delivery.StreamConfig) (delivery.StreamInfo, error) {
	return d.info(cfg.Name), nil
}

func (d *discardStreams) Describe(name string) (delivery.StreamInfo, error) { return d.info(name), nil }

func (d *discardStreams) List() []delivery.StreamInfo { return nil }

func (d *discardStreams) Delete(context.Context, string, bool) error { return nil }

func (d *discardStreams) UpdateDestination(context.Context, string, int, delivery.Destination) error {
	return nil
}

// SetLogEncryption refuses: the baseline keeps no log to encrypt. The
// Firehose API answers InvalidArgumentException.
func (d *discardStreams) SetLogEncryption(context.Context, string, delivery.LogEncryption) error {
	return fmt.Errorf("the discard baseline does not store anything, so it has no log to encrypt: %w", errors.ErrUnsupported)
}

func (d *discardStreams) Put(_ context.Context, _ string, recs []record.Record) (uint64, error) {
	return d.next.Add(uint64(len(recs))) - uint64(len(recs)), nil
}

func (d *discardStreams) info(name string) delivery.StreamInfo {
	cfg := delivery.StreamConfig{Name: name, Destination: delivery.Destination{Bucket: "discard"}}
	cfg.ApplyDefaults()
	return delivery.StreamInfo{Config: cfg, ID: "discard", Status: delivery.StatusActive, VersionID: 1,
		Source: delivery.SourceAPI, CreatedAt: time.Unix(0, 0).UTC(), UpdatedAt: time.Unix(0, 0).UTC()}
}
