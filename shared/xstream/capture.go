package xstream

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Framing is how the messages of a capture are delimited.
type Framing string

// The framings ReadCapture recognises.
const (
	// FramingEmpty is an input with no messages at all.
	FramingEmpty Framing = "empty"
	// FramingJSONArray is a single JSON array of messages (the twitter4s fixtures).
	FramingJSONArray Framing = "json-array"
	// FramingNDJSON is one message per "\n"-terminated line.
	FramingNDJSON Framing = "ndjson"
	// FramingCRLF is the stream's own wire framing: "\r\n" after each message
	// and a bare "\r\n" as keep-alive.
	FramingCRLF Framing = "crlf"
)

// Stats summarises one ReadCapture call.
type Stats struct {
	// Framing is the framing detected from the start of the input.
	Framing Framing
	// Records counts the messages handed to fn.
	Records int
	// KeepAlives counts blank lines skipped (keep-alives and the stray "\n"
	// some captures have after the last "\r\n").
	KeepAlives int
	// Rejected lists lines that were not handed out, with the reason.
	Rejected []Rejected
}

// ReadCapture reads an archived stream capture and calls fn once per JSON
// message, in order. The framing (JSON array, NDJSON or "\r\n") is detected
// from the first bytes. Blank lines are counted as keep-alives; invalid,
// truncated or over-long lines are recorded in Stats.Rejected and reading
// goes on with the next line. Messages are passed as raw bytes and never
// decoded, so large ids are not rounded. An error from fn stops the read and
// is returned; so is a read error from r.
func ReadCapture(r io.Reader, fn func(Record) error) (Stats, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	framing, err := detectFraming(br)
	if err != nil {
		return Stats{}, fmt.Errorf("detecting capture framing: %w", err)
	}
	switch framing {
	case FramingEmpty:
		return Stats{Framing: framing}, nil
	case FramingJSONArray:
		return readArray(br, fn)
	default:
		return readLines(br, framing, fn)
	}
}

// detectFraming peeks at the first 64 KiB without consuming them. A capture
// that starts with '[' is a JSON array: stream messages are always objects,
// so no line-based capture can start that way. Otherwise the first line
// terminator tells "\r\n" from NDJSON.
func detectFraming(br *bufio.Reader) (Framing, error) {
	// Skip a UTF-8 byte-order mark some editors add to saved captures.
	if bom, err := br.Peek(3); err == nil && bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		_, _ = br.Discard(3)
	}
	buf, err := br.Peek(br.Size())
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return "", err
	}
	content := trimSpace(buf)
	switch {
	case len(content) > 0 && content[0] == '[':
		return FramingJSONArray, nil
	case len(content) == 0 && !bytes.Contains(buf, []byte("\n")):
		return FramingEmpty, nil
	default:
		return crlfOrNDJSON(buf), nil
	}
}

func crlfOrNDJSON(buf []byte) Framing {
	if i := bytes.IndexByte(buf, '\n'); i > 0 && buf[i-1] == '\r' {
		return FramingCRLF
	}
	return FramingNDJSON
}

// readLines reads NDJSON and "\r\n" captures, which differ only in the
// terminator lineReader already strips.
func readLines(r io.Reader, framing Framing, fn func(Record) error) (Stats, error) {
	st := Stats{Framing: framing}
	lr := newLineReader(r, MaxLineBytes)
	for {
		ln, err := lr.next()
		if errors.Is(err, io.EOF) {
			return st, nil
		}
		if err != nil {
			return st, fmt.Errorf("reading capture after line %d: %w", lr.line, err)
		}
		msg, rej, keepAlive := classifyLine(ln)
		switch {
		case keepAlive:
			st.KeepAlives++
		case rej != nil:
			st.Rejected = append(st.Rejected, *rej)
		default:
			st.Records++
			if err := fn(Record{Line: ln.num, Data: msg}); err != nil {
				return st, fmt.Errorf("handling capture line %d: %w", ln.num, err)
			}
		}
	}
}

