package collectevents

import (
	"encoding/json"
	"net/http"
)

// Status is what became of one event of a request.
type Status string

// The statuses of an event. Only StatusFailed asks the app to send the event again.
const (
	// StatusAccepted: the event was published.
	StatusAccepted Status = "accepted"
	// StatusRejected: the event is invalid and will never be accepted; Field and Reason say why.
	StatusRejected Status = "rejected"
	// StatusDuplicate: an event with the same id was already published, in this request or an
	// earlier one.
	StatusDuplicate Status = "duplicate"
	// StatusFailed: publishing failed for a reason that may pass; the response is then 503 and the
	// app should send the event again.
	StatusFailed Status = "failed"
)

// Response is the JSON body answered to a request whose events could be read.
type Response struct {
	Accepted   int      `json:"accepted"`
	Rejected   int      `json:"rejected"`
	Duplicates int      `json:"duplicates"`
	Failed     int      `json:"failed"`
	Results    []Result `json:"results"`
}

// Result is what became of one event, in the order the events were sent.
type Result struct {
	// Index is the event's position: in the array, or among the non-blank lines of NDJSON.
	Index  int    `json:"index"`
	ID     string `json:"id,omitempty"`
	Status Status `json:"status"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// ErrorResponse is the JSON body answered when the request as a whole was refused.
type ErrorResponse struct {
	Error string `json:"error"`
}

// count fills in the totals from the results.
func (r *Response) count() {
	r.Accepted, r.Rejected, r.Duplicates, r.Failed = 0, 0, 0, 0
	for _, res := range r.Results {
		switch res.Status {
		case StatusAccepted:
			r.Accepted++
		case StatusRejected:
			r.Rejected++
		case StatusDuplicate:
			r.Duplicates++
		case StatusFailed:
			r.Failed++
		}
	}
}

// writeJSON answers status with v as JSON. An encoding error cannot happen for these types,
// and a write error means the client went away: neither leaves anything to do.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
