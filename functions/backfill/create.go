package backfill

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

// maxSpecBytes bounds a POST /backfills body.
const maxSpecBytes = 1 << 20

// sampleSize is how many tasks a dry run shows.
const sampleSize = 10

// create handles POST /backfills.
func (s *Service) create(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !isJSON(r.Header.Get("Content-Type")) {
		writeError(w, http.StatusUnsupportedMediaType, "the body must be a JSON spec sent as Content-Type: application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSpecBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "the spec is over 1 MiB")
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	lim := s.cfg.Limits()
	lim.Now = s.now
	spec, err := backfill.ParseSpec(body, lim)
	if err != nil {
		var fe *backfill.FieldError
		if errors.As(err, &fe) {
			writeJSON(w, http.StatusBadRequest, ErrorResponse{Error: fe.Error(), Field: fe.Field})
			return
		}
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if spec.NewRun {
		spec.RunNonce = s.nonce()
	}
	plan, err := spec.Plan()
	if err != nil { // ParseSpec planned it already; this cannot fail, but say so if it does
		writeJSON(w, http.StatusBadRequest, ErrorResponse{Error: err.Error(), Field: spec.Source})
		return
	}
	if spec.DryRun {
		writeJSON(w, http.StatusOK, DryRunResponse{JobID: plan.JobID, DryRun: true, Tasks: plan.Tasks, APICalls: plan.APICalls,
			Units: plan.Units, Sample: plan.Sample(sampleSize), Chunks: plan.Chunks})
		return
	}

	job := backfill.NewJob(spec, plan)
	created, existing, err := s.store.CreateJob(ctx, job)
	if err != nil {
		s.storeError(w, r, job.ID, err)
		return
	}
	if !created {
		job = existing
	}
	log := s.log.With("job_id", job.ID)
	st, err := s.store.Status(ctx, job.ID)
	if err != nil {
		s.storeError(w, r, job.ID, err)
		return
	}
	// A job whose enqueueing was cut short (a failed request, a crash) is finished by posting
	// its spec again: task names are derived from job and index, so nothing is created twice.
	if created || (st.State == backfill.JobPlanning && !job.Cancelled) {
		log.InfoContext(ctx, "enqueueing backfill job", "created", created, "planned", plan.Tasks, "enqueued", st.Counts.Enqueued)
		res, kind, err := s.enqueueJob(ctx, plan)
		if err != nil {
			log.ErrorContext(ctx, "enqueueing backfill job", "error", err, "created", res.Created)
			writeJSON(w, http.StatusServiceUnavailable, ErrorResponse{
				Error: "the job was created but enqueueing its tasks failed; POST the same spec again to resume: " + err.Error(), JobID: job.ID})
			return
		}
		log.InfoContext(ctx, "enqueued backfill job", "kind", kind, "created", res.Created, "already_existed", res.AlreadyExisted)
		if st, err = s.store.Status(ctx, job.ID); err != nil {
			s.storeError(w, r, plan.JobID, err)
			return
		}
	}
	status := http.StatusOK
	if created {
		status = http.StatusAccepted
	}
	writeJSON(w, status, CreateResponse{JobID: job.ID, Created: created, PlannedTasks: job.Planned, APICalls: job.APICallsEstimate,
		Enqueued: st.Counts.Enqueued, StatusURL: s.statusURL(job.ID), State: st.State})
}

// isJSON reports whether a Content-Type is JSON: application/json or a +json type.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}
