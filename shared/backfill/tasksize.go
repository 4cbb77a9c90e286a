package backfill

import (
	"encoding/json"
	"net/url"
)

// MaxTaskBodyBytes bounds the JSON body of a worker task. Cloud Tasks refuses a task over
// 100 KB, its URL, headers, name and OIDC settings included ("The maximum task size is 100KB",
// https://cloud.google.com/tasks/docs/quotas); 4 KiB of the 100 KB is left to those, which take
// a few hundred bytes. ParseSpec refuses a spec whose largest task is over it, so a job is never
// created with tasks that could not be enqueued.
const MaxTaskBodyBytes = 100*1024 - 4<<10

// largestTaskBytes is the encoded size of the plan's largest task body. Tasks differ only in
// the values a source picks per task; a source whose values vary in length (http_json's params)
// builds its largest task directly, so the check costs the same for a task or a million. Other
// sources' tasks differ only in dates, so the first and last task bound them.
func (p *Plan) largestTaskBytes() (int, error) {
	if p.Tasks == 0 {
		return 0, nil
	}
	candidates := []TaskSpec{p.Task(0), p.Task(p.Tasks - 1)}
	if p.spec != nil && p.spec.HTTPJSON != nil && len(p.params) > 0 {
		candidates = append(candidates, p.largestHTTPJSONTask())
	}
	most := 0
	for _, t := range candidates {
		b, err := json.Marshal(t)
		if err != nil {
			return 0, err
		}
		most = max(most, len(b))
	}
	return most, nil
}

// largestHTTPJSONTask is the http_json task made of each param's longest value as it is
// encoded: escaped into the URL (path or query escaping, once per placeholder) and into the
// shard name, then JSON-escaped. Each param's values add to the body independently, so the
// longest of each makes the largest task; its index is the last task's, which only the shard
// number shows.
func (p *Plan) largestHTTPJSONTask() TaskSpec {
	tmpl := p.spec.HTTPJSON.URL
	query := len(tmpl)
	for i := range tmpl {
		if tmpl[i] == '?' {
			query = i
			break
		}
	}
	chosen := make([]int, len(p.params))
	for i, prm := range p.params {
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
	for i, prm := range p.params {
		index = index*len(prm.values) + chosen[i]
	}
	t := TaskSpec{JobID: p.JobID, Index: index, Source: p.Source}
	p.httpJSONTask(&t)
	t.Index = p.Tasks - 1 // the widest index number, whatever the task
	return t
}

// jsonLen is how many bytes s takes as a JSON string's contents.
func jsonLen(s string) int {
	b, _ := json.Marshal(s)
	return len(b) - 2
}
