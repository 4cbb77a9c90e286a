package bqemulator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	bq "google.golang.org/api/bigquery/v2"
)

// job is a finished query job and its results, held in memory.
type job struct {
	meta   *bq.Job
	schema *bq.TableSchema
	rows   []map[string]any
	err    *apiError
}

type jobStore struct {
	mu   sync.Mutex
	jobs map[string]*job // key: project/jobId
}

func newJobStore() *jobStore { return &jobStore{jobs: map[string]*job{}} }

func (js *jobStore) get(project, id string) (*job, error) {
	js.mu.Lock()
	defer js.mu.Unlock()
	j, ok := js.jobs[project+"/"+id]
	if !ok {
		return nil, errNotFound("Job %s:US.%s", project, id)
	}
	return j, nil
}

func (js *jobStore) add(project, id string, j *job) error {
	js.mu.Lock()
	defer js.mu.Unlock()
	if _, ok := js.jobs[project+"/"+id]; ok {
		return errDuplicate("Job %s:US.%s", project, id)
	}
	js.jobs[project+"/"+id] = j
	return nil
}

func newJobID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "job_" + hex.EncodeToString(b)
}

// queryJobRequest is what jobs.insert and jobs.query have in common.
type queryJobRequest struct {
	project   string
	jobID     string
	config    *bq.JobConfigurationQuery
	params    []queryParam
	legacySQL bool
	dryRun    bool
	labels    map[string]string
}

// runQueryJob runs a query to completion and records it as a job.
func (s *Server) runQueryJob(ctx context.Context, req queryJobRequest) (*job, error) {
	start := s.now()
	if req.jobID == "" {
		req.jobID = newJobID()
	}
	cfg := req.config
	meta := &bq.Job{
		Kind:         "bigquery#job",
		Id:           fmt.Sprintf("%s:US.%s", req.project, req.jobID),
		JobReference: &bq.JobReference{ProjectId: req.project, JobId: req.jobID, Location: "US"},
		Configuration: &bq.JobConfiguration{
			JobType: "QUERY", Query: cfg, DryRun: req.dryRun, Labels: req.labels,
		},
		SelfLink:  s.Endpoint() + "projects/" + req.project + "/jobs/" + req.jobID,
		UserEmail: "emulator@localhost",
		Status:    &bq.JobStatus{State: "DONE"},
	}
	j := &job{meta: meta}
	schema, rows, stmt, err := s.execQuery(ctx, req)
	end := s.now()
	meta.Statistics = &bq.JobStatistics{
		CreationTime: start.UnixMilli(), StartTime: start.UnixMilli(), EndTime: end.UnixMilli(),
		Query: &bq.JobStatistics2{StatementType: stmt, Schema: schema, TotalBytesProcessed: 0, CacheHit: false},
	}
	if err != nil {
		ae := toAPIError(err)
		j.err = ae
		meta.Status.ErrorResult = &bq.ErrorProto{Reason: ae.reason, Message: ae.message, Location: "query"}
		meta.Status.Errors = []*bq.ErrorProto{meta.Status.ErrorResult}
	} else {
		j.schema, j.rows = schema, rows
		if cfg.DestinationTable != nil && !req.dryRun {
			if err := s.writeDestination(ctx, cfg, schema, rows); err != nil {
				ae := toAPIError(err)
				j.err = ae
				meta.Status.ErrorResult = &bq.ErrorProto{Reason: ae.reason, Message: ae.message}
				meta.Status.Errors = []*bq.ErrorProto{meta.Status.ErrorResult}
			}
		}
	}
	if req.dryRun {
		return j, nil
	}
	if err := s.jobs.add(req.project, req.jobID, j); err != nil {
		return nil, err
	}
	return j, nil
}

