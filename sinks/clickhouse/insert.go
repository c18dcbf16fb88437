package clickhouse

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/hydrantio/hydrant/record"
)

// chunkRows is how many records a goroutine converts at a time when a
// batch is larger than that.
const chunkRows = 8192

// Insert converts recs into rows and inserts those that convert in one
// INSERT, returning once the server acknowledged it. Records that do not
// convert are returned in rejected, in order, and are not inserted. When
// err is not nil, rejected is nil and no row is known to be inserted:
// retry the whole call (with a backoff, unless IsPermanent(err)); see the
// package doc for the duplicates a retry may make. Insert does not keep
// recs after it returns. It is safe to call concurrently.
func (s *Sink) Insert(ctx context.Context, recs []record.Record) (rejected []Rejected, err error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	p, err := s.getPlan(ctx)
	if err != nil {
		return nil, err
	}
	if len(recs) > chunkRows && runtime.GOMAXPROCS(0) > 1 {
		return s.insertChunks(ctx, p, recs)
	}
	b := p.getBuf()
	defer p.putBuf(b)
	rejected = p.convertChunk(b, recs, 0)
	if b.nrows == 0 {
		return rejected, nil
	}
	batch, err := s.prepare(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := s.appendBuf(batch, p, b); err != nil {
		return nil, err
	}
	if err := s.send(p, batch); err != nil {
		return nil, err
	}
	return rejected, nil
}

// chunk is a part of a large batch, converted by one goroutine.
type chunk struct {
	buf      *batchBuf
	rejected []Rejected
	done     chan struct{}
}

// insertChunks inserts a large batch: GOMAXPROCS goroutines convert it a
// chunk at a time while this one opens the INSERT and hands each chunk,
// in order, to the driver, which copies it into the INSERT's one block.
// Converting is most of the CPU an insert costs here, and the driver's
// copying the rest; this way they overlap, and use every core. The block
// is sent once, whole: ClickHouse 18.16 commits the blocks it received of
// an INSERT whose connection breaks, so an INSERT of several blocks could
// be half done.
func (s *Sink) insertChunks(ctx context.Context, p *plan, recs []record.Record) ([]Rejected, error) {
	chunks := make([]chunk, (len(recs)+chunkRows-1)/chunkRows)
	for i := range chunks {
		chunks[i].done = make(chan struct{})
	}
	workers := min(runtime.GOMAXPROCS(0), len(chunks))
	// A worker takes a slot before it converts a chunk, and the chunk
	// gives it back once it is appended: converted rows wait for the
	// driver in at most 2×workers buffers, whatever the batch's size.
	// Chunks are taken in order, so the next to append always has one.
	slots := make(chan struct{}, 2*workers)
	quit := make(chan struct{})
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				select {
				case slots <- struct{}{}:
				case <-quit:
					return
				}
				i := int(next.Add(1) - 1)
				if i >= len(chunks) {
					return
				}
				from := i * chunkRows
				c := &chunks[i]
				c.buf = p.getBuf()
				c.rejected = p.convertChunk(c.buf, recs[from:min(from+chunkRows, len(recs))], from)
				close(c.done)
			}
		})
	}
	defer func() {
		close(quit)
		wg.Wait()
		for _, c := range chunks {
			if c.buf != nil {
				p.putBuf(c.buf)
			}
		}
	}()

	batch, err := s.prepare(ctx, p)
	if err != nil {
		return nil, err
	}
	var rejected []Rejected
	for i := range chunks {
		c := &chunks[i]
		<-c.done
		rejected = append(rejected, c.rejected...)
		if err := s.appendBuf(batch, p, c.buf); err != nil {
			return nil, err
		}
		p.putBuf(c.buf)
		c.buf = nil
		<-slots
	}
	if err := s.send(p, batch); err != nil {
		return nil, err
	}
	return rejected, nil
}

// prepare opens the INSERT, and checks the column types the server
// answers it with: a table altered since its columns were read is caught
// here, before anything is sent.
func (s *Sink) prepare(ctx context.Context, p *plan) (driver.Batch, error) {
	batch, err := s.conn.PrepareBatch(ctx, p.insert)
	if err != nil {
		return nil, s.failed(p, s.classify("insert", err))
	}
	for i, c := range batch.Columns() {
		if i >= len(p.cols) {
			break
		}
		t, err := parseType(string(c.Type()))
		if err != nil || t.String() != p.cols[i].typ.String() {
			batch.Abort()
			s.plan.CompareAndSwap(p, nil)
			return nil, &Error{Op: "insert", Table: s.table, Err: fmt.Errorf("column %s is now %s, not %s: the table changed; its columns are read again on the next insert", p.cols[i].name, c.Type(), p.cols[i].typ)}
		}
	}
	return batch, nil
}

// appendBuf hands the rows of b to the batch, which copies them; on error
// the batch is aborted.
func (s *Sink) appendBuf(batch driver.Batch, p *plan, b *batchBuf) error {
	for i, c := range b.cols {
		if err := appendTo(batch.Column(i), c); err != nil {
			batch.Abort()
			return s.failed(p, s.classify("insert", fmt.Errorf("%w: column %s: %w", clickhouse.ErrBatchInvalid, p.cols[i].name, err)))
		}
	}
	return nil
}

// send sends the batch and waits for the server to acknowledge it.
func (s *Sink) send(p *plan, batch driver.Batch) error {
	if err := batch.Send(); err != nil {
		return s.failed(p, s.classify("insert", err))
	}
	return nil
}
