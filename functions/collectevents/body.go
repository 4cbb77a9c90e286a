package collectevents

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"unicode"
	"unicode/utf8"

	"github.com/pipelinekit/pipelinekit/shared/event"
)

// Content types a request may carry.
const (
	contentTypeJSON   = "application/json"
	contentTypeNDJSON = "application/x-ndjson"
	// contentTypeText is what navigator.sendBeacon sends a string body as
	// (https://fetch.spec.whatwg.org/#concept-bodyinit-extract: a USVString is
	// "text/plain;charset=UTF-8"), and a CORS-safelisted type, so a fetch with it needs no
	// preflight. Its body is read as application/json.
	contentTypeText = "text/plain"
)

// requestError is a problem with the request as a whole: nothing in it is processed.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func requestErrorf(status int, format string, args ...any) *requestError {
	return &requestError{status: status, msg: fmt.Sprintf(format, args...)}
}

// mediaType returns the request's media type if it is one of the accepted ones.
func mediaType(r *http.Request) (string, *requestError) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != contentTypeJSON && mt != contentTypeNDJSON && mt != contentTypeText) {
		return "", requestErrorf(http.StatusUnsupportedMediaType,
			"Content-Type must be %s (an array of events or one event; %s is read the same) or %s (one event per line), not %q",
			contentTypeJSON, contentTypeText, contentTypeNDJSON, ct)
	}
	return mt, nil
}

// eventSource yields the events of a body one at a time, each exactly as received, so that a
// request never holds its body whole: only the event being read and the events kept so far.
type eventSource interface {
	// next returns the next event and its size, or nil at the end of the body. The slice is
	// valid until the next call; it is shorter than size when the event was too long to keep.
	// A requestError means the body as a whole is refused.
	next() (data []byte, size int64, err *requestError)
}

// openBody returns the events of the request's body. A declared Content-Length over max is
// refused before anything is read; otherwise http.MaxBytesReader stops reading at max, so a
// huge chunked body is refused after max bytes, never held.
func openBody(w http.ResponseWriter, r *http.Request, mediaType string, max int64, maxEvents int) (eventSource, *requestError) {
	if r.ContentLength > max {
		return nil, tooLarge(max)
	}
	body := &bodyReader{r: http.MaxBytesReader(w, r.Body, max), max: max}
	if mediaType == contentTypeNDJSON {
		return &ndjsonSource{br: bufio.NewReaderSize(body, ndjsonBuffer), body: body, maxEvents: maxEvents}, nil
	}
	return &jsonSource{br: bufio.NewReaderSize(body, jsonBuffer), body: body, maxEvents: maxEvents}, nil
}

// Read buffers: a read from the network fills at most this much at a time.
const (
	jsonBuffer   = 32 << 10
	ndjsonBuffer = 32 << 10
)

func tooLarge(max int64) *requestError {
	return requestErrorf(http.StatusRequestEntityTooLarge, "body is over the limit of %d bytes", max)
}

func tooManyEvents(max int) *requestError {
	return requestErrorf(http.StatusRequestEntityTooLarge, "more than %d events in one request: split the batch", max)
}

// bodyReader counts the bytes read from the body and turns a read past the limit into the
// request's 413.
type bodyReader struct {
	r   io.Reader
	max int64
	n   int64
	err *requestError // set when a read failed
}

func (c *bodyReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		c.err = tooLarge(c.max)
	case err != nil && err != io.EOF:
		c.err = requestErrorf(http.StatusBadRequest, "reading body: %v", err)
	}
	return n, err
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

// jsonSource reads an application/json body: the elements of a top-level array, or the body
// itself when it is one object. The body must be well-formed JSON as a whole, since a syntax
// error inside an array leaves no way to tell where the next element starts; so the caller
// publishes nothing before next has returned the end.
type jsonSource struct {
	br        *bufio.Reader
	body      *bodyReader
	maxEvents int
	dec       *json.Decoder
	start     int64 // offset of the first non-space byte, where the decoder starts
	array     bool
	done      bool
	n         int
	raw       json.RawMessage // the current event, reused
}

func (s *jsonSource) next() ([]byte, int64, *requestError) {
	raw, err := s.decode()
	return raw, int64(len(raw)), err
}

func (s *jsonSource) decode() ([]byte, *requestError) {
	if s.done {
		return nil, nil
	}
	if s.dec == nil {
		first, err := s.skipSpace()
		if err != nil {
			return nil, err
		}
		switch first {
		case '{':
		case '[':
			s.array = true
		default:
			return nil, requestErrorf(http.StatusBadRequest,
				"body must be a JSON array of events or one event object: found %q at byte %d", first, s.start)
		}
		s.dec = json.NewDecoder(s.br)
		if s.array {
			if _, err := s.dec.Token(); err != nil {
				return nil, s.syntaxError(err)
			}
		}
	}
	if !s.array {
		s.done = true
		if err := s.dec.Decode(&s.raw); err != nil {
			return nil, s.syntaxError(err)
		}
		return s.raw, s.trailing()
	}
	if !s.dec.More() {
		s.done = true
		if _, err := s.dec.Token(); err != nil {
			return nil, s.syntaxError(err)
		}
		return nil, s.trailing()
	}
	if s.n == s.maxEvents {
		return nil, tooManyEvents(s.maxEvents)
	}
	s.n++
	if err := s.dec.Decode(&s.raw); err != nil {
		return nil, s.syntaxError(err)
	}
	return s.raw, nil
}