// execQuery translates and runs (or, for dry runs, only plans) a query.
func (s *Server) execQuery(ctx context.Context, req queryJobRequest) (*bq.TableSchema, []map[string]any, string, error) {
	if req.legacySQL {
		return nil, nil, "", errUnsupported("Legacy SQL (set useLegacySql=false)")
	}
	opts := translateOptions{defaultProject: req.project, params: req.params}
	if d := req.config.DefaultDataset; d != nil {
		opts.defaultDataset = d.DatasetId
		if d.ProjectId != "" {
			opts.defaultProject = d.ProjectId
		}
	}
	tr, err := s.translate(req.config.Query, opts)
	if err != nil {
		return nil, nil, "", err
	}
	s.logger.Debug("translated query", "bigquery", req.config.Query, "duckdb", tr.sql)
	if req.dryRun {
		schema, err := describeQuery(ctx, s.db, tr.sql)
		if err != nil {
			return nil, nil, "", queryError(err)
		}
		return schema, nil, tr.statementType, nil
	}
	schema, rows, err := s.runSQL(ctx, tr.sql)
	if err != nil {
		return nil, nil, "", queryError(err)
	}
	return schema, rows, tr.statementType, nil
}

// runSQL runs DuckDB SQL and returns its BigQuery schema and canonical rows.
func (s *Server) runSQL(ctx context.Context, query string) (*bq.TableSchema, []map[string]any, error) {
	rs, err := s.db.QueryContext(ctx, query)
	if err != nil {
		return nil, nil, err
	}
	defer rs.Close()
	cts, err := rs.ColumnTypes()
	if err != nil {
		return nil, nil, err
	}
	schema := &bq.TableSchema{}
	seen := map[string]bool{}
	for i, ct := range cts {
		f, err := fieldFromDuckType(resultColumnName(ct.Name(), i), ct.DatabaseTypeName())
		if err != nil {
			return nil, nil, err
		}
		if seen[strings.ToLower(f.Name)] {
			return nil, nil, errInvalidQuery("Duplicate column names in the result are not supported. Found duplicate(s): %s", f.Name)
		}
		seen[strings.ToLower(f.Name)] = true
		schema.Fields = append(schema.Fields, f)
	}
	vals := make([]any, len(cts))
	ptrs := make([]any, len(cts))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var rows []map[string]any
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		row := make(map[string]any, len(cts))
		for i, f := range schema.Fields {
			row[f.Name] = fromDuck(f, vals[i])
		}
		rows = append(rows, row)
	}
	return schema, rows, rs.Err()
}

// queryError turns a DuckDB error into BigQuery's invalidQuery.
func queryError(err error) error {
	if _, ok := err.(*apiError); ok {
		return err
	}
	msg := cleanDuckError(err)
	if strings.Contains(msg, "Scalar Function with name") || strings.Contains(msg, "Function with name") {
		return errInvalidQuery("Function not found (or not supported by this emulator): %s", msg)
	}
	return errInvalidQuery("%s", msg)
}

// writeDestination stores query results into configuration.query.destinationTable.
func (s *Server) writeDestination(ctx context.Context, cfg *bq.JobConfigurationQuery, schema *bq.TableSchema, rows []map[string]any) error {
	d := cfg.DestinationTable
	t, err := s.cat.table(d.ProjectId, d.DatasetId, d.TableId)
	switch {
	case isNotFound(err) && cfg.CreateDisposition != "CREATE_NEVER":
		fields, err := normalizeFields(schema.Fields, "")
		if err != nil {
			return err
		}
		if _, err := s.insertTableMeta(ctx, &bq.Table{TableReference: &bq.TableReference{ProjectId: d.ProjectId, DatasetId: d.DatasetId, TableId: d.TableId}, Schema: &bq.TableSchema{Fields: fields}}); err != nil {
			return err
		}
		if t, err = s.cat.table(d.ProjectId, d.DatasetId, d.TableId); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		switch cfg.WriteDisposition {
		case "WRITE_TRUNCATE":
			s.writeMu.Lock()
			_, err := s.db.ExecContext(ctx, `DELETE FROM `+duckTable(d.ProjectId, d.DatasetId, d.TableId))
			s.writeMu.Unlock()
			if err != nil {
				return fmt.Errorf("truncating destination table: %w", err)
			}
		case "WRITE_APPEND":
		default:
			return errDuplicate("Table %s:%s.%s (writeDisposition WRITE_EMPTY)", d.ProjectId, d.DatasetId, d.TableId)
		}
	}
	return s.appendRows(ctx, t, rows)
}

