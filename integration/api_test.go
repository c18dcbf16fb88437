package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

// TestFirehoseAPIEndToEnd drives one server through the whole control and
// data plane with the real AWS SDK: create, describe, list with
// pagination, 101,000 puts, delivery, UpdateDestination, a draining delete
// and a force delete, then counts every record in the objects.
func TestFirehoseAPIEndToEnd(t *testing.T) {
	needServer(t)
	srv := startServer(t, "")
	c := newClient(srv.Endpoint())
	ctx := context.Background()

	const (
		stream = "e2e-main"
		bucket = "e2e-bucket"
		role   = "arn:aws:iam::123456789012:role/firehose-test"
	)
	// The embedded defaults may declare streams of their own.
	base := listAll(t, c, 0)
	start := time.Now()
	arn := createS3Stream(t, c, stream, bucket, "v1/", 1, 1, types.CompressionFormatGzip)

	// Describe reports back what was created.
	d := describe(t, c, stream)
	checkEq(t, "DeliveryStreamName", aws.ToString(d.DeliveryStreamName), stream)
	checkEq(t, "DeliveryStreamARN", aws.ToString(d.DeliveryStreamARN), arn)
	checkEq(t, "DeliveryStreamStatus", d.DeliveryStreamStatus, types.DeliveryStreamStatusActive)
	checkEq(t, "DeliveryStreamType", d.DeliveryStreamType, types.DeliveryStreamTypeDirectPut)
	checkEq(t, "VersionId", aws.ToString(d.VersionId), "1")
	if ts := aws.ToTime(d.CreateTimestamp); ts.Before(start.Add(-2*time.Second)) || ts.After(time.Now().Add(2*time.Second)) {
		t.Errorf("CreateTimestamp = %v; want between %v and now", ts, start)
	}
	if len(d.Destinations) != 1 {
		t.Fatalf("Destinations = %d entries; want 1", len(d.Destinations))
	}
	destID := aws.ToString(d.Destinations[0].DestinationId)
	if destID == "" {
		t.Error("Destinations[0].DestinationId is empty")
	}
	checkS3Dest(t, d.Destinations[0].ExtendedS3DestinationDescription, s3Want{
		bucketARN: "arn:aws:s3:::" + bucket, role: role, prefix: "v1/", sizeMB: 1, intervalS: 1, compression: types.CompressionFormatGzip,
	})

	// List, paginated two at a time.
	names := append(slices.Clone(base), stream)
	for _, n := range []string{"e2e-list-c", "e2e-list-a", "e2e-list-b"} {
		createS3Stream(t, c, n, "e2e-other", "", 5, 300, types.CompressionFormatUncompressed)
		names = append(names, n)
	}
	slices.Sort(names)
	checkEq(t, "ListDeliveryStreams (all)", fmt.Sprint(listAll(t, c, 0)), fmt.Sprint(names))
	checkEq(t, "ListDeliveryStreams (Limit 2)", fmt.Sprint(listAll(t, c, 2)), fmt.Sprint(names))

	// 100,000 records with PutRecordBatch (500 per call, 4 goroutines),
	// 1,000 with PutRecord.
	l := newLedger()
	recs := genRecords("e2e-batch", 100_000, 100)
	t0 := time.Now()
	putAll(t, c, stream, recs, 500, 4, l)
	t.Logf("PutRecordBatch: %d records in %v", len(recs), time.Since(t0).Round(time.Millisecond))
	single := genRecords("e2e-single", 1000, 100)
	t0 = time.Now()
	var wg sync.WaitGroup
	var putFailed atomic.Bool
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(single); i += 4 {
				for attempt := 1; ; attempt++ {
					err := putRecord(ctx, c, stream, single[i], l)
					if err == nil {
						break
					}
					if !definitelyNotStored(err) || attempt == 20 {
						t.Errorf("PutRecord(%q): %v", single[i], err)
						putFailed.Store(true)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	if putFailed.Load() {
		t.FailNow()
	}
	t.Logf("PutRecord: %d records in %v", len(single), time.Since(t0).Round(time.Millisecond))
	if n := l.ackedCount(); n != len(recs)+len(single) {
		t.Fatalf("%d records acknowledged; want %d (%s)", n, len(recs)+len(single), l)
	}

	srv.WaitBacklogZero(stream, 90*time.Second)
	if v := srv.MetricValue("hydrant_incoming_records_total", stream); v != float64(l.ackedCount()) {
		t.Errorf("hydrant_incoming_records_total = %v; want %d", v, l.ackedCount())
	}
	if v := srv.MetricValue("hydrant_delivery_records_total", stream); v != float64(l.ackedCount()) {
		t.Errorf("hydrant_delivery_records_total = %v; want %d", v, l.ackedCount())
	}
	if v := srv.MetricValue("hydrant_delivery_data_freshness_seconds", stream); v != 0 {
		t.Errorf("hydrant_delivery_data_freshness_seconds = %v with nothing left to deliver; want 0", v)
	}
	v1Objects := readBucket(t, srv.dataDir, bucket)
	checkExactlyOnce(t, v1Objects, l)
	for _, k := range v1Objects.keys {
		if !strings.HasPrefix(k, "v1/") || !strings.HasSuffix(k, ".gz") {
			t.Errorf("object key %q: want prefix v1/ and extension .gz", k)
		}
	}
	// 9.6 MiB in 1 MiB buffers: ten objects or a few more (the interval
	// closes some early); hundreds would mean the buffering hints are
	// ignored. No object holds more than a full buffer and one record.
	if n := len(v1Objects.keys); n < 10 || n > 100 {
		t.Errorf("%d objects for 9.6 MiB with 1 MiB buffers; want 10 or a few more", n)
	}
	for _, k := range v1Objects.keys {
		size := 0
		for _, r := range v1Objects.byKey[k] {
			size += len(r)
		}
		if size > 1<<20+100 {
			t.Errorf("object %q holds %d bytes of records; want at most the 1 MiB buffer plus one record", k, size)
		}
	}

	// UpdateDestination: only the prefix changes, the rest is kept.
	updCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := c.UpdateDestination(updCtx, &firehose.UpdateDestinationInput{
		DeliveryStreamName:             aws.String(stream),
		CurrentDeliveryStreamVersionId: aws.String("1"),
		DestinationId:                  aws.String(destID),
		ExtendedS3DestinationUpdate:    &types.ExtendedS3DestinationUpdate{Prefix: aws.String("v2/")},
	})
	if err != nil {
		t.Fatalf("UpdateDestination(version 1, prefix v2/): %v", err)
	}
	d = describe(t, c, stream)
	checkEq(t, "VersionId after UpdateDestination", aws.ToString(d.VersionId), "2")
	checkEq(t, "DestinationId after UpdateDestination", aws.ToString(d.Destinations[0].DestinationId), destID)
	checkS3Dest(t, d.Destinations[0].ExtendedS3DestinationDescription, s3Want{
		bucketARN: "arn:aws:s3:::" + bucket, role: role, prefix: "v2/", sizeMB: 1, intervalS: 1, compression: types.CompressionFormatGzip,
	})
	_, err = c.UpdateDestination(updCtx, &firehose.UpdateDestinationInput{
		DeliveryStreamName:             aws.String(stream),
		CurrentDeliveryStreamVersionId: aws.String("1"),
		DestinationId:                  aws.String(destID),
		ExtendedS3DestinationUpdate:    &types.ExtendedS3DestinationUpdate{Prefix: aws.String("stale/")},
	})
	wantCode(t, "UpdateDestination with stale version 1", err, "ConcurrentModificationException")
	checkEq(t, "VersionId after a stale UpdateDestination", aws.ToString(describe(t, c, stream).VersionId), "2")

	// Records after the update go under the new prefix. Delete right away:
	// the stream drains them before it disappears.
	v2 := genRecords("e2e-v2", 2000, 100)
	putAll(t, c, stream, v2, 500, 2, l)
	deleteStream(t, c, stream, false)
	if err := putRecord(ctx, c, stream, "e2e-after-delete\n", newLedger()); err == nil {
		t.Error("PutRecord after DeleteDeliveryStream succeeded; want an error")
	}
	waitGone(t, c, stream, 60*time.Second)
	if got := listAll(t, c, 0); slices.Contains(got, stream) {
		t.Errorf("ListDeliveryStreams after the deletion = %v; still lists %q", got, stream)
	}

	all := readBucket(t, srv.dataDir, bucket)
	checkExactlyOnce(t, all, l)
	v2Set := make(map[string]bool, len(v2))
	for _, r := range v2 {
		v2Set[r] = true
	}
	for _, k := range all.keys {
		if slices.Contains(v1Objects.keys, k) {
			continue
		}
		if !strings.HasPrefix(k, "v2/") {
			t.Errorf("object %q written after UpdateDestination(prefix v2/) does not start with v2/", k)
			continue
		}
		for _, r := range all.byKey[k] {
			if !v2Set[r] {
				t.Errorf("object %q (new prefix) holds %q, which was put before the update", k, shorten(r))
				break
			}
		}
	}

	// AllowForceDelete discards the backlog: the records below would wait
	// 300 s for their buffer.
	lf := newLedger()
	putAll(t, c, "e2e-list-a", genRecords("e2e-force", 100, 100), 100, 1, lf)
	deleteStream(t, c, "e2e-list-a", true)
	waitGone(t, c, "e2e-list-a", 30*time.Second)
	if objs := readBucket(t, srv.dataDir, "e2e-other"); len(objs.keys) != 0 {
		t.Errorf("force-deleted stream delivered %d objects (%v); want its backlog discarded", len(objs.keys), head(objs.keys, 5))
	}
	if !srv.Alive() {
		t.Fatal("the server exited")
	}
}

// listAll pages through ListDeliveryStreams with the given Limit (0: none)
// and checks the paging fields on the way.
func listAll(t *testing.T, c *firehose.Client, limit int32) []string {
	t.Helper()
	var names []string
	var start *string
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatalf("ListDeliveryStreams(Limit %d): more than 100 pages (%d names so far); pagination does not advance", limit, len(names))
		}
		in := &firehose.ListDeliveryStreamsInput{ExclusiveStartDeliveryStreamName: start}
		if limit > 0 {
			in.Limit = aws.Int32(limit)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := c.ListDeliveryStreams(ctx, in)
		cancel()
		if err != nil {
			t.Fatalf("ListDeliveryStreams(Limit %d, ExclusiveStart %s): %v", limit, fmtPtr(start), err)
		}
		if limit > 0 && len(out.DeliveryStreamNames) > int(limit) {
			t.Errorf("ListDeliveryStreams(Limit %d) page %d has %d names", limit, page, len(out.DeliveryStreamNames))
		}
		names = append(names, out.DeliveryStreamNames...)
		if out.HasMoreDeliveryStreams == nil {
			t.Fatalf("ListDeliveryStreams page %d: HasMoreDeliveryStreams missing (it is required)", page)
		}
		if !*out.HasMoreDeliveryStreams {
			break
		}
		if len(out.DeliveryStreamNames) == 0 {
			t.Fatalf("ListDeliveryStreams page %d: HasMoreDeliveryStreams with no names", page)
		}
		start = aws.String(out.DeliveryStreamNames[len(out.DeliveryStreamNames)-1])
	}
	if !slices.IsSorted(names) {
		t.Errorf("ListDeliveryStreams(Limit %d) = %v; want sorted by name", limit, names)
	}
	return names
}

type s3Want struct {
	bucketARN, role, prefix string
	sizeMB, intervalS       int32
	compression             types.CompressionFormat
}

func checkS3Dest(t *testing.T, d *types.ExtendedS3DestinationDescription, want s3Want) {
	t.Helper()
	if d == nil {
		t.Error("ExtendedS3DestinationDescription is missing")
		return
	}
	checkEq(t, "BucketARN", aws.ToString(d.BucketARN), want.bucketARN)
	checkEq(t, "RoleARN", aws.ToString(d.RoleARN), want.role)
	checkEq(t, "Prefix", aws.ToString(d.Prefix), want.prefix)
	checkEq(t, "ErrorOutputPrefix", aws.ToString(d.ErrorOutputPrefix), "errors/")
	checkEq(t, "CompressionFormat", d.CompressionFormat, want.compression)
	if d.BufferingHints == nil {
		t.Error("BufferingHints is missing")
		return
	}
	checkEq(t, "BufferingHints.SizeInMBs", aws.ToInt32(d.BufferingHints.SizeInMBs), want.sizeMB)
	checkEq(t, "BufferingHints.IntervalInSeconds", aws.ToInt32(d.BufferingHints.IntervalInSeconds), want.intervalS)
}

func checkEq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v; want %v", what, got, want)
	}
}
