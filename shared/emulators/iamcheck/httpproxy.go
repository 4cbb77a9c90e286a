package iamcheck

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// serveHTTP answers the HTTP/1.1 side of the port: BigQuery's REST API, checked and forwarded,
// and the Cloud Tasks server's public JWKS, forwarded unchecked (Google's certificate endpoints
// are public, so IAM never checks them).
func (p *Proxy) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/" && r.Method == http.MethodGet:
		// The emulators answer "Ok" here; so gcloudemu.Ping works against a proxy too.
		w.Write([]byte("Ok\n"))
	case strings.HasPrefix(r.URL.Path, "/bigquery/v2/") || strings.HasPrefix(r.URL.Path, "/upload/bigquery/v2/"):
		p.serveBigQuery(w, r)
	case r.URL.Path == "/oauth2/v3/certs" && p.jwks != nil:
		p.jwks.ServeHTTP(w, r)
	default:
		writeRESTError(w, http.StatusNotFound, "NOT_FOUND", "notFound", "iamcheck: "+r.Method+" "+r.URL.Path+" is not a path this proxy forwards")
	}
}

func (p *Proxy) serveBigQuery(w http.ResponseWriter, r *http.Request) {
	if p.bigquery == nil {
		writeRESTError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "backendError", "iamcheck: BigQuery REST needs the bigquery upstream, which Config.Upstreams does not name")
		return
	}
	if !p.cfg.Disabled {
		op, needs, ok := restNeeds(r.Method, r.URL.Path)
		switch {
		case !ok && p.strict:
			de := p.refuseUnknown(r.Method + " " + r.URL.Path).(*DeniedError)
			de.WriteHTTP(w)
			return
		case ok:
			if err := p.decide(op, BigQuery, needs); err != nil {
				err.(*DeniedError).WriteHTTP(w)
				return
			}
		}
	}
	p.bigquery.ServeHTTP(w, r)
}

// noteJob remembers the jobs created through the proxy: their creator may read and cancel them
// without bigquery.jobs.get (see need.byCreator).
func (p *Proxy) noteJob(resp *http.Response) error {
	req := resp.Request
	if resp.StatusCode != http.StatusOK || req.Method != http.MethodPost || resp.Header.Get("Content-Encoding") != "" {
		return nil
	}
	op, _, _ := restNeeds(req.Method, req.URL.Path)
	if op != "bigquery.jobs.insert" && op != "bigquery.jobs.query" {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return err
	}
	var v struct {
		JobReference struct {
			ProjectID string `json:"projectId"`
			JobID     string `json:"jobId"`
		} `json:"jobReference"`
	}
	if json.Unmarshal(body, &v) == nil && v.JobReference.JobID != "" && v.JobReference.ProjectID != "" {
		p.mu.Lock()
		p.jobs["projects/"+v.JobReference.ProjectID+"/jobs/"+v.JobReference.JobID] = true
		p.mu.Unlock()
	}
	return nil
}

func (p *Proxy) createdJob(resource string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.jobs[resource]
}
