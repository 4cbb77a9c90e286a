package runbackfilltask

import "testing"

// FuzzParseTask feeds task bodies to the worker's parser: it never panics, and a body it calls
// named has what an outcome is recorded under (a job, a shard and an index of at least 0).
func FuzzParseTask(f *testing.F) {
	f.Add([]byte(`{"job_id":"bf-0123456789abcdef","shard":"id=1","index":0,"source":"http_json","http_json":{"URL":"https://api.example.com/1"}}`))
	f.Add([]byte(`{"job_id":"bf-0123456789abcdef","shard":"video=a/2024-01-01..2024-01-01","index":3,"source":"youtube_analytics","youtube":{"IDs":"channel==MINE"}}`))
	f.Add([]byte(`{"job_id":"bf-1","shard":"s","index":-1}`))
	f.Add([]byte(`{"job_id":"bf-1","shard":"s","index":1,"source":"http_json","http_json":[]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, body []byte) {
		task, named, err := parseTask(body)
		if named && (task.JobID == "" || task.Shard == "" || task.Index < 0) {
			t.Errorf("parseTask(%s) = named with job %q shard %q index %d", body, task.JobID, task.Shard, task.Index)
		}
		if !named && err == nil {
			t.Errorf("parseTask(%s) = not named and no error", body)
		}
		if err == nil && len(task.Request) == 0 {
			t.Errorf("parseTask(%s) accepted a task with no query", body)
		}
	})
}
