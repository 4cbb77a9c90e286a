package xstream

import (
	"bytes"
	"io"
	"testing"
)

// FuzzLineReader feeds byte streams to the stream's line reader: it never panics, always ends,
// accounts for every byte (the sizes of its lines add up to the input), numbers lines from 1
// and keeps each line within its limit (a longer one is reported too long with a prefix).
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("{\"data\":{}}\r\n\r\n{\"data\":{}}\n"), 64)
	f.Add([]byte("no newline at the end"), 8)
	f.Add([]byte("\r\n\r\n\r\n"), 1)
	f.Add(bytes.Repeat([]byte("x"), 70_000), 1024)
	f.Add([]byte("a\rb\n\n"), 0)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max < 0 || max > 1<<20 {
			return
		}
		lr := newLineReader(bytes.NewReader(data), max)
		total := 0
		for n := 1; ; n++ {
			ln, err := lr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("next() = %v, want io.EOF at the end", err)
			}
			if ln.num != n {
				t.Errorf("line %d numbered %d", n, ln.num)
			}
			if ln.size == 0 {
				t.Fatalf("line %d is empty with no terminator: the reader would never end", n)
			}
			if !ln.tooLong && len(ln.data) > max+2 {
				t.Errorf("line %d has %d bytes over the limit %d and is not reported too long", n, len(ln.data), max)
			}
			total += ln.size
		}
		if total != len(data) {
			t.Errorf("lines add up to %d bytes, want %d", total, len(data))
		}
	})
}
