package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// batchWriter buffers log lines and writes them in batches, so the audit line of every
// /auth decision costs a memory copy instead of a write system call. Lines are never
// dropped: a full buffer is written at once, and the rest at most flushEvery later, or on
// Close. zerolog hands each event to Write whole, so lines never interleave.
type batchWriter struct {
	mu   sync.Mutex
	buf  *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newBatchWriter(w io.Writer, flushEvery time.Duration) *batchWriter {
	b := &batchWriter{buf: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(flushEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.Flush()
			case <-b.stop:
				b.Flush()
				return
			}
		}
	}()
	return b
}

func (b *batchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Flush writes what is buffered.
func (b *batchWriter) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Flush()
}

// Close flushes and stops the background flusher.
func (b *batchWriter) Close() error {
	close(b.stop)
	<-b.done
	return nil
}