// page returns rows [start, start+max) encoded for REST, and the next page token.
func (j *job) page(start, max int64, int64TS bool) ([]*bq.TableRow, string) {
	total := int64(len(j.rows))
	if start > total {
		start = total
	}
	end := total
	if max >= 0 && start+max < total {
		end = start + max
	}
	rows := encodeRows(j.schema.Fields, j.rows[start:end], int64TS)
	tok := ""
	if end < total {
		tok = strconv.FormatInt(end, 10)
	}
	return rows, tok
}

type jobRequestBody struct {
	Configuration struct {
		Query *struct {
			UseLegacySQL    *bool      `json:"useLegacySql"`
			QueryParameters []rawParam `json:"queryParameters"`
		} `json:"query"`
	} `json:"configuration"`
}

func (s *Server) handleJobInsert(w http.ResponseWriter, r *http.Request) (any, error) {
	project := r.PathValue("project")
	var raw json.RawMessage
	if err := decodeBody(r, &raw, false); err != nil {
		return nil, err
	}
	var jb bq.Job
	if err := json.Unmarshal(raw, &jb); err != nil {
		return nil, errInvalid("Invalid job resource: %v", err)
	}
	var extra jobRequestBody
	json.Unmarshal(raw, &extra)
	cfg := jb.Configuration
	switch {
	case cfg == nil:
		return nil, errInvalid("Job configuration is required")
	case cfg.Load != nil:
		return nil, errUnsupported("Load jobs")
	case cfg.Copy != nil:
		return nil, errUnsupported("Copy jobs")
	case cfg.Extract != nil:
		return nil, errUnsupported("Extract jobs")
	case cfg.Query == nil:
		return nil, errInvalid("Job configuration must contain a query")
	}
	req := queryJobRequest{project: project, config: cfg.Query, dryRun: cfg.DryRun, labels: cfg.Labels}
	if jb.JobReference != nil {
		req.jobID = jb.JobReference.JobId
	}
	if q := extra.Configuration.Query; q != nil {
		// REST's default for jobs.insert is legacy SQL; the Go client always sends false.
		req.legacySQL = q.UseLegacySQL != nil && *q.UseLegacySQL
		req.params = toQueryParams(q.QueryParameters)
	}
	j, err := s.runQueryJob(r.Context(), req)
	if err != nil {
		return nil, err
	}
	return j.meta, nil
}

func (s *Server) handleJobGet(w http.ResponseWriter, r *http.Request) (any, error) {
	j, err := s.jobs.get(r.PathValue("project"), r.PathValue("job"))
	if err != nil {
		return nil, err
	}
	return j.meta, nil
}

func (s *Server) handleJobCancel(w http.ResponseWriter, r *http.Request) (any, error) {
	j, err := s.jobs.get(r.PathValue("project"), r.PathValue("job"))
	if err != nil {
		return nil, err
	}
	// Jobs finish before jobs.insert returns, so there is nothing to cancel.
	return &bq.JobCancelResponse{Kind: "bigquery#jobCancelResponse", Job: j.meta}, nil
}

func (s *Server) handleJobDelete(w http.ResponseWriter, r *http.Request) (any, error) {
	project, id := r.PathValue("project"), r.PathValue("job")
	if _, err := s.jobs.get(project, id); err != nil {
		return nil, err
	}
	s.jobs.mu.Lock()
	delete(s.jobs.jobs, project+"/"+id)
	s.jobs.mu.Unlock()
	return nil, nil
}

func (s *Server) handleJobList(w http.ResponseWriter, r *http.Request) (any, error) {
	project := r.PathValue("project")
	s.jobs.mu.Lock()
	var list []*bq.JobListJobs
	for k, j := range s.jobs.jobs {
		if !strings.HasPrefix(k, project+"/") {
			continue
		}
		m := j.meta
		list = append(list, &bq.JobListJobs{Id: m.Id, Kind: m.Kind, JobReference: m.JobReference, Configuration: m.Configuration, Status: m.Status, Statistics: m.Statistics, State: m.Status.State, ErrorResult: m.Status.ErrorResult, UserEmail: m.UserEmail})
	}
	s.jobs.mu.Unlock()
	sort.Slice(list, func(a, b int) bool { return list[a].Statistics.CreationTime > list[b].Statistics.CreationTime })
	return &bq.JobList{Kind: "bigquery#jobList", Jobs: list}, nil
}

