package localstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/event"
)

// HealthWindow is how far back the stack's health looks for dead letters and the functions'
// answers: production's dead-letter alert counts 5 minutes; twice that shows a burst and what
// came before it.
const HealthWindow = 10 * time.Minute

// maxDeadLetterRows bounds the (minute, reason) rows Health reads: the reasons of a window
// can be as many as its messages (a reason may name a size or a field). Past it the rest are
// left out and Health.DeadLettersCut says so.
const maxDeadLetterRows = 200

// LeaseDoc is StreamTweets' lease document (streamtweets.DefaultLeaseDoc; the stack leaves
// LEASE_DOC unset).
const LeaseDoc = "leases/x-stream"

// Health is what the production alerts watch, read from the running stack: dead letters per
// minute by reason, the subscriptions' backlog, the stream's lease, running backfill jobs and
// each function's 5xx answers. A part that could not be read is left empty and named in
// Problems.
type Health struct {
	At      time.Time `json:"at"`
	WindowS int       `json:"window_s"`
	// DeadLetters are the last HealthWindow's dead letters, by minute (oldest first) and reason.
	DeadLetters    []DeadLetterMinute `json:"dead_letters"`
	DeadLettersCut bool               `json:"dead_letters_cut,omitempty"`
	// Subscriptions is the backlog of the loader's and the rankings' subscriptions.
	Subscriptions []Backlog        `json:"subscriptions"`
	Stream        *StreamState     `json:"stream,omitempty"`
	Jobs          []RunningJob     `json:"jobs"`
	Functions     []FunctionErrors `json:"functions"`
	Problems      []string         `json:"problems,omitempty"`
}

// DeadLetterMinute is how many messages were dead-lettered with one reason in one minute.
type DeadLetterMinute struct {
	Minute time.Time `json:"minute"`
	Reason string    `json:"reason"`
	Count  int64     `json:"count"`
}

// StreamState is StreamTweets' lease (shared/lease) and its holder's read plan, as Firestore
// holds them.
type StreamState struct {
	// State is "never" (no run took the lease), "held" (a run holds it) or "idle".
	State      string    `json:"state"`
	Holder     string    `json:"holder,omitempty"`
	AcquiredAt time.Time `json:"acquired_at,omitzero"`
	// ExpiresAt is when the hold ends; a released lease expired when it was released.
	ExpiresAt  time.Time `json:"expires_at,omitzero"`
	ReadsUntil time.Time `json:"reads_until,omitzero"`
	// IdleS is how long no run has held the lease, in seconds: what the "stream not read"
	// alert watches.
	IdleS float64 `json:"idle_s,omitempty"`
}

// RunningJob is a backfill job that is planning or running, with its rate.
type RunningJob struct {
	JobID      string  `json:"job_id"`
	State      string  `json:"state"`
	Planned    int     `json:"planned"`
	Succeeded  int     `json:"succeeded"`
	Failed     int     `json:"failed"`
	RatePerSec float64 `json:"rate_per_sec"`
}

// Health reads the stack's health at now.
func (s *Stack) Health(ctx context.Context, now time.Time) *Health {
	h := &Health{At: now.UTC(), WindowS: int(HealthWindow / time.Second), Subscriptions: []Backlog{}, Jobs: []RunningJob{}}
	var err error
	if h.DeadLetters, h.DeadLettersCut, err = DeadLettersPerMinute(ctx, s.BQ, s.Project, s.Dataset, now); err != nil {
		h.Problems = append(h.Problems, err.Error())
	}
	if s.Forwarder != nil {
		h.Subscriptions = append(h.Subscriptions, s.Forwarder.Backlog(now))
	}
	if s.Rankings != nil {
		h.Subscriptions = append(h.Subscriptions, s.Rankings.Forwarder.Backlog(now))
	}
	if s.XStream != nil {
		if h.Stream, err = s.streamState(ctx, now); err != nil {
			h.Problems = append(h.Problems, err.Error())
		}
	}
	if s.Backfill != nil {
		if h.Jobs, err = runningJobs(ctx, s.Backfill.URL); err != nil {
			h.Problems = append(h.Problems, err.Error())
		}
	}
	h.Functions = s.Functions.Errors(now.Add(-HealthWindow))
	return h
}

