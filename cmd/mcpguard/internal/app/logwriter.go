package app

import (
	"io"
	"sync"
	"time"
)

// batchWriter buffers log lines and writes them in batches, so the audit line of every
// /auth decision costs a memory copy instead of a write system call. Lines are never
// dropped or split: zerolog hands each event to Write whole, a full batch is cut and
// written at once, and the rest at most flushEvery later, or on Close.
//
// A batch is written outside the lock that Write appends under: the buffer is swapped
// for an empty one first, so a slow log sink never holds up a decision that only has a
// line to append. Batches reach the sink in the order they were cut.
type batchWriter struct {
	mu     sync.Mutex // guards buf and closed
	buf    []byte
	closed bool
	size   int // bytes per batch

	wmu   sync.Mutex  // serializes writes to w; taken before mu is released
	w     io.Writer   // the sink
	spare chan []byte // one emptied batch buffer, ready to swap in

	stop, done chan struct{}
	closeOnce  sync.Once
}

// batchSize is the size of a batch of log lines.
const batchSize = 64 << 10

func newBatchWriter(w io.Writer, flushEvery time.Duration) *batchWriter {
	return newBatchWriterSize(w, batchSize, flushEvery)
}

func newBatchWriterSize(w io.Writer, size int, flushEvery time.Duration) *batchWriter {
	b := &batchWriter{buf: make([]byte, 0, size), size: size, w: w, spare: make(chan []byte, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(flushEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.Flush()
			case <-b.stop:
				return
			}
		}
	}()
	return b
}

// Write appends p to the current batch. When p does not fit, the batch is cut and
// written first; a p larger than a whole batch, or one that comes after Close, is then
// written on its own.
func (b *batchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	if !b.closed && len(b.buf)+len(p) <= b.size {
		b.buf = append(b.buf, p...)
		b.mu.Unlock()
		return len(p), nil
	}
	batch := b.cut()
	direct := b.closed || len(p) > b.size
	if !direct {
		b.buf = append(b.buf, p...) // the first line of the next batch
	}
	b.wmu.Lock()
	b.mu.Unlock()
	defer b.wmu.Unlock()
	err := b.emit(batch)
	if direct && err == nil {
		_, err = b.w.Write(p)
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what is buffered.
func (b *batchWriter) Flush() error {
	b.mu.Lock()
	if len(b.buf) == 0 {
		b.mu.Unlock()
		return nil
	}
	batch := b.cut()
	b.wmu.Lock()
	b.mu.Unlock()
	defer b.wmu.Unlock()
	return b.emit(batch)
}

// Close stops the background flusher and writes what is buffered; later writes go to
// the sink at once.
func (b *batchWriter) Close() error {
	b.closeOnce.Do(func() {
		close(b.stop)
		<-b.done
	})
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return b.Flush()
}

// cut returns the current batch and puts an empty buffer in its place. It runs with mu
// held.
func (b *batchWriter) cut() []byte {
	batch := b.buf
	select {
	case b.buf = <-b.spare:
	default:
		b.buf = make([]byte, 0, b.size)
	}
	return batch
}

// emit writes batch to the sink and keeps its memory for the next cut. It runs with
// wmu held.
func (b *batchWriter) emit(batch []byte) error {
	var err error
	if len(batch) > 0 {
		_, err = b.w.Write(batch)
	}
	select {
	case b.spare <- batch[:0]:
	default:
	}
	return err
}
