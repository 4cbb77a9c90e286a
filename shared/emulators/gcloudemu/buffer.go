package gcloudemu

import (
	"bytes"
	"strings"
	"sync"
)

// maxOutput caps what tailBuffer keeps: an emulator left running for hours
// logs a lot, and only the end matters for diagnosing a failure.
const maxOutput = 256 << 10

// tailBuffer keeps the last maxOutput bytes written to it; it is safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func newTailBuffer() *tailBuffer { return &tailBuffer{} }

// Write appends p, dropping the oldest bytes beyond maxOutput.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - maxOutput; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

// String returns everything kept.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tail returns the last n lines kept.
func (b *tailBuffer) Tail(n int) string {
	s := strings.TrimRight(b.String(), "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