// skipSpace reads up to the body's first non-space byte and returns it, unread.
func (s *jsonSource) skipSpace() (byte, *requestError) {
	for {
		b, err := s.br.ReadByte()
		if err != nil {
			if s.body.err != nil {
				return 0, s.body.err
			}
			return 0, requestErrorf(http.StatusBadRequest, "empty body")
		}
		if !isSpace(b) {
			_ = s.br.UnreadByte()
			return b, nil
		}
		s.start++
	}
}

// trailing refuses data after the top-level value, reading the rest of the body to find it.
func (s *jsonSource) trailing() *requestError {
	off := s.start + s.dec.InputOffset()
	rest := bufio.NewReader(io.MultiReader(s.dec.Buffered(), s.br))
	for {
		// Any Unicode space may follow, as bytes.TrimSpace allowed when the body was read whole.
		r, n, err := rest.ReadRune()
		if err != nil {
			return s.body.err // nil at the end of a body within the limit
		}
		if !unicode.IsSpace(r) || (r == utf8.RuneError && n == 1) {
			return requestErrorf(http.StatusBadRequest,
				"body must be a single JSON array or object: unexpected data at byte %d (send several events as an array, or as %s)",
				off, contentTypeNDJSON)
		}
		off += int64(n)
	}
}

// syntaxError reports where a JSON body stopped making sense, or the read error behind it.
func (s *jsonSource) syntaxError(err error) *requestError {
	if s.body.err != nil {
		return s.body.err
	}
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return requestErrorf(http.StatusBadRequest, "body is not a well-formed JSON array or object: %v at byte %d", se, s.start+se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return requestErrorf(http.StatusBadRequest, "body is not a well-formed JSON array or object: it ends early at byte %d", s.body.n)
	}
	return requestErrorf(http.StatusBadRequest, "body is not a well-formed JSON array or object: %v", err)
}

// ndjsonSource reads an application/x-ndjson body: its non-blank lines, trimmed. A malformed
// line is still returned: it is rejected on its own when parsed, and the other lines go ahead.
// A line longer than an event may be is not kept whole: its first bytes and its length are
// enough to reject it.
type ndjsonSource struct {
	br        *bufio.Reader
	body      *bodyReader
	maxEvents int
	n         int
	line      []byte // the current line, reused
	any       bool   // a non-blank line was seen
}

// ndjsonKeep is how much of a line, from its first non-space byte, is kept: more than the
// largest event, so that a longer line is known to be too long.
const ndjsonKeep = event.MaxAppEventBytes + 1

func (s *ndjsonSource) next() ([]byte, int64, *requestError) {
	for {
		line, size, eof, err := s.readLine()
		if err != nil {
			return nil, 0, err
		}
		if size > 0 {
			if s.n == s.maxEvents {
				return nil, 0, tooManyEvents(s.maxEvents)
			}
			s.n++
			s.any = true
			return line, size, nil
		}
		if eof {
			if !s.any {
				return nil, 0, requestErrorf(http.StatusBadRequest, "empty body")
			}
			return nil, 0, nil
		}
	}
}

// readLine reads one line and returns it trimmed of space, and its trimmed length (0 for a
// blank line). Of a line longer than ndjsonKeep only the first ndjsonKeep bytes are returned.
// eof reports the body's end.
func (s *ndjsonSource) readLine() (line []byte, size int64, eof bool, rerr *requestError) {
	s.line = s.line[:0]
	var body, trail int64 // bytes from the first non-space one; trailing space among them
	for {
		chunk, err := s.br.ReadSlice('\n')
		for i, b := range chunk {
			switch {
			case !isSpace(b):
				if body == 0 {
					// From here on the line is kept, up to ndjsonKeep bytes.
					rest := chunk[i:]
					s.line = append(s.line, rest[:min(len(rest), ndjsonKeep)]...)
				}
				body++
				trail = 0
			case body > 0:
				body++
				trail++
			}
		}
		if body > 0 && len(s.line) < ndjsonKeep && int64(len(s.line)) < body {
			// A later chunk of a line already begun.
			s.line = append(s.line, chunk[:min(len(chunk), ndjsonKeep-len(s.line))]...)
		}
		switch {
		case err == nil, err == io.EOF:
			// Trimmed of any Unicode space, as bytes.TrimSpace trimmed lines when the body was
			// read whole; only a line too long to keep has its size counted instead.
			line = bytes.TrimSpace(s.line)
			size = int64(len(line))
			if body > int64(len(s.line)) {
				size = body - trail
			}
			return line, size, err == io.EOF, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		}
		if s.body.err != nil {
			return nil, 0, false, s.body.err
		}
		return nil, 0, false, requestErrorf(http.StatusBadRequest, "reading body: %v", err)
	}
}
