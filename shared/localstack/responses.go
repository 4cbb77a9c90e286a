package localstack

import (
	"net/http"
	"sort"
	"sync"
	"time"
)

// FunctionErrors are one function's answers as its callers saw them at the front door, over the
// last HealthWindow: production's alert counts the same answers in Cloud Monitoring (Cloud Run's
// run.googleapis.com/request_count by response code, https://cloud.google.com/functions/docs/monitoring/metrics).
type FunctionErrors struct {
	Function string `json:"function"`
	Requests int    `json:"requests"`
	// Errors5xx counts answers with a 5xx status, and requests the function's instance died
	// under (its caller got no answer).
	Errors5xx int `json:"errors_5xx"`
}

// responseCounts counts the front door's answers per function and minute; safe for concurrent
// use. Minutes older than HealthWindow are dropped as new ones arrive, so it holds at most
// HealthWindow/time.Minute+1 minutes per function.
type responseCounts struct {
	mu  sync.Mutex
	fns map[string]map[int64]*FunctionErrors // function -> unix minute -> counts
}

func (c *responseCounts) record(fn string, status int, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fns == nil {
		c.fns = map[string]map[int64]*FunctionErrors{}
	}
	mins := c.fns[fn]
	if mins == nil {
		mins = map[int64]*FunctionErrors{}
		c.fns[fn] = mins
	}
	m := now.Unix() / 60
	for old := range mins {
		if old < m-int64(HealthWindow/time.Minute) {
			delete(mins, old)
		}
	}
	e := mins[m]
	if e == nil {
		e = &FunctionErrors{}
		mins[m] = e
	}
	e.Requests++
	if status >= 500 || status == 0 {
		e.Errors5xx++
	}
}

// since sums every function's answers from the minute of from on, by function name.
func (c *responseCounts) since(from time.Time) []FunctionErrors {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []FunctionErrors{}
	for fn, mins := range c.fns {
		sum := FunctionErrors{Function: fn}
		for m, e := range mins {
			if m >= from.Unix()/60 {
				sum.Requests += e.Requests
				sum.Errors5xx += e.Errors5xx
			}
		}
		out = append(out, sum)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Function < out[j].Function })
	return out
}

// statusRecorder keeps the status a handler answered; it passes Flush on (the reverse proxy
// streams) through Unwrap.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
