package deck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// A keyword or hashtag column asks for its history: POST deck/history {"q": TERM} starts (or
// finds) a backfill of the term's last 7 days through the Backfill function, with the
// deck's own client, as the backfills panel reads it. The browser sends only the term; the spec
// is built here (docs/deck.md, "A column's history").

const (
	// MaxHistoryJobsPerDay bounds the history jobs a deployment has started in the last 24
	// hours (any job of the history's source counts, whoever started it) when a column starts a
	// new one: each job spends the source API's requests, which X rate-limits per app and bills
	// per read.
	MaxHistoryJobsPerDay = 20
	// historyListPages bounds the pages of GET /backfills (100 jobs each) a start reads to count
	// the last 24 hours' jobs; a day with more jobs than that is answered as past the bound.
	historyListPages = 3
	// MaxHistoryBodyBytes bounds a POST deck/history body: {"q": "..."} with a 100-byte term.
	MaxHistoryBodyBytes = 1024
	historyDay          = 24 * time.Hour
)

// historyTerm is what a column's history may be asked for: one keyword or #hashtag of letters,
// digits, marks and _ (as a stream hashtag), which X's search reads as the same keyword or
// hashtag, case-insensitively, and which holds none of X's operators.
var historyTerm = regexp.MustCompile(`^#?[\p{L}\p{N}\p{M}_]+$`)

// HistoryRequest is the body of POST deck/history.
type HistoryRequest struct {
	Q string `json:"q"`
}

