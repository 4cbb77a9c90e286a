package collectevents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// Content types a request may carry.
const (
	contentTypeJSON   = "application/json"
	contentTypeNDJSON = "application/x-ndjson"
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
	if err != nil || (mt != contentTypeJSON && mt != contentTypeNDJSON) {
		return "", requestErrorf(http.StatusUnsupportedMediaType,
			"Content-Type must be %s (an array of events or one event) or %s (one event per line), not %q",
			contentTypeJSON, contentTypeNDJSON, ct)
	}
	return mt, nil
}

// readBody reads the whole body, refusing one over max bytes. A declared Content-Length over the
// limit is refused before reading anything; otherwise http.MaxBytesReader stops reading at the
// limit, so a huge chunked body is never held in memory.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, *requestError) {
	tooLarge := requestErrorf(http.StatusRequestEntityTooLarge, "body is over the limit of %d bytes", max)
	if r.ContentLength > max {
		return nil, tooLarge
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, max))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge
	case err != nil:
		return nil, requestErrorf(http.StatusBadRequest, "reading body: %v", err)
	case len(bytes.TrimSpace(buf.Bytes())) == 0:
		return nil, requestErrorf(http.StatusBadRequest, "empty body")
	}
	return buf.Bytes(), nil
}

// jsonSpace is the whitespace JSON allows between tokens.
const jsonSpace = " \t\r\n"

func tooManyEvents(max int) *requestError {
	return requestErrorf(http.StatusRequestEntityTooLarge, "more than %d events in one request: split the batch", max)
}

// splitJSON returns the events of an application/json body, each exactly as received: the
// elements of a top-level array, or the body itself when it is one object. The body must be
// well-formed JSON as a whole, since a syntax error inside an array leaves no way to tell where
// the next element starts.
func splitJSON(body []byte, maxEvents int) ([][]byte, *requestError) {
	trimmed := bytes.TrimLeft(body, jsonSpace)
	start := len(body) - len(trimmed)
	dec := json.NewDecoder(bytes.NewReader(body))
	var events [][]byte
	switch trimmed[0] {
	case '{':
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, syntaxError(err, len(body))
		}
		events = append(events, raw)
	case '[':
		if _, err := dec.Token(); err != nil {
			return nil, syntaxError(err, len(body))
		}
		for dec.More() {
			if len(events) == maxEvents {
				return nil, tooManyEvents(maxEvents)
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, syntaxError(err, len(body))
			}
			events = append(events, raw)
		}
		if _, err := dec.Token(); err != nil {
			return nil, syntaxError(err, len(body))
		}
	default:
		return nil, requestErrorf(http.StatusBadRequest,
			"body must be a JSON array of events or one event object: found %q at byte %d", trimmed[0], start)
	}
	if off := int(dec.InputOffset()); len(bytes.TrimSpace(body[off:])) > 0 {
		pos := len(body) - len(bytes.TrimLeft(body[off:], jsonSpace))
		return nil, requestErrorf(http.StatusBadRequest,
			"body must be a single JSON array or object: unexpected data at byte %d (send several events as an array, or as %s)",
			pos, contentTypeNDJSON)
	}
	return events, nil
}

// syntaxError reports where a JSON body stopped making sense.
func syntaxError(err error, size int) *requestError {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return requestErrorf(http.StatusBadRequest, "body is not a well-formed JSON array or object: %v at byte %d", se, se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return requestErrorf(http.StatusBadRequest, "body is not a well-formed JSON array or object: it ends early at byte %d", size)
	}
	return requestErrorf(http.StatusBadRequest, "body is not a well-formed JSON array or object: %v", err)
}

// splitNDJSON returns the non-blank lines of an application/x-ndjson body, trimmed. A malformed
// line is still returned: it is rejected on its own when parsed, and the other lines go ahead.
func splitNDJSON(body []byte, maxEvents int) ([][]byte, *requestError) {
	var events [][]byte
	for line := range bytes.SplitSeq(body, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(events) == maxEvents {
			return nil, tooManyEvents(maxEvents)
		}
		events = append(events, line)
	}
	return events, nil
}
