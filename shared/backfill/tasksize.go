package backfill

import (
	"encoding/json"
)

// MaxTaskBodyBytes bounds the JSON body of a worker task. Cloud Tasks refuses a task over
// 100 KB, its URL, headers, name and OIDC settings included ("The maximum task size is 100KB",
// https://cloud.google.com/tasks/docs/quotas); 4 KiB of the 100 KB is left to those, which take
// a few hundred bytes. ParseSpec refuses a spec whose largest task is over it, so a job is never
// created with tasks that could not be enqueued.
const MaxTaskBodyBytes = 100*1024 - 4<<10

// largestTaskBytes is the encoded size of the plan's largest task body. Tasks differ only in
// the values a source picks per task; a source whose values vary in length (http_json's params)
// builds its largest task directly (LargestTasker), so the check costs the same for a task or a
// million. Other sources' tasks differ only in dates, so the first and last task bound them.
func (p *Plan) largestTaskBytes() (int, error) {
	if p.Tasks == 0 {
		return 0, nil
	}
	candidates := []TaskSpec{p.Task(0), p.Task(p.Tasks - 1)}
	if src, ok := Lookup(p.Source); ok {
		if lt, ok := src.(LargestTasker); ok {
			candidates = append(candidates, lt.LargestTask(p))
		}
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