// HistoryStart answers POST deck/history: the job the column watches (through deck/backfills/{id}).
type HistoryStart struct {
	Term  string `json:"term"`
	JobID string `json:"job_id"`
	// Created is false when the job already existed (the same term within HistoryPeriod).
	Created      bool      `json:"created"`
	State        string    `json:"state"`
	PlannedTasks int       `json:"planned_tasks"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
}

// HistoryTerm checks a column's term and returns it as the spec's query (lower-cased: X's
// search and the deck's search rule both fold case, so #GCP and #gcp are one job).
func HistoryTerm(q string) (string, error) {
	t := strings.TrimSpace(q)
	switch {
	case t == "":
		return "", errors.New("q: required: a keyword or #hashtag")
	case len(t) > MaxQueryLen:
		return "", fmt.Errorf("q: longer than %d bytes", MaxQueryLen)
	case !historyTerm.MatchString(t):
		return "", fmt.Errorf("q: %q is not one keyword or #hashtag (letters, digits and _): only those columns load their history", excerpt(t))
	}
	return strings.ToLower(t), nil
}

// excerpt quotes at most 40 bytes of s, as the API's errors do.
func excerpt(s string) string {
	if len(s) <= 40 {
		return s
	}
	cut := 40
	for cut > 0 && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// history serves POST deck/history.
func (h *Handler) history(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, "use POST with {\"q\": \"keyword or #hashtag\"}", "")
		return
	}
	if h.backfill == nil {
		writeError(w, http.StatusNotFound, "history: no Backfill function is configured", "")
		return
	}
	src := h.cfg.History
	if src == nil {
		writeError(w, http.StatusNotFound, "history: no backfill source fills a column's history", "")
		return
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxHistoryBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("body: longer than %d bytes", MaxHistoryBodyBytes), "body")
		return
	}
	var in HistoryRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err != nil || dec.Decode(&in) != nil {
		writeError(w, http.StatusBadRequest, `body: not {"q": "keyword or #hashtag"}`, "body")
		return
	}
	term, err := HistoryTerm(in.Q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "q")
		return
	}
	now := h.cfg.Now()
	ctx, cancel := context.WithTimeout(r.Context(), backfillTimeout)
	defer cancel()
	spec, start, end := src.TermHistory(term, now, false)
	dry, _, _ := src.TermHistory(term, now, true)
	// The job this period's spec names: Backfill derives the id, a dry run tells it.
	var plan struct {
		JobID string `json:"job_id"`
	}
	if status, err := h.callBackfill(ctx, http.MethodPost, "/backfills", dry, &plan); err != nil || status != http.StatusOK || plan.JobID == "" {
		h.backfillFailed(w, r, fmt.Errorf("planning the history of %q (dry run answered %d): %v", term, status, err))
		return
	}
	status, err := h.callBackfill(ctx, http.MethodGet, "/backfills/"+plan.JobID, nil, nil)
	if err != nil || (status != http.StatusOK && status != http.StatusNotFound) {
		h.backfillFailed(w, r, fmt.Errorf("looking up history job %s (answered %d): %v", plan.JobID, status, err))
		return
	}
	if status == http.StatusNotFound {
		// A new job: within the deployment's bound?
		n, err := h.recentJobs(ctx, src.Name(), now)
		if err != nil {
			h.backfillFailed(w, r, err)
			return
		}
		if n >= MaxHistoryJobsPerDay {
			w.Header().Set("Retry-After", "3600")
			writeError(w, http.StatusTooManyRequests, fmt.Sprintf(
				"history: %d %s jobs started in the last 24 hours, the deployment's bound (MaxHistoryJobsPerDay %d); try later",
				n, src.Name(), MaxHistoryJobsPerDay), "")
			return
		}
	}
	// Posting an existing job's spec again returns it (and resumes one whose enqueueing was cut
	// short); two starts racing here create one job, since its id is the spec's hash.
	var created struct {
		JobID        string `json:"job_id"`
		Created      bool   `json:"created"`
		PlannedTasks int    `json:"planned_tasks"`
		State        string `json:"state"`
	}
	status, err = h.callBackfill(ctx, http.MethodPost, "/backfills", spec, &created)
	if err != nil || (status != http.StatusOK && status != http.StatusAccepted) {
		h.backfillFailed(w, r, fmt.Errorf("starting the history of %q (answered %d): %v", term, status, err))
		return
	}
	if created.Created {
		h.cfg.Log.InfoContext(r.Context(), "started a column's history", "term", term, "job_id", created.JobID, "planned", created.PlannedTasks)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	code := http.StatusOK
	if created.Created {
		code = http.StatusAccepted
	}
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(HistoryStart{Term: term, JobID: created.JobID, Created: created.Created, State: created.State,
		PlannedTasks: created.PlannedTasks, Start: start, End: end})
}

// recentJobs counts the jobs of source created in the 24 hours before now, reading
// Backfill's list (newest first) for at most historyListPages pages; a longer day counts as
// MaxHistoryJobsPerDay.
func (h *Handler) recentJobs(ctx context.Context, source string, now time.Time) (int, error) {
	n, token := 0, ""
	for range historyListPages {
		var page struct {
			Jobs []struct {
				Source    string    `json:"source"`
				CreatedAt time.Time `json:"created_at"`
			} `json:"jobs"`
			NextPageToken string `json:"next_page_token"`
		}
		path := "/backfills?limit=100"
		if token != "" {
			path += "&page_token=" + url.QueryEscape(token)
		}
		status, err := h.callBackfill(ctx, http.MethodGet, path, nil, &page)
		if err != nil || status != http.StatusOK {
			return 0, fmt.Errorf("listing backfill jobs (answered %d): %v", status, err)
		}
		for _, j := range page.Jobs {
			if now.Sub(j.CreatedAt) >= historyDay {
				return n, nil
			}
			if j.Source == source {
				n++
			}
		}
		if page.NextPageToken == "" {
			return n, nil
		}
		token = page.NextPageToken
	}
	return max(n, MaxHistoryJobsPerDay), nil
}

// callBackfill sends one request to the Backfill function and decodes a 2xx JSON answer into
// out (when not nil); it returns the status.
func (h *Handler) callBackfill(ctx context.Context, method, pathAndQuery string, body []byte, out any) (int, error) {
	target := h.backfill.String() + pathAndQuery
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return 0, fmt.Errorf("building %s %s: %w", method, pathAndQuery, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.cfg.BackfillClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, pathAndQuery, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("reading the answer to %s %s: %w", method, pathAndQuery, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decoding the answer to %s %s: %w", method, pathAndQuery, err)
		}
	} else if resp.StatusCode > 299 && resp.StatusCode != http.StatusNotFound {
		return resp.StatusCode, fmt.Errorf("%s %s answered %s: %.300s", method, pathAndQuery, resp.Status, b)
	}
	return resp.StatusCode, nil
}
