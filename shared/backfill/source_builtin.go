package backfill

import (
	"fmt"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// youTubeSource is youtube_analytics on the Source contract: the spec checks of spec_youtube.go,
// the date chunks of plan.go, one reports.query per task and Rows' typed report rows.
type youTubeSource struct{}

func (youTubeSource) Name() string                             { return SourceYouTube }
func (youTubeSource) HasSection(s *Spec) bool                  { return s.YouTube != nil }
func (youTubeSource) Validate(s *Spec, lim Limits) *FieldError { return s.YouTube.validate(lim.now()) }
func (youTubeSource) HasTask(t TaskSpec) bool                  { return t.YouTube != nil }
func (youTubeSource) Task(p *Plan, t *TaskSpec)                { p.youTubeTask(t) }
func (youTubeSource) CheckTask(t TaskSpec) error {
	return onlyTask(t, SourceYouTube, "a youtube query")
}
func (youTubeSource) Rows(t TaskSpec, r *sources.Result, at time.Time) []Row { return Rows(t, r, at) }

func (youTubeSource) Plan(s *Spec, p *Plan) error {
	chunks, err := s.YouTube.chunks()
	if err != nil {
		return err
	}
	p.Chunks = chunks
	p.Units = max(len(s.YouTube.VideoIDs), 1)
	p.Tasks = p.Units * len(chunks)
	return nil
}

func (youTubeSource) Example() []byte {
	end := time.Now().UTC().AddDate(0, 0, -3)
	return fmt.Appendf(nil, `{"source":"youtube_analytics","youtube_analytics":{"video_ids":["dQw4w9WgXcQ"],"metrics":["views","likes"],"start":%q,"end":%q}}`,
		end.AddDate(0, 0, -6).Format(dateLayout), end.Format(dateLayout))
}

// httpJSONSource is http_json on the Source contract: one paginated fetch per combination of
// params, streamed page by page by the worker.
type httpJSONSource struct{}

func (httpJSONSource) Name() string            { return SourceHTTPJSON }
func (httpJSONSource) HasSection(s *Spec) bool { return s.HTTPJSON != nil }
func (httpJSONSource) Validate(s *Spec, lim Limits) *FieldError {
	return s.HTTPJSON.validate(lim.Hosts)
}
func (httpJSONSource) HasTask(t TaskSpec) bool   { return t.HTTPJSON != nil }
func (httpJSONSource) Task(p *Plan, t *TaskSpec) { p.httpJSONTask(t) }
func (httpJSONSource) CheckTask(t TaskSpec) error {
	return onlyTask(t, SourceHTTPJSON, "an http_json request")
}
func (httpJSONSource) Rows(t TaskSpec, r *sources.Result, at time.Time) []Row { return Rows(t, r, at) }

func (httpJSONSource) Plan(s *Spec, p *Plan) error {
	p.Units = 1
	for _, name := range sortedKeys(s.HTTPJSON.Params) {
		values := s.HTTPJSON.Params[name]
		p.params = append(p.params, param{name: name, values: values})
		if p.Units > 1<<40/max(len(values), 1) {
			return fmt.Errorf("the job would create more than %d tasks", 1<<40)
		}
		p.Units *= len(values)
	}
	p.Tasks = p.Units
	return nil
}

func (httpJSONSource) Example() []byte {
	return []byte(`{"source":"http_json","http_json":{"url":"https://api.example.com/v1/items?lang={lang}","params":{"lang":["en","fr"]},"records_path":"data.items","pagination":{"type":"cursor","cursor_path":"paging.cursor","cursor_param":"cursor"}}}`)
}
