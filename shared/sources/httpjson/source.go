// Package httpjson is the http_json (any paginated JSON API) backfill source: its spec section, validation, plan, task
// bodies and rows (the backfill.Source contract), registered in shared/backfill/sourceset.
//
// Reference: docs/sources.md.
package httpjson

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// Name is the http_json source's name.
const Name = "http_json"

// Source is http_json on the Source contract: one paginated fetch per combination of
// params, streamed page by page by the worker.
type Source struct{}

type param struct {
	name   string
	values []string
}

func (Source) Name() string    { return Name }
func (Source) TaskKey() string { return Name }

func (Source) NewSection() any { return &HTTPJSONSpec{} }
func (Source) Validate(section any, lim backfill.Limits) *backfill.FieldError {
	return section.(*HTTPJSONSpec).validate(policy(lim.Settings[Name], lim.AllowPrivateHosts))
}

func (Source) Task(p *backfill.Plan, t *backfill.TaskSpec) { httpJSONTask(p, t) }

func (Source) CheckTask(t backfill.TaskSpec) error {
	var r HTTPJSONRequest
	return backfill.Request(t, &r, "an http_json request")
}

// Rows keeps each record as it is.
func (Source) Rows(t backfill.TaskSpec, r *sources.Result, at time.Time) []backfill.Row {
	return backfill.RecordRows(t, r.Records, 0, at)
}

func (Source) Plan(section any, p *backfill.Plan) error {
	h := section.(*HTTPJSONSpec)
	p.Units = 1
	var params []param
	for _, name := range sortedKeys(h.Params) {
		values := h.Params[name]
		params = append(params, param{name: name, values: values})
		if p.Units > 1<<40/max(len(values), 1) {
			return fmt.Errorf("the job would create more than %d tasks", 1<<40)
		}
		p.Units *= len(values)
	}
	p.State = params
	p.Tasks = p.Units
	return nil
}

func (Source) Example() []byte {
	return []byte(`{"source":"http_json","http_json":{"url":"https://api.example.com/v1/items?lang={lang}","params":{"lang":["en","fr"]},"records_path":"data.items","pagination":{"type":"cursor","cursor_path":"paging.cursor","cursor_param":"cursor"}}}`)
}

func httpJSONTask(p *backfill.Plan, t *backfill.TaskSpec) {
	h := p.Section().(*HTTPJSONSpec)
	params := p.State.([]param)
	chosen := make(map[string]string, len(params))
	rest := t.Index
	for i := len(params) - 1; i >= 0; i-- {
		vs := params[i].values
		chosen[params[i].name] = vs[rest%len(vs)]
		rest /= len(vs)
	}
	req := &HTTPJSONRequest{
		URL:         fillURL(h.URL, chosen),
		Headers:     maps.Clone(h.Headers),
		RecordsPath: h.RecordsPath,
		Secrets:     slices.Clone(h.Secrets),
	}
	if pg := h.Pagination; pg != nil {
		req.Pagination = Pagination{Type: pg.Type, NextPath: pg.NextPath, CursorPath: pg.CursorPath,
			CursorParam: pg.CursorParam, PageParam: pg.PageParam, StartPage: pg.StartPage, MaxPages: pg.MaxPages}
	}
	backfill.SetRequest(t, req)
	t.Shard = "url"
	if len(chosen) > 0 {
		v := url.Values{}
		for name, value := range chosen {
			v.Set(name, value)
		}
		t.Shard = v.Encode()
	}
}

// fillURL replaces each {name} with its value, escaped for where it stands: path escaping
// before the '?', query escaping after it.
func fillURL(tmpl string, values map[string]string) string {
	query := strings.IndexByte(tmpl, '?')
	var b strings.Builder
	last := 0
	for _, m := range placeholderPattern.FindAllStringSubmatchIndex(tmpl, -1) {
		b.WriteString(tmpl[last:m[0]])
		v := values[tmpl[m[2]:m[3]]]
		if query >= 0 && m[0] > query {
			b.WriteString(url.QueryEscape(v))
		} else {
			b.WriteString(url.PathEscape(v))
		}
		last = m[1]
	}
	b.WriteString(tmpl[last:])
	return b.String()
}

// largestHTTPJSONTask is the http_json task made of each param's longest value as it is
// encoded: escaped into the URL (path or query escaping, once per placeholder) and into the
// shard name, then JSON-escaped. Each param's values add to the body independently, so the
// longest of each makes the largest task; its index is the last task's, which only the shard
// number shows.
func (Source) LargestTask(p *backfill.Plan) backfill.TaskSpec {
	tmpl := p.Section().(*HTTPJSONSpec).URL
	params := p.State.([]param)
	query := len(tmpl)
	for i := range tmpl {
		if tmpl[i] == '?' {
			query = i
			break
		}
	}
	chosen := make([]int, len(params))
	for i, prm := range params {
		best := -1
		for j, v := range prm.values {
			cost := jsonLen(url.QueryEscape(v)) // in the shard name
			for _, m := range placeholderPattern.FindAllStringSubmatchIndex(tmpl, -1) {
				if tmpl[m[2]:m[3]] != prm.name {
					continue
				}
				if m[0] > query {
					cost += jsonLen(url.QueryEscape(v))
				} else {
					cost += jsonLen(url.PathEscape(v))
				}
			}
			if cost > best {
				best, chosen[i] = cost, j
			}
		}
	}
	// The index whose mixed-radix digits are the chosen values (httpJSONTask's decoding).
	index := 0
	for i, prm := range params {
		index = index*len(prm.values) + chosen[i]
	}
	t := backfill.TaskSpec{JobID: p.JobID, Index: index, Source: p.Source}
	httpJSONTask(p, &t)
	t.Index = p.Tasks - 1 // the widest index number, whatever the task
	return t
}

// jsonLen is how many bytes s takes as a JSON string's contents.
func jsonLen(s string) int {
	b, _ := json.Marshal(s)
	return len(b) - 2
}

// HTTPJSONSpec selects a plain JSON API: one paginated fetch per combination of Params.
type HTTPJSONSpec struct {
	URL         string              `json:"url"`
	Params      map[string][]string `json:"params,omitempty"`
	RecordsPath string              `json:"records_path,omitempty"`
	Pagination  *PaginationSpec     `json:"pagination,omitempty"`
	Headers     map[string]string   `json:"headers,omitempty"`
	// Secrets are the credentials the worker adds to every request, named by Secret Manager
	// resource: a spec never holds a credential's value.
	Secrets []SecretRef `json:"secrets,omitempty"`
}

// SecretRef names a credential by Secret Manager resource and says where requests carry it:
// {"header": "Authorization", "prefix": "Bearer ", "secret": "projects/P/secrets/S"} or
// {"query": "appid", "secret": "projects/P/secrets/S/versions/3"} (no version means latest).
type SecretRef = Credential

// PaginationSpec says how an http_json fetch finds its next page.
type PaginationSpec struct {
	Type        string `json:"type,omitempty"`
	NextPath    string `json:"next_path,omitempty"`
	CursorPath  string `json:"cursor_path,omitempty"`
	CursorParam string `json:"cursor_param,omitempty"`
	PageParam   string `json:"page_param,omitempty"`
	StartPage   int    `json:"start_page,omitempty"`
	MaxPages    int    `json:"max_pages,omitempty"`
}
