package process

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"sync"
	"time"
)

// A function's stderr (and, for the bootstraps, its stdout: print and
// console.log) is its log. Hydrant logs it line by line, each line cut at
// stderrLineMax bytes, at most stderrLinesPerSecond lines a second for the
// whole function; what is over is counted and reported as dropped.
const (
	stderrLineMax        = 1024
	stderrLinesPerSecond = 100
)

// stderrLimiter logs the stderr lines of a function's workers.
type stderrLimiter struct {
	log *slog.Logger

	mu      sync.Mutex
	window  time.Time // start of the current second
	lines   int       // lines logged in the window
	dropped int       // lines dropped since the last report
}

func newStderrLimiter(log *slog.Logger) *stderrLimiter { return &stderrLimiter{log: log} }

// pump logs r's lines, from worker gen, until r ends, then closes done.
func (l *stderrLimiter) pump(r io.Reader, gen int64, done chan<- struct{}) {
	defer close(done)
	br := bufio.NewReaderSize(r, stderrLineMax)
	for {
		line, err := br.ReadSlice('\n')
		truncated := err == bufio.ErrBufferFull
		if len(line) > 0 {
			l.emit(gen, line, truncated)
		}
		for err == bufio.ErrBufferFull {
			_, err = br.ReadSlice('\n')
		}
		if err != nil {
			l.flush(gen)
			return
		}
	}
}

func (l *stderrLimiter) emit(gen int64, line []byte, truncated bool) {
	line = bytes.TrimRight(line, "\r\n")
	now := time.Now()
	l.mu.Lock()
	if now.Sub(l.window) >= time.Second {
		l.window, l.lines = now, 0
	}
	ok := l.lines < stderrLinesPerSecond
	if ok {
		l.lines++
	} else {
		l.dropped++
	}
	dropped := 0
	if ok && l.dropped > 0 {
		dropped, l.dropped = l.dropped, 0
	}
	l.mu.Unlock()
	if dropped > 0 {
		l.log.Warn("function log lines dropped", "worker", gen, "lines", dropped, "limit_per_second", stderrLinesPerSecond)
	}
	if ok {
		attrs := []any{"worker", gen, "line", string(line)}
		if truncated {
			attrs = append(attrs, "truncated", true)
		}
		l.log.Info("function log", attrs...)
	}
}

// flush reports the lines dropped and not yet reported.
func (l *stderrLimiter) flush(gen int64) {
	l.mu.Lock()
	dropped := l.dropped
	l.dropped = 0
	l.mu.Unlock()
	if dropped > 0 {
		l.log.Warn("function log lines dropped", "worker", gen, "lines", dropped, "limit_per_second", stderrLinesPerSecond)
	}
}
