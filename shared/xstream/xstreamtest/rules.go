package xstreamtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/pipelinekit/pipelinekit/shared/xstream"
)

// Problem types X uses on the rules endpoint.
const (
	typeInvalidRules   = "https://api.twitter.com/2/problems/invalid-rules"
	typeDuplicateRules = "https://api.twitter.com/2/problems/duplicate-rules"
	typeInvalidRequest = "https://api.twitter.com/2/problems/invalid-request"
)

type wireRule struct {
	ID    string `json:"id,omitempty"`
	Value string `json:"value"`
	Tag   string `json:"tag,omitempty"`
}

type ruleError struct {
	Value   string   `json:"value"`
	ID      string   `json:"id,omitempty"`
	Details []string `json:"details,omitempty"`
	Title   string   `json:"title"`
	Type    string   `json:"type"`
}

func (s *Server) recordRules(r *http.Request, body []byte, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.RulesRequests = append(s.stats.RulesRequests, RulesRequest{
		Method: r.Method, DryRun: r.URL.Query().Get("dry_run") == "true", Body: string(body), Status: status,
	})
}

// statusRecorder remembers the status written, for recordRules.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (s *Server) handleGetRules(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() { s.recordRules(r, nil, rec.status) }()
	if !s.authorize(rec, r) {
		return
	}
	var ids []string
	if v := r.URL.Query().Get("ids"); v != "" {
		ids = strings.Split(v, ",")
	}
	s.mu.Lock()
	var data []wireRule
	for _, rule := range s.rules {
		if ids == nil || slices.Contains(ids, rule.ID) {
			data = append(data, wireRule{ID: rule.ID, Value: rule.Value, Tag: rule.Tag})
		}
	}
	s.mu.Unlock()
	resp := map[string]any{"meta": map[string]any{"sent": s.sent(), "result_count": len(data)}}
	if len(data) > 0 {
		resp["data"] = data // X omits "data" when there are no rules
	}
	writeJSON(rec, http.StatusOK, resp)
}

// invalidRequest writes X's 400 shape (recorded) naming one parameter.
func invalidRequest(w http.ResponseWriter, param, message string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"errors": []map[string]any{{"parameters": map[string][]string{param: {}}, "message": message}},
		"title":  "Invalid Request",
		"detail": "One or more parameters to your request was invalid.",
		"type":   typeInvalidRequest,
	})
}

func (s *Server) handlePostRules(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() { s.recordRules(r, body, rec.status) }()
	if !s.authorize(rec, r) {
		return
	}
	var req struct {
		Add    json.RawMessage `json:"add"`
		Delete json.RawMessage `json:"delete"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		invalidRequest(rec, "body", "JSON doesn't match expected schema")
		return
	}
	dryRun := r.URL.Query().Get("dry_run") == "true"
	switch {
	case req.Add != nil && req.Delete == nil:
		s.addRules(rec, req.Add, dryRun)
	case req.Delete != nil && req.Add == nil:
		s.deleteRules(rec, req.Delete, dryRun)
	default:
		invalidRequest(rec, "body", "JSON doesn't match expected schema")
	}
}

func (s *Server) addRules(w http.ResponseWriter, raw json.RawMessage, dryRun bool) {
	var add []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &add); err != nil || len(add) == 0 {
		invalidRequest(w, "add", "JSON doesn't match expected schema")
		return
	}
	rules := make([]xstream.Rule, len(add))
	for i, a := range add {
		// X's recorded answer to {"values": ...}: add.value is required.
		if err := json.Unmarshal(a["value"], &rules[i].Value); err != nil || rules[i].Value == "" {
			invalidRequest(w, "add.value", "field is required")
			return
		}
		if t, ok := a["tag"]; ok && !bytes.Equal(t, []byte("null")) {
			if err := json.Unmarshal(t, &rules[i].Tag); err != nil {
				invalidRequest(w, "add.tag", "JSON doesn't match expected schema")
				return
			}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	existing := make(map[string]string, len(s.rules)) // value -> id
	for _, r := range s.rules {
		existing[r.Value] = r.ID
	}
	var (
		data    []wireRule
		errs    []ruleError
		created []xstream.StoredRule
	)
	for _, r := range rules {
		if details := validateRule(r.Value); len(details) > 0 {
			errs = append(errs, ruleError{Value: r.Value, Details: details, Title: "UnprocessableEntity", Type: typeInvalidRules})
			continue
		}
		if id, dup := existing[r.Value]; dup {
			errs = append(errs, ruleError{Value: r.Value, ID: id, Title: "DuplicateRule", Type: typeDuplicateRules})
			continue
		}
		// X assigns ids on a dry run too (recorded), but keeps nothing.
		st := xstream.StoredRule{ID: s.newID(), Value: r.Value, Tag: r.Tag}
		existing[r.Value] = st.ID
		created = append(created, st)
		data = append(data, wireRule{ID: st.ID, Value: st.Value, Tag: st.Tag})
	}
	if !dryRun {
		s.rules = append(s.rules, created...)
	}
	resp := map[string]any{"meta": map[string]any{"sent": s.sent(), "summary": map[string]int{
		"created": len(created), "not_created": len(errs), "valid": len(created), "invalid": len(errs),
	}}}
	if len(data) > 0 {
		resp["data"] = data
	}
	if len(errs) > 0 {
		resp["errors"] = errs
	}
	status := http.StatusCreated
	if len(created) == 0 {
		status = http.StatusOK // recorded: an all-invalid add answers 200
	}
	writeJSON(w, status, resp)
}

func (s *Server) deleteRules(w http.ResponseWriter, raw json.RawMessage, dryRun bool) {
	// Recorded: {"delete":[{"ids":[...]}]} is a 400; X wants an object.
	var del struct {
		IDs    []string `json:"ids"`
		Values []string `json:"values"`
	}
	if err := json.Unmarshal(raw, &del); err != nil || (len(del.IDs) == 0 && len(del.Values) == 0) {
		invalidRequest(w, "delete", "JSON doesn't match expected schema")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var kept []xstream.StoredRule
	deleted := 0
	for _, r := range s.rules {
		if slices.Contains(del.IDs, r.ID) || slices.Contains(del.Values, r.Value) {
			deleted++
			continue
		}
		kept = append(kept, r)
	}
	if !dryRun {
		s.rules = kept
	}
	writeJSON(w, http.StatusOK, map[string]any{"meta": map[string]any{"sent": s.sent(), "summary": map[string]int{
		"deleted": deleted, "not_deleted": len(del.IDs) + len(del.Values) - deleted,
	}}})
}