// DeadLettersPerMinute counts the dead letters of the HealthWindow before now by minute and
// reason, at most maxDeadLetterRows rows (cut reports that more were left out).
func DeadLettersPerMinute(ctx context.Context, c *bigquery.Client, project, dataset string, now time.Time) (rows []DeadLetterMinute, cut bool, err error) {
	since := now.Add(-HealthWindow).UTC().Truncate(time.Minute)
	q := c.Query(fmt.Sprintf("SELECT TIMESTAMP_TRUNC(dead_lettered_at, MINUTE) AS minute, reason, COUNT(*) AS count "+
		"FROM `%s.%s.%s` WHERE dead_lettered_at >= TIMESTAMP('%s') "+
		"GROUP BY minute, reason ORDER BY minute, count DESC, reason LIMIT %d",
		project, dataset, event.TableDeadLetters, since.Format(time.RFC3339), maxDeadLetterRows+1))
	it, err := q.Read(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("counting dead letters per minute: %w", err)
	}
	rows = []DeadLetterMinute{}
	for {
		var r DeadLetterMinute
		var v struct {
			Minute time.Time `bigquery:"minute"`
			Reason string    `bigquery:"reason"`
			Count  int64     `bigquery:"count"`
		}
		err := it.Next(&v)
		if err == iterator.Done {
			break
		}
		if err != nil {
			return nil, false, fmt.Errorf("reading dead letters per minute: %w", err)
		}
		if len(rows) == maxDeadLetterRows {
			return rows, true, nil
		}
		r.Minute, r.Reason, r.Count = v.Minute.UTC(), v.Reason, v.Count
		rows = append(rows, r)
	}
	return rows, false, nil
}

// streamState reads StreamTweets' lease and read plan from Firestore.
func (s *Stack) streamState(ctx context.Context, now time.Time) (*StreamState, error) {
	c, err := firestore.NewClient(ctx, s.Project)
	if err != nil {
		return nil, fmt.Errorf("creating the Firestore client: %w", err)
	}
	defer c.Close()
	var lease struct {
		Holder     string    `firestore:"holder"`
		ExpiresAt  time.Time `firestore:"expires_at"`
		AcquiredAt time.Time `firestore:"acquired_at"`
	}
	snap, err := c.Doc(LeaseDoc).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return &StreamState{State: "never"}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the stream's lease %s: %w", LeaseDoc, err)
	}
	if err := snap.DataTo(&lease); err != nil {
		return nil, fmt.Errorf("decoding the stream's lease %s: %w", LeaseDoc, err)
	}
	st := &StreamState{Holder: lease.Holder, AcquiredAt: lease.AcquiredAt.UTC(), ExpiresAt: lease.ExpiresAt.UTC()}
	if now.Before(lease.ExpiresAt) {
		st.State = "held"
	} else {
		st.State, st.IdleS = "idle", now.Sub(lease.ExpiresAt).Seconds()
	}
	var plan struct {
		Holder     string    `firestore:"holder"`
		ReadsUntil time.Time `firestore:"reads_until"`
	}
	if snap, err := c.Doc(LeaseDoc + "-plan").Get(ctx); err == nil && snap.DataTo(&plan) == nil && plan.Holder == lease.Holder {
		st.ReadsUntil = plan.ReadsUntil.UTC()
	}
	return st, nil
}

// runningJobs lists the Backfill function's jobs that are planning or running.
func runningJobs(ctx context.Context, backfillURL string) ([]RunningJob, error) {
	var list struct {
		Jobs []backfill.Status `json:"jobs"`
	}
	if err := getHealthJSON(ctx, backfillURL+"/backfills", &list); err != nil {
		return nil, fmt.Errorf("listing backfill jobs: %w", err)
	}
	out := []RunningJob{}
	for _, j := range list.Jobs {
		if j.State != backfill.JobRunning && j.State != backfill.JobPlanning {
			continue
		}
		out = append(out, RunningJob{JobID: j.JobID, State: j.State, Planned: j.Counts.Planned,
			Succeeded: j.Counts.Succeeded, Failed: j.Counts.Failed, RatePerSec: j.RatePerSec})
	}
	return out, nil
}

// maxHealthBody bounds an answer ReadHealth (and the jobs list) reads: a health of
// maxDeadLetterRows rows of reasons is well under it.
const maxHealthBody = 4 << 20

func getHealthJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHealthBody+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", url, err)
	}
	if len(body) > maxHealthBody {
		return fmt.Errorf("GET %s: the answer is over %d bytes", url, maxHealthBody)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s = %s: %.200s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decoding GET %s: %w", url, err)
	}
	return nil
}

// HealthURL is where the running stack answers its Health as JSON; empty before its functions
// run.
func (s *Stack) HealthURL() string {
	if s.Functions == nil {
		return ""
	}
	return s.Functions.URL + StackPath + "health"
}

// ReadHealth GETs a running stack's Health from its HealthURL.
func ReadHealth(ctx context.Context, url string) (*Health, error) {
	var h Health
	if err := getHealthJSON(ctx, url, &h); err != nil {
		return nil, fmt.Errorf("reading the stack's health: %w", err)
	}
	return &h, nil
}

// healthTimeout bounds one answer of the health endpoint: a part that hangs (an emulator
// under load) is reported as a problem rather than holding the caller.
const healthTimeout = 20 * time.Second

func (s *Stack) serveHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	writeJSON(w, s.Health(ctx, time.Now()))
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, fmt.Sprintf("encoding: %v", err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b) // a write error means the caller went away
}
