package backfill

import (
	"net/http"
	"strconv"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

// List limits of GET /backfills.
const (
	defaultListLimit = 20
	maxListLimit     = 100
)

// ListResponse answers GET /backfills: jobs newest first, and the page_token of the next page.
type ListResponse struct {
	Jobs          []backfill.JobSummary `json:"jobs"`
	NextPageToken string                `json:"next_page_token,omitempty"`
}

// list handles GET /backfills?limit=N&page_token=T.
func (s *Service) list(w http.ResponseWriter, r *http.Request) {
	limit := defaultListLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			writeJSON(w, http.StatusBadRequest, ErrorResponse{Error: "limit must be a number from 1 to " + strconv.Itoa(maxListLimit), Field: "limit"})
			return
		}
		limit = n
	}
	var before time.Time
	if v := r.URL.Query().Get("page_token"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, ErrorResponse{Error: "page_token is not one this API returned", Field: "page_token"})
			return
		}
		before = t
	}
	jobs, next, err := s.store.ListJobs(r.Context(), limit, before)
	if err != nil {
		s.storeError(w, r, "", err)
		return
	}
	out := ListResponse{Jobs: jobs}
	if out.Jobs == nil {
		out.Jobs = []backfill.JobSummary{}
	}
	if !next.IsZero() {
		out.NextPageToken = next.UTC().Format(time.RFC3339Nano)
	}
	writeJSON(w, http.StatusOK, out)
}