func (s *Server) handleGetQueryResults(w http.ResponseWriter, r *http.Request) (any, error) {
	j, err := s.jobs.get(r.PathValue("project"), r.PathValue("job"))
	if err != nil {
		return nil, err
	}
	if j.err != nil {
		return nil, j.err
	}
	start, _, err := queryInt(r, "startIndex")
	if err != nil {
		return nil, err
	}
	if tok := r.URL.Query().Get("pageToken"); tok != "" {
		n, err := strconv.ParseInt(tok, 10, 64)
		if err != nil || n < 0 {
			return nil, errInvalid("Invalid page token %q", tok)
		}
		start = n
	}
	max, hasMax, err := queryInt(r, "maxResults")
	if err != nil {
		return nil, err
	}
	if !hasMax {
		max = 100000
	}
	rows, tok := j.page(start, max, queryBool(r, "formatOptions.useInt64Timestamp"))
	return &bq.GetQueryResultsResponse{
		Kind:         "bigquery#getQueryResultsResponse",
		JobReference: j.meta.JobReference,
		Schema:       j.schema,
		Rows:         rows,
		PageToken:    tok,
		TotalRows:    uint64(len(j.rows)),
		JobComplete:  true,
		CacheHit:     false,
	}, nil
}

type queryRequestBody struct {
	UseLegacySQL    *bool      `json:"useLegacySql"`
	QueryParameters []rawParam `json:"queryParameters"`
}

func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request) (any, error) {
	project := r.PathValue("project")
	var raw json.RawMessage
	if err := decodeBody(r, &raw, false); err != nil {
		return nil, err
	}
	var qr bq.QueryRequest
	if err := json.Unmarshal(raw, &qr); err != nil {
		return nil, errInvalid("Invalid query request: %v", err)
	}
	var extra queryRequestBody
	json.Unmarshal(raw, &extra)
	cfg := &bq.JobConfigurationQuery{
		Query: qr.Query, DefaultDataset: qr.DefaultDataset, ParameterMode: qr.ParameterMode,
		QueryParameters: qr.QueryParameters, UseLegacySql: extra.UseLegacySQL, CreateSession: qr.CreateSession,
	}
	req := queryJobRequest{
		project: project, config: cfg, dryRun: qr.DryRun, labels: qr.Labels,
		// jobs.query defaults to Standard SQL... only when useLegacySql is false; BigQuery's REST default is legacy, but every modern client sends false.
		legacySQL: extra.UseLegacySQL != nil && *extra.UseLegacySQL,
		params:    toQueryParams(extra.QueryParameters),
	}
	if qr.RequestId != "" {
		req.jobID = "job_req_" + strings.ReplaceAll(qr.RequestId, "-", "")
		if existing, err := s.jobs.get(project, req.jobID); err == nil {
			return s.queryResponse(existing, qr), nil
		}
	}
	j, err := s.runQueryJob(r.Context(), req)
	if err != nil {
		return nil, err
	}
	if j.err != nil {
		return nil, j.err
	}
	return s.queryResponse(j, qr), nil
}

func (s *Server) queryResponse(j *job, qr bq.QueryRequest) *bq.QueryResponse {
	resp := &bq.QueryResponse{
		Kind:         "bigquery#queryResponse",
		JobReference: j.meta.JobReference,
		Schema:       j.schema,
		JobComplete:  true,
		TotalRows:    uint64(len(j.rows)),
	}
	if qr.DryRun {
		resp.TotalRows = 0
		return resp
	}
	max := int64(100000)
	if qr.MaxResults > 0 {
		max = qr.MaxResults
	}
	int64TS := qr.FormatOptions != nil && qr.FormatOptions.UseInt64Timestamp
	resp.Rows, resp.PageToken = j.page(0, max, int64TS)
	return resp
}
