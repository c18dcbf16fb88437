package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/firehose"
	"github.com/aws/aws-sdk-go-v2/service/firehose/types"
)

// TestRestartKeepsStreams checks that streams created through the API
// survive a graceful restart and a SIGKILL with their configuration and
// version, and that records acknowledged before each restart are delivered
// after it.
func TestRestartKeepsStreams(t *testing.T) {
	needServer(t)
	srv := startServer(t, "")
	c := newClient(srv.Endpoint())
	// The embedded defaults may declare streams of their own.
	wantList := fmt.Sprint(slices.Sorted(slices.Values(append(listAll(t, c, 0), "keep-a", "keep-b"))))

	// keep-a buffers for 15 minutes: its records are delivered only by the
	// draining delete at the end, long after both restarts. keep-b delivers
	// every second.
	createS3Stream(t, c, "keep-a", "keep-a", "a1/", 1, 900, types.CompressionFormatGzip)
	createS3Stream(t, c, "keep-b", "keep-b", "b/", 2, 1, types.CompressionFormat("ZSTD")) // ZSTD: a Hydrant extension
	d := describe(t, c, "keep-a")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.UpdateDestination(ctx, &firehose.UpdateDestinationInput{
		DeliveryStreamName:             aws.String("keep-a"),
		CurrentDeliveryStreamVersionId: d.VersionId,
		DestinationId:                  d.Destinations[0].DestinationId,
		ExtendedS3DestinationUpdate:    &types.ExtendedS3DestinationUpdate{Prefix: aws.String("a2/")},
	}); err != nil {
		t.Fatalf("UpdateDestination(keep-a): %v", err)
	}

	la, lb := newLedger(), newLedger()
	put := func(phase string) {
		putAll(t, c, "keep-a", genRecords("keep-a-"+phase, 500, 120), 250, 2, la)
		putAll(t, c, "keep-b", genRecords("keep-b-"+phase, 500, 120), 250, 2, lb)
	}
	put("before-stop")
	want := map[string]*types.DeliveryStreamDescription{"keep-a": describe(t, c, "keep-a"), "keep-b": describe(t, c, "keep-b")}
	checkEq(t, "keep-a VersionId after UpdateDestination", aws.ToString(want["keep-a"].VersionId), "2")

	check := func(after string) {
		t.Helper()
		for name, w := range want {
			checkSameStream(t, after, w, describe(t, c, name))
		}
		got := listAll(t, c, 0)
		checkEq(t, "ListDeliveryStreams "+after, fmt.Sprint(got), wantList)
	}

	srv.Stop()
	srv.Start()
	c = newClient(srv.Endpoint())
	check("after a graceful restart")
	// Killed right after the puts: keep-b's 1 s buffer is still open.
	put("before-kill")
	srv.Kill()
	srv.Start()
	c = newClient(srv.Endpoint())
	check("after SIGKILL and restart")
	// keep-a's buffer never filled and its interval never passed; whether
	// a graceful stop delivers a partial buffer is the server's choice, but
	// the log can never hold more records than were acknowledged.
	if v := srv.MetricValue("hydrant_backlog_records", "keep-a"); v > float64(la.ackedCount()) {
		t.Errorf("keep-a hydrant_backlog_records after the restarts = %v; only %d records were acknowledged", v, la.ackedCount())
	} else {
		t.Logf("keep-a backlog after the restarts: %v of %d acknowledged records", v, la.ackedCount())
	}
	put("after-kill")

	srv.WaitBacklogZero("keep-b", 30*time.Second)
	checkExactlyOnce(t, readBucket(t, srv.dataDir, "keep-b"), lb)

	deleteStream(t, c, "keep-a", false)
	waitGone(t, c, "keep-a", 30*time.Second)
	objs := readBucket(t, srv.dataDir, "keep-a")
	checkExactlyOnce(t, objs, la)
	for _, k := range objs.keys {
		if !strings.HasPrefix(k, "a2/") {
			t.Errorf("keep-a object %q: want prefix a2/ (the updated destination survives restarts)", k)
		}
	}
}

// checkSameStream compares what a restart must keep of a description.
func checkSameStream(t *testing.T, after string, want, got *types.DeliveryStreamDescription) {
	t.Helper()
	name := aws.ToString(want.DeliveryStreamName)
	eq := func(field string, g, w any) {
		t.Helper()
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("stream %s %s: %s = %v; want %v", name, after, field, g, w)
		}
	}
	eq("DeliveryStreamName", aws.ToString(got.DeliveryStreamName), name)
	eq("DeliveryStreamARN", aws.ToString(got.DeliveryStreamARN), aws.ToString(want.DeliveryStreamARN))
	eq("DeliveryStreamStatus", got.DeliveryStreamStatus, types.DeliveryStreamStatusActive)
	eq("VersionId", aws.ToString(got.VersionId), aws.ToString(want.VersionId))
	eq("CreateTimestamp", aws.ToTime(got.CreateTimestamp).UTC(), aws.ToTime(want.CreateTimestamp).UTC())
	if len(got.Destinations) != 1 || len(want.Destinations) != 1 {
		t.Errorf("stream %s %s: %d destinations; want 1", name, after, len(got.Destinations))
		return
	}
	eq("DestinationId", aws.ToString(got.Destinations[0].DestinationId), aws.ToString(want.Destinations[0].DestinationId))
	g, w := got.Destinations[0].ExtendedS3DestinationDescription, want.Destinations[0].ExtendedS3DestinationDescription
	if g == nil || w == nil {
		t.Errorf("stream %s %s: ExtendedS3DestinationDescription missing", name, after)
		return
	}
	eq("BucketARN", aws.ToString(g.BucketARN), aws.ToString(w.BucketARN))
	eq("RoleARN", aws.ToString(g.RoleARN), aws.ToString(w.RoleARN))
	eq("Prefix", aws.ToString(g.Prefix), aws.ToString(w.Prefix))
	eq("ErrorOutputPrefix", aws.ToString(g.ErrorOutputPrefix), aws.ToString(w.ErrorOutputPrefix))
	eq("CompressionFormat", g.CompressionFormat, w.CompressionFormat)
	if g.BufferingHints == nil || w.BufferingHints == nil {
		t.Errorf("stream %s %s: BufferingHints missing", name, after)
		return
	}
	eq("SizeInMBs", aws.ToInt32(g.BufferingHints.SizeInMBs), aws.ToInt32(w.BufferingHints.SizeInMBs))
	eq("IntervalInSeconds", aws.ToInt32(g.BufferingHints.IntervalInSeconds), aws.ToInt32(w.BufferingHints.IntervalInSeconds))
}
