package app

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink records what reaches the log's destination, one entry per Write.
type sink struct {
	mu     sync.Mutex
	writes [][]byte
	err    error
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	s.writes = append(s.writes, bytes.Clone(p))
	return len(p), nil
}

func (s *sink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(bytes.Join(s.writes, nil))
}

// TestBatchWriterConcurrent: lines written by many goroutines at once, through batches
// much smaller than the total, all arrive whole, and each goroutine's in its order.
func TestBatchWriterConcurrent(t *testing.T) {
	s := &sink{}
	b := newBatchWriterSize(s, 1024, time.Millisecond)
	const writers, lines = 8, 2000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				// Lengths vary, and every 500th line is larger than a batch.
				pad := strings.Repeat("x", (i*7)%90)
				if i%500 == 0 {
					pad = strings.Repeat("y", 3000)
				}
				fmt.Fprintf(b, "w=%d i=%d %s end\n", w, i, pad)
			}
		}()
	}
	wg.Wait()
	b.Close()

	next := make([]int, writers)
	got := strings.Split(strings.TrimSuffix(s.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines arrived, want %d", len(got), writers*lines)
	}
	for _, l := range got {
		var w, i int
		if _, err := fmt.Sscanf(l, "w=%d i=%d", &w, &i); err != nil || !strings.HasSuffix(l, " end") {
			t.Fatalf("a line arrived broken: %.80q", l)
		}
		if i != next[w] {
			t.Fatalf("writer %d: line %d arrived where %d was due", w, i, next[w])
		}
		next[w]++
	}
	for _, p := range s.writes {
		if len(p) > 1024 && bytes.Count(p, []byte("\n")) != 1 {
			t.Errorf("a write of %d bytes, over the batch size, holds more than one line", len(p))
		}
	}
}

// TestBatchWriterFlushes: a line is written within the flush interval without a Close,
// batched with its neighbours, and a line after Close goes out at once.
func TestBatchWriterFlushes(t *testing.T) {
	s := &sink{}
	b := newBatchWriterSize(s, 1024, 20*time.Millisecond)
	b.Write([]byte("one\n"))
	b.Write([]byte("two\n"))
	if got := s.String(); got != "" {
		t.Fatalf("written before the interval: %q", got)
	}
	for deadline := time.Now().Add(2 * time.Second); s.String() != "one\ntwo\n"; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 2s the sink holds %q, want both lines", s.String())
		}
	}
	if n := len(s.writes); n != 1 {
		t.Errorf("two short lines took %d writes, want 1", n)
	}
	b.Write([]byte("three\n"))
	b.Close()
	b.Write([]byte("four\n"))
	if got := s.String(); got != "one\ntwo\nthree\nfour\n" {
		t.Errorf("after Close and a late line the sink holds %q", got)
	}
	b.Close() // a second Close is harmless
}

// TestBatchWriterError: a sink's error reaches the Write that cut the batch.
func TestBatchWriterError(t *testing.T) {
	s := &sink{err: errors.New("disk full")}
	b := newBatchWriterSize(s, 16, time.Hour)
	defer b.Close()
	if _, err := b.Write([]byte("0123456789\n")); err != nil {
		t.Fatalf("a line that fits the batch: %v", err)
	}
	if _, err := b.Write([]byte("0123456789\n")); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("the Write that cut a batch the sink refused = %v, want its error", err)
	}
}
