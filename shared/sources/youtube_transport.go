package sources

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"golang.org/x/oauth2"
	youtubeanalytics "google.golang.org/api/youtubeanalytics/v2"
)

// maxReportBytes caps a captured report body. The largest report a backfill
// plans (one video, two years of days, a dozen metrics) is ~100 KB; even a
// video x day report for 500 videos stays far below this.
const maxReportBytes = 64 << 20

// exchange records what happened on the wire during one Query attempt: the
// generated client only hands back the decoded struct, but the task must
// store the body as Google sent it and know which token was rejected.
type exchange struct {
	sent    bool          // the request reached the API (not only the token endpoint)
	token   *oauth2.Token // the access token the request carried
	body    []byte        // the response body as received (after transport gzip)
	stream  bool          // the caller reads the body itself: capture nothing
	decoded *youtubeanalytics.QueryResponse
}

type exchangeKey struct{}

// withExchange attaches ex to ctx so capturingTransport can fill it in.
func withExchange(ctx context.Context, ex *exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, ex)
}

// capturingTransport authorizes requests from tokens and captures the response body for the
// exchange found in the request's context (YouTube Analytics and GA4 both go through it).
type capturingTransport struct {
	tokens oauth2.TokenSource
	base   http.RoundTripper
	api    string // names the API in errors, e.g. "youtube analytics"
}

// RoundTrip implements http.RoundTripper.
func (t *capturingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.tokens.Token()
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	r := req.Clone(req.Context())
	tok.SetAuthHeader(r)
	ex, _ := req.Context().Value(exchangeKey{}).(*exchange)
	if ex != nil {
		ex.sent, ex.token = true, tok
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil || ex == nil || ex.stream {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReportBytes+1))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading %s response: %w", t.api, err)
	}
	if len(body) > maxReportBytes {
		return nil, &Error{Kind: Permanent, Status: resp.StatusCode, Reason: "responseTooLarge",
			Err: fmt.Errorf("%s response over %d bytes", t.api, maxReportBytes)}
	}
	if resp.StatusCode/100 == 2 {
		ex.body = body
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// reportBody is the part of a QueryResponse the rows are decoded from.
type reportBody struct {
	Kind          string   `json:"kind"`
	ColumnHeaders []Column `json:"columnHeaders"`
	Rows          [][]any  `json:"rows"`
}

// decodeReport decodes columns and rows, typing each cell by its column's
// dataType so counts stay int64 and revenue stays float64.
func decodeReport(raw []byte) ([]Column, [][]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var rb reportBody
	if err := dec.Decode(&rb); err != nil {
		return nil, nil, fmt.Errorf("decoding youtube analytics report: %w", err)
	}
	rows := make([][]any, 0, len(rb.Rows))
	for i, row := range rb.Rows {
		if len(row) != len(rb.ColumnHeaders) {
			return nil, nil, fmt.Errorf("decoding youtube analytics report: row %d has %d cells for %d columns", i, len(row), len(rb.ColumnHeaders))
		}
		out := make([]any, len(row))
		for j, cell := range row {
			v, err := typedCell(cell, rb.ColumnHeaders[j].Type)
			if err != nil {
				return nil, nil, fmt.Errorf("decoding youtube analytics report: row %d column %s: %w", i, rb.ColumnHeaders[j].Name, err)
			}
			out[j] = v
		}
		rows = append(rows, out)
	}
	return rb.ColumnHeaders, rows, nil
}

// typedCell converts one cell according to a YouTube dataType.
func typedCell(cell any, dataType string) (any, error) {
	n, isNum := cell.(json.Number)
	if !isNum {
		return cell, nil // strings, bools and nulls are already typed
	}
	switch strings.ToUpper(dataType) {
	case "INTEGER":
		if i, err := n.Int64(); err == nil {
			return i, nil
		}
		f, err := n.Float64()
		if err != nil || f != float64(int64(f)) {
			return nil, errors.New("INTEGER value " + n.String() + " is not an integer")
		}
		return int64(f), nil
	case "FLOAT", "CURRENCY", "PERCENT":
		f, err := n.Float64()
		if err != nil {
			return nil, err
		}
		return f, nil
	default:
		return normalizeNumber(n), nil
	}
}
