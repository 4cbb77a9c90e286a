package ga4

import "github.com/pipelinekit/pipelinekit/shared/sources"

// Report is the GA4 propertyQuota in the generic shape, hourly and daily tokens first.
func (q *GA4Quota) Report() *sources.Quota {
	if q == nil {
		return nil
	}
	return &sources.Quota{Figures: []sources.NamedFigure{
		{Name: "tokens_per_hour", Consumed: q.TokensPerHour.Consumed, Remaining: q.TokensPerHour.Remaining},
		{Name: "tokens_per_day", Consumed: q.TokensPerDay.Consumed, Remaining: q.TokensPerDay.Remaining},
		{Name: "tokens_per_project_per_hour", Consumed: q.TokensPerProjectPerHour.Consumed, Remaining: q.TokensPerProjectPerHour.Remaining},
		{Name: "concurrent_requests", Consumed: q.ConcurrentRequests.Consumed, Remaining: q.ConcurrentRequests.Remaining},
		{Name: "server_errors_per_project_per_hour", Consumed: q.ServerErrorsPerProjectPerHour.Consumed, Remaining: q.ServerErrorsPerProjectPerHour.Remaining},
		{Name: "potentially_thresholded_requests_per_hour", Consumed: q.PotentiallyThresholdedRequestsPerHour.Consumed, Remaining: q.PotentiallyThresholdedRequestsPerHour.Remaining},
	}}
}
