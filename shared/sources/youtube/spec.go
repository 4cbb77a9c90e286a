package youtube

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

// earliestDate bounds start: YouTube has no data before it launched in 2005, and the bound
// keeps a typo like 0024-01-01 from planning 730,000 days.
var earliestDate = time.Date(2005, 1, 1, 0, 0, 0, 0, time.UTC)

var (
	videoIDPattern  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	channelPattern  = regexp.MustCompile(`^(MINE|UC[A-Za-z0-9_-]{1,64})$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

func (y *YouTubeSpec) validate(now time.Time) *backfill.FieldError {
	const p = Name + "."
	switch {
	case y.VideoIDs != nil && y.Channel != "":
		return backfill.FieldErrorf(p+"channel", "give video_ids or channel, not both (video queries use channel==MINE)")
	case y.VideoIDs == nil && y.Channel == "":
		return backfill.FieldErrorf(p+"video_ids", "missing: give video_ids or channel")
	case y.VideoIDs != nil && len(y.VideoIDs) == 0:
		return backfill.FieldErrorf(p+"video_ids", "is empty")
	}
	for i, id := range y.VideoIDs {
		if !videoIDPattern.MatchString(id) {
			return backfill.FieldErrorf(fmt.Sprintf("%svideo_ids[%d]", p, i), "%q is not a video id", id)
		}
	}
	ids, dup := backfill.SortedUnique(y.VideoIDs)
	if dup >= 0 {
		return backfill.FieldErrorf(fmt.Sprintf("%svideo_ids[%d]", p, dup), "%q is listed twice", y.VideoIDs[dup])
	}
	if y.VideoIDs != nil {
		y.VideoIDs = ids
	}
	if y.Channel != "" && !channelPattern.MatchString(y.Channel) {
		return backfill.FieldErrorf(p+"channel", "%q is neither MINE nor a channel id (UC...)", y.Channel)
	}

	if len(y.Metrics) == 0 {
		return backfill.FieldErrorf(p+"metrics", "is empty")
	}
	for i, m := range y.Metrics {
		if !youTubeMetrics[m] {
			return backfill.FieldErrorf(fmt.Sprintf("%smetrics[%d]", p, i), "unknown YouTube Analytics metric %q", m)
		}
	}
	metrics, dup := backfill.SortedUnique(y.Metrics)
	if dup >= 0 {
		return backfill.FieldErrorf(fmt.Sprintf("%smetrics[%d]", p, dup), "%q is listed twice", y.Metrics[dup])
	}
	y.Metrics = metrics

	for i, d := range y.Dimensions {
		f := fmt.Sprintf("%sdimensions[%d]", p, i)
		if _, ok := youTubeDimensions[d]; !ok {
			return backfill.FieldErrorf(f, "unknown YouTube Analytics dimension %q", d)
		}
		if d == "month" {
			// Every chunk asks for daily rows (day is added), and the API takes one time dimension.
			return backfill.FieldErrorf(f, `"month" cannot be combined with the daily rows a backfill collects; aggregate months from the days`)
		}
	}
	dims, dup := backfill.SortedUnique(y.Dimensions)
	if dup >= 0 {
		return backfill.FieldErrorf(fmt.Sprintf("%sdimensions[%d]", p, dup), "%q is listed twice", y.Dimensions[dup])
	}
	if !slices.Contains(dims, "day") {
		dims = append(dims, "day")
		slices.Sort(dims)
	}
	y.Dimensions = dims

	if fe := backfill.ValidateDates(p, y.Start, y.End, earliestDate, ": YouTube has no data that old", now); fe != nil {
		return fe
	}
	if fe := backfill.ValidateChunk(p, &y.Chunk); fe != nil {
		return fe
	}
	if y.Currency != "" && !currencyPattern.MatchString(y.Currency) {
		return backfill.FieldErrorf(p+"currency", "%q is not an ISO 4217 currency code such as USD", y.Currency)
	}
	return nil
}
