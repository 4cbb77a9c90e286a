package xstream

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// lineReader splits a byte stream at '\n'. It tolerates the stream's "\r\n"
// framing, NDJSON and a mix of both, and bounds memory per line: a line longer
// than max is reported as too long (with a prefix) and skipped up to the next
// newline, so one bad line cannot stop the reader.
type lineReader struct {
	br   *bufio.Reader
	max  int
	line int
	err  error // sticky: once input ended, it stays ended
}

// rawLine is one line as split by lineReader.
type rawLine struct {
	// num is the 1-based line number.
	num int
	// data is the line without its "\n" or "\r\n" terminator; a copy.
	data []byte
	// terminated is false for a last line cut off by EOF or a read error.
	terminated bool
	// tooLong reports that the line exceeded max; data is then a prefix.
	tooLong bool
	// size is the full length of the line in bytes, terminator included.
	size int
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next line. At the end of input it returns io.EOF with no
// line; a read error ends the input the same way but is returned as is, after
// any partial line read before it has been returned with terminated=false.
func (lr *lineReader) next() (rawLine, error) {
	if lr.err != nil {
		return rawLine{}, lr.err
	}
	var (
		buf     []byte
		size    int
		tooLong bool
	)
	for {
		chunk, err := lr.br.ReadSlice('\n')
		size += len(chunk)
		if !tooLong {
			if len(buf)+len(chunk) > lr.max+2 { // +2: the terminator is not part of the limit
				tooLong = true
				buf = append(buf, chunk...)
				buf = bytes.Clone(buf[:min(len(buf), rejectedPrefixBytes)]) // drop the big array
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == nil {
			lr.line++
			data := bytes.TrimSuffix(buf, []byte("\n"))
			if !tooLong {
				data = bytes.TrimSuffix(data, []byte("\r"))
				// The +2 above let a terminator in; the line itself must fit max.
				if len(data) > lr.max {
					tooLong, data = true, bytes.Clone(data[:min(len(data), rejectedPrefixBytes)])
				}
			}
			return rawLine{num: lr.line, data: data, terminated: true, tooLong: tooLong, size: size}, nil
		}
		lr.err = err
		if size == 0 {
			return rawLine{}, err
		}
		// Input ended in the middle of a line: hand the partial line out
		// first; the caller sees err on the next call.
		lr.line++
		if !tooLong && len(buf) > lr.max {
			tooLong, buf = true, bytes.Clone(buf[:min(len(buf), rejectedPrefixBytes)])
		}
		return rawLine{num: lr.line, data: buf, terminated: false, tooLong: tooLong, size: size}, nil
	}
}

// trimSpace removes the whitespace JSON allows around a value (space, tab,
// CR, LF), e.g. the trailing space after {"limit":{"track":121564}}.
func trimSpace(b []byte) []byte {
	return bytes.Trim(b, " \t\r\n")
}
