package backfill

import (
	"encoding/json"
	"fmt"
)

// Period is an inclusive range of dates, YYYY-MM-DD.
type Period struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// TaskSpec is one task of a job, the body of the Cloud Task that RunBackfillTask receives:
// {"job_id", "shard", "index", "source", key: request}, where key and request are the source's
// (Source.TaskKey, Source.Task): the core carries the request without reading it.
type TaskSpec struct {
	JobID string `json:"job_id"`
	// Shard is the task's stable, readable name within the job, e.g.
	// "video=abc/2024-01-01..2024-01-01" or "id=1&lang=en".
	Shard  string `json:"shard"`
	Index  int    `json:"index"`
	Source string `json:"source"`
	// Request is the source's request for this task, opaque to the core.
	Request json.RawMessage `json:"-"`
}

// taskHead is a task body's fields the core reads.
type taskHead struct {
	JobID  string `json:"job_id"`
	Shard  string `json:"shard"`
	Index  int    `json:"index"`
	Source string `json:"source"`
}

// MarshalJSON writes the core's fields, then the request under the source's task key: the
// bytes tasks had when each source's request was a typed field, so bodies already queued and
// bodies made now are the same.
func (t TaskSpec) MarshalJSON() ([]byte, error) {
	head, err := json.Marshal(taskHead{t.JobID, t.Shard, t.Index, t.Source})
	if err != nil {
		return nil, err
	}
	if len(t.Request) == 0 {
		return head, nil
	}
	key := t.Source
	if src, ok := Lookup(t.Source); ok {
		key = src.TaskKey()
	}
	k, _ := json.Marshal(key)
	out := append(head[:len(head)-1:len(head)-1], ',')
	out = append(append(append(out, k...), ':'), t.Request...)
	return append(out, '}'), nil
}

// UnmarshalJSON reads a task body: the core's fields, and the request from the source's task
// key; any other field is refused (a task carries its own source's request and nothing else).
func (t *TaskSpec) UnmarshalJSON(b []byte) error {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	var head taskHead
	if err := json.Unmarshal(b, &head); err != nil {
		return err
	}
	*t = TaskSpec{JobID: head.JobID, Shard: head.Shard, Index: head.Index, Source: head.Source}
	key := ""
	if src, ok := Lookup(t.Source); ok {
		key = src.TaskKey()
	}
	for _, k := range sortedKeys(all) {
		switch {
		case k == "job_id" || k == "shard" || k == "index" || k == "source" || string(all[k]) == "null":
		case k == key:
			t.Request = all[k]
		default:
			return fmt.Errorf("a %s task carries %q, which is not its request (%q)", t.Source, k, key)
		}
	}
	return nil
}

// Ref returns the task's name in the job store.
func (t TaskSpec) Ref() ShardRef { return ShardRef{Index: t.Index, Shard: t.Shard} }

// ShardRef names a task in the job store: its index in the plan and its shard name.
type ShardRef struct {
	Index int
	Shard string
}

// Plan is a spec laid out as tasks. Tasks are addressed by index and computed on demand, so a
// job of a million tasks costs no memory here: expansion tasks carry [from, to) and call Task.
type Plan struct {
	JobID  string
	Source string
	// Tasks is how many tasks the job has.
	Tasks int
	// APICalls estimates the API calls: one per task (paginated fetches may make more).
	APICalls int
	// Units is how many independent things the source plans over (videos, parameter
	// combinations, ...; 1 when one).
	Units int
	// Chunks are the periods each unit is queried for, in order, when the source plans by date.
	Chunks []Period

	spec *Spec
	// State is what a source's Plan keeps for its Task.
	State any
}

// Section is the plan's spec section, as its source parsed it.
func (p *Plan) Section() any { return p.spec.Section }

// Plan lays the spec out as tasks through its source (Source.Plan), which says how task i is
// made (Source.Task).
func (s *Spec) Plan() (*Plan, error) {
	p := &Plan{JobID: s.ID(), Source: s.Source, spec: s}
	src, ok := Lookup(s.Source)
	if !ok || s.Section == nil {
		return nil, fmt.Errorf("spec has no %s section", s.Source)
	}
	if err := src.Plan(s.Section, p); err != nil {
		return nil, err
	}
	if p.APICalls == 0 {
		p.APICalls = p.Tasks
	}
	return p, nil
}

// Task returns task i, for 0 <= i < Tasks; it panics outside that range, like a slice.
func (p *Plan) Task(i int) TaskSpec {
	if i < 0 || i >= p.Tasks {
		panic(fmt.Sprintf("backfill: task index %d out of range [0, %d)", i, p.Tasks))
	}
	t := TaskSpec{JobID: p.JobID, Index: i, Source: p.Source}
	src, _ := Lookup(p.Source) // Plan checked it
	src.Task(p, &t)
	return t
}

// Sample returns the first n tasks (fewer when the plan is smaller), for dry_run answers.
func (p *Plan) Sample(n int) []TaskSpec {
	n = min(n, p.Tasks)
	out := make([]TaskSpec, 0, max(n, 0))
	for i := range n {
		out = append(out, p.Task(i))
	}
	return out
}

// Range is the tasks [From, To) of a plan, what one expansion task creates.
type Range struct {
	From int `json:"from"`
	To   int `json:"to"`
}

// Split cuts [0, Tasks) into consecutive ranges of at most size tasks.
func (p *Plan) Split(size int) []Range {
	size = max(size, 1)
	var out []Range
	for from := 0; from < p.Tasks; from += size {
		out = append(out, Range{From: from, To: min(from+size, p.Tasks)})
	}
	return out
}
