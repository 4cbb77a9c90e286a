package bqemulator

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// routes maps BigQuery REST paths (as called by google.golang.org/api/bigquery/v2) to handlers.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	const p = "/bigquery/v2/projects/{project}"
	handle := func(pattern, method string, h func(w http.ResponseWriter, r *http.Request) (any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := s.faults.Check(method); err != nil {
				writeError(w, err)
				return
			}
			v, err := h(w, r)
			if err != nil {
				ae := toAPIError(err)
				if ae.code >= 500 {
					s.logger.Error("bigquery emulator request failed", "method", method, "path", r.URL.Path, "error", err)
				}
				writeError(w, ae)
				return
			}
			if v == nil {
				w.WriteHeader(http.StatusNoContent)
				return
			}
			writeJSON(w, v)
		})
	}
	handle("POST "+p+"/datasets", "datasets.insert", s.handleDatasetInsert)
	handle("GET "+p+"/datasets", "datasets.list", s.handleDatasetList)
	handle("GET "+p+"/datasets/{dataset}", "datasets.get", s.handleDatasetGet)
	handle("PATCH "+p+"/datasets/{dataset}", "datasets.patch", s.handleDatasetPatch)
	handle("PUT "+p+"/datasets/{dataset}", "datasets.update", s.handleDatasetPatch)
	handle("DELETE "+p+"/datasets/{dataset}", "datasets.delete", s.handleDatasetDelete)
	handle("POST "+p+"/datasets/{dataset}/tables", "tables.insert", s.handleTableInsert)
	handle("GET "+p+"/datasets/{dataset}/tables", "tables.list", s.handleTableList)
	handle("GET "+p+"/datasets/{dataset}/tables/{table}", "tables.get", s.handleTableGet)
	handle("PATCH "+p+"/datasets/{dataset}/tables/{table}", "tables.patch", s.handleTablePatch)
	handle("PUT "+p+"/datasets/{dataset}/tables/{table}", "tables.update", s.handleTablePatch)
	handle("DELETE "+p+"/datasets/{dataset}/tables/{table}", "tables.delete", s.handleTableDelete)
	handle("POST "+p+"/datasets/{dataset}/tables/{table}/insertAll", "tabledata.insertAll", s.handleInsertAll)
	handle("GET "+p+"/datasets/{dataset}/tables/{table}/data", "tabledata.list", s.handleTableDataList)
	handle("POST "+p+"/jobs", "jobs.insert", s.handleJobInsert)
	handle("GET "+p+"/jobs", "jobs.list", s.handleJobList)
	handle("GET "+p+"/jobs/{job}", "jobs.get", s.handleJobGet)
	handle("POST "+p+"/jobs/{job}/cancel", "jobs.cancel", s.handleJobCancel)
	handle("DELETE "+p+"/jobs/{job}/delete", "jobs.delete", s.handleJobDelete)
	handle("POST "+p+"/queries", "jobs.query", s.handleQuery)
	handle("GET "+p+"/queries/{job}", "jobs.getQueryResults", s.handleGetQueryResults)
	handle("POST /upload/bigquery/v2/projects/{project}/jobs", "jobs.insert", func(http.ResponseWriter, *http.Request) (any, error) {
		return nil, errUnsupported("Load jobs (media upload)")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{code: http.StatusNotFound, reason: "notFound", message: "Not found: " + r.Method + " " + r.URL.Path + " is not a BigQuery method served by this emulator"})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	enc := json.NewEncoder(w)
	if err := enc.Encode(v); err != nil {
		// The status line is already written; nothing more to tell the client.
		return
	}
}

// decodeBody decodes a JSON request body; numbers stay json.Number when useNumber.
func decodeBody(r *http.Request, v any, useNumber bool) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 100<<20))
	if useNumber {
		dec.UseNumber()
	}
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errInvalid("Required request body is missing")
		}
		return errInvalid("Invalid JSON payload received: %v", err)
	}
	return nil
}

func queryInt(r *http.Request, name string) (int64, bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, false, errInvalid("Invalid value for %s: %q", name, v)
	}
	return n, true, nil
}

func queryBool(r *http.Request, name string) bool {
	v := strings.ToLower(r.URL.Query().Get(name))
	return v == "true" || v == "1"
}
