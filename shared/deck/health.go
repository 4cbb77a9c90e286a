package deck

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxHealthBody bounds the health answer the deck reads: the local stack's health holds at
// most 200 rows of dead-letter reasons (localstack's maxDeadLetterRows), far under it. Past it
// the panel gets healthUnavailable and the log says why.
const maxHealthBody = 4 << 20

// healthTimeout bounds one read of the health, under the page's poll interval's timeout (15 s).
const healthTimeout = 10 * time.Second

// healthUnavailable is the page's whole answer when the health cannot be read.
const healthUnavailable = "health is unavailable; try again"

// serveHealth reads Config.HealthURL and passes the fields of Health on.
func (h *Handler) serveHealth(w http.ResponseWriter, r *http.Request) {
	if h.health == nil {
		writeError(w, http.StatusNotFound, "health: no health source is configured", "")
		return
	}
	out, err := h.readHealth(r.Context())
	if err != nil {
		h.cfg.Log.ErrorContext(r.Context(), "reading the health panel's source", "error", err)
		writeError(w, http.StatusBadGateway, healthUnavailable, "")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(out) // a write error means the page went away
}

func (h *Handler) readHealth(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.health.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("building the health request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("asking %s: %w", h.health.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHealthBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", h.health.Path, err)
	}
	if len(body) > maxHealthBody {
		return nil, fmt.Errorf("%s answered over %d bytes", h.health.Path, maxHealthBody)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s: %.500s", h.health.Path, resp.Status, body)
	}
	return healthView(body)
}

// healthView re-encodes a health answer with only the fields of Health, lists empty rather
// than null (the page iterates them).
func healthView(body []byte) ([]byte, error) {
	var v Health
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("decoding the health: %w", err)
	}
	if v.DeadLetters == nil {
		v.DeadLetters = []HealthDeadLetters{}
	}
	if v.Subscriptions == nil {
		v.Subscriptions = []HealthBacklog{}
	}
	if v.Jobs == nil {
		v.Jobs = []HealthJob{}
	}
	if v.Functions == nil {
		v.Functions = []HealthFunction{}
	}
	return json.Marshal(v)
}
