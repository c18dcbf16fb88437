package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/firehose"
)

const crashConfig = `
server: {data_dir: "{{DATA_DIR}}", http_addr: "127.0.0.1:0"}
streams:
  - name: crash
    max_log_bytes: 256MiB
    destination: {bucket: crash-bucket, prefix: "c/", buffering: {size_mb: 1, interval_seconds: 1}, compression: GZIP}
`

// TestCrashRecovery SIGKILLs a server four times under four concurrent
// producers, then stops it gracefully under the same load, and checks that
// every acknowledged record is delivered exactly once: none lost with the
// process, none duplicated by the redelivery after a restart.
func TestCrashRecovery(t *testing.T) {
	needServer(t)
	srv := startServer(t, crashConfig)
	c := newClient(srv.Endpoint())
	l := newLedger()

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	var batches, failures atomic.Int64
	for p := range 4 {
		wg.Go(func() { crashProducer(ctx, t, srv, c, p, l, &batches, &failures) })
	}

	// Four kills, 1–2 s apart: the first at a random moment; the second
	// and fourth aimed at a delivery (Hydrant records its delivery intent
	// just before writing a batch's objects, and commits the log once they
	// are written), so that the restart must redeliver the batch to the
	// same keys; the third 0.2–0.5 s after a restart, while the server may
	// still be redelivering what the previous kill interrupted.
	intent := filepath.Join(srv.dataDir, "streams", "crash", "pending")
	for k := 1; k <= 4; k++ {
		before := l.ackedCount()
		wait := time.Second + rand.N(time.Second)
		if k == 3 {
			wait = 200*time.Millisecond + rand.N(300*time.Millisecond)
		}
		how := "at random"
		if k%2 == 0 {
			time.Sleep(time.Second)
			if waitForChange(intent, wait+time.Second) {
				// The second kill lands during the write; the fourth a
				// moment later, maybe after the object but before the log
				// commit.
				if k == 4 {
					time.Sleep(rand.N(3 * time.Millisecond))
				}
				how = "just after a delivery intent was recorded"
			} else {
				how = "at random (no delivery intent seen)"
			}
		} else {
			time.Sleep(wait)
		}
		srv.Kill()
		t.Logf("kill %d %s: %d records acknowledged so far (+%d since the last restart)", k, how, l.ackedCount(), l.ackedCount()-before)
		srv.Start()
	}
	// Then a graceful stop under the same load: the puts in flight finish
	// or are refused, and nothing acknowledged is lost.
	before := l.ackedCount()
	time.Sleep(500*time.Millisecond + rand.N(500*time.Millisecond))
	srv.Stop()
	t.Logf("SIGTERM: %d records acknowledged so far (+%d since the last restart)", l.ackedCount(), l.ackedCount()-before)
	srv.Start()
	time.Sleep(time.Second)
	stop()
	wg.Wait()
	t.Logf("producers stopped: %d batches, %d failed calls; ledger: %s", batches.Load(), failures.Load(), l)
	if l.ackedCount() < 4000 {
		t.Fatalf("only %d records acknowledged in the whole run; the test exercised too little", l.ackedCount())
	}

	srv.WaitBacklogZero("crash", 60*time.Second)
	srv.Stop()
	t.Logf("%d restarts redelivered a batch that a kill interrupted", srv.countLog("redelivering the batch a restart interrupted"))
	checkExactlyOnce(t, readBucket(t, srv.dataDir, "crash-bucket"), l)
}

// crashProducer sends 100-record batches of 500-byte records (up to 1,000
// records/s, so the four fill a 1 MB buffer about every second) until ctx is
// done, through restarts: a refused record is sent again, an uncertain one
// (the call failed without saying whether it stored anything) never is,
// since sending it again could legitimately store it twice.
func crashProducer(ctx context.Context, t *testing.T, srv *server, c *firehose.Client, p int, l *ledger, batches, failures *atomic.Int64) {
	next := 0
	var retry []string
	for ctx.Err() == nil {
		ep := srv.CurrentEndpoint()
		if ep == "" {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		recs := retry
		for len(recs) < 100 {
			recs = append(recs, makeRecord(fmt.Sprintf("crash-p%d-%07d-", p, next), 500))
			next++
		}
		start := time.Now()
		// Not ctx: a put in flight when the producers stop must finish,
		// or its records would count as uncertain for no reason.
		res := putBatch(context.Background(), t, c, "crash", recs, l, at(ep))
		batches.Add(1)
		retry = res.refused
		if res.err != nil {
			if verbose {
				t.Logf("%s producer %d: %d records: %v (took %v)", time.Now().Format("15:04:05.000"), p, len(recs), res.err, time.Since(start))
			}
			failures.Add(1)
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if d := 100*time.Millisecond - time.Since(start); d > 0 {
			time.Sleep(d)
		}
	}
}