// classifyLine decides what one line is: a keep-alive, a message, or a
// rejected line. Shared by ReadCapture and Stream so both judge alike.
func classifyLine(ln rawLine) (msg []byte, rej *Rejected, keepAlive bool) {
	if ln.tooLong {
		return nil, &Rejected{Line: ln.num, Reason: fmt.Sprintf("line exceeds the %d-byte limit (%d bytes with its terminator)", MaxLineBytes, ln.size), Data: ln.data}, false
	}
	data := trimSpace(ln.data)
	if len(data) == 0 {
		if !ln.terminated {
			return nil, nil, false // trailing spaces at EOF: nothing was cut off
		}
		return nil, nil, true
	}
	if reason := invalidMessage(data); reason != "" {
		if !ln.terminated {
			reason = "truncated last line: " + reason
		}
		return nil, &Rejected{Line: ln.num, Reason: reason, Data: data}, false
	}
	return data, nil, false
}

// invalidMessage returns why data is not a stream message, or "" if it is.
func invalidMessage(data []byte) string {
	if !json.Valid(data) {
		var syn *json.SyntaxError
		if err := json.Unmarshal(data, new(json.RawMessage)); errors.As(err, &syn) {
			return fmt.Sprintf("invalid JSON at byte %d: %v", syn.Offset, syn)
		} else if err != nil {
			return "invalid JSON: " + err.Error()
		}
		return "invalid JSON"
	}
	if data[0] != '{' {
		return "not a JSON object"
	}
	return ""
}

// readArray reads a capture saved as one JSON array. The input is read whole
// so that each element's line number can be reported; such fixtures are
// small. A syntax error cannot be skipped inside an array, so the rest of
// the input is rejected in one piece.
func readArray(r io.Reader, fn func(Record) error) (Stats, error) {
	st := Stats{Framing: FramingJSONArray}
	data, err := io.ReadAll(r)
	if err != nil {
		return st, fmt.Errorf("reading capture: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	lines := lineCounter{data: data}
	reject := func(off int64, reason string) {
		rest := trimSpace(data[off:])
		if len(rest) > rejectedPrefixBytes {
			rest = rest[:rejectedPrefixBytes]
		}
		st.Rejected = append(st.Rejected, Rejected{Line: lines.at(off), Reason: reason, Data: bytes.Clone(rest)})
	}
	if _, err := dec.Token(); err != nil { // the opening '['
		reject(0, "invalid JSON array: "+err.Error())
		return st, nil
	}
	for dec.More() {
		start := skipSeparators(data, dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			reason := "invalid JSON in array: " + err.Error()
			if errors.Is(err, io.ErrUnexpectedEOF) {
				reason = "truncated array element: " + err.Error()
			}
			reject(start, reason)
			return st, nil
		}
		line := lines.at(start)
		if reason := invalidMessage(raw); reason != "" {
			st.Rejected = append(st.Rejected, Rejected{Line: line, Reason: reason, Data: bytes.Clone(raw)})
			continue
		}
		st.Records++
		if err := fn(Record{Line: line, Data: bytes.Clone(raw)}); err != nil {
			return st, fmt.Errorf("handling capture element at line %d: %w", line, err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		reject(dec.InputOffset(), "truncated JSON array: "+err.Error())
	}
	return st, nil
}

// skipSeparators moves off past the whitespace and comma the decoder has not
// consumed yet, to the first byte of the next element.
func skipSeparators(data []byte, off int64) int64 {
	for off < int64(len(data)) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ',':
			off++
		default:
			return off
		}
	}
	return off
}

// lineCounter maps byte offsets to 1-based line numbers for increasing
// offsets without rescanning from the start.
type lineCounter struct {
	data []byte
	off  int64
	line int
}

func (lc *lineCounter) at(off int64) int {
	if off < lc.off {
		lc.off, lc.line = 0, 0
	}
	lc.line += bytes.Count(lc.data[lc.off:off], []byte("\n"))
	lc.off = off
	return lc.line + 1
}
