package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

// barWidth is the number of cells between the progress bar's brackets.
const barWidth = 18

// shardsShown is how many shard names the summary lists per failure reason.
const shardsShown = 3

// finished counts the tasks that will not run again, as the server's state and rate do.
func finished(c backfill.Counts) int { return c.Succeeded + c.Failed + c.Cancelled }

// progressLine renders a status as one line:
//
//	[#########.........]  48%  70,080/146,000 done  12 failed  310 retrying  512.3 tasks/s  ETA 2m28s
func progressLine(s *backfill.Status) string {
	c := s.Counts
	done := finished(c)
	pct, fill := 0, 0
	if c.Planned > 0 {
		pct = min(done*100/c.Planned, 100)
		// Rounded to the nearest cell, but never full before the job is.
		fill = min((done*barWidth*2+c.Planned)/(2*c.Planned), barWidth)
		if done < c.Planned {
			fill = min(fill, barWidth-1)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%s%s] %3d%%  %s/%s done  %s failed  %s retrying",
		strings.Repeat("#", fill), strings.Repeat(".", barWidth-fill), pct,
		commas(done), commas(c.Planned), commas(c.Failed), commas(c.Retrying))
	if c.Cancelled > 0 {
		fmt.Fprintf(&b, "  %s cancelled", commas(c.Cancelled))
	}
	fmt.Fprintf(&b, "  %.1f tasks/s", s.RatePerSec)
	switch {
	case s.State == "planning":
		b.WriteString("  planning")
	case s.ETASeconds > 0:
		fmt.Fprintf(&b, "  ETA %s", seconds(s.ETASeconds))
	}
	return b.String()
}

// writeSummary prints the end of a job: state, counts, rows, API calls, elapsed time and the
// failures grouped by reason. watched stands in for the elapsed time when the status has no
// timestamps.
func writeSummary(w io.Writer, s *backfill.Status, watched time.Duration) {
	c := s.Counts
	fmt.Fprintf(w, "job %s: %s\n", s.JobID, s.State)
	if s.Blocked != "" {
		fmt.Fprintf(w, "  blocked    %s\n", s.Blocked)
	}
	fmt.Fprintf(w, "  tasks      %s planned, %s succeeded, %s failed, %s cancelled",
		commas(c.Planned), commas(c.Succeeded), commas(c.Failed), commas(c.Cancelled))
	if c.Retrying > 0 {
		fmt.Fprintf(w, ", %s retrying", commas(c.Retrying))
	}
	fmt.Fprintf(w, "\n  rows       %s\n  API calls  %s\n", commas(c.Rows), commas(c.APICalls))
	if q := s.Quota; q != nil && len(q.Quota.Figures) > 0 {
		// The API's own quota figures after the latest task, the source's most telling first.
		var figs []string
		for _, f := range q.Quota.Figures[:min(len(q.Quota.Figures), quotaFiguresShown)] {
			figs = append(figs, fmt.Sprintf("%s %s left (task used %s)", f.Name, commas(int(f.Remaining)), commas(int(f.Consumed))))
		}
		reset := ""
		if !q.Quota.ResetAt.IsZero() {
			reset = ", resets " + q.Quota.ResetAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "  quota      %s%s, as of %s\n", strings.Join(figs, ", "), reset, q.Shard)
	}
	elapsed := watched
	if !s.CreatedAt.IsZero() && s.UpdatedAt.After(s.CreatedAt) {
		elapsed = s.UpdatedAt.Sub(s.CreatedAt)
	}
	fmt.Fprintf(w, "  elapsed    %s\n", elapsed.Round(time.Second))
	if len(s.Failures) == 0 {
		return
	}
	note := ""
	if s.FailuresSampled {
		note = ", grouped from a sample"
	}
	fmt.Fprintf(w, "failures by cause (%s failed%s):\n", commas(c.Failed), note)
	for _, g := range s.Failures {
		shards := g.Shards[:min(len(g.Shards), shardsShown)]
		more := ""
		if n := g.Count - len(shards); n > 0 {
			more = fmt.Sprintf(" (+%s more)", commas(n))
		}
		fmt.Fprintf(w, "  %6s  %s: %s%s\n", commas(g.Count), g.Reason, strings.Join(shards, ", "), more)
	}
}

// quotaFiguresShown is how many quota figures the summary line shows.
const quotaFiguresShown = 2

// seconds renders a number of seconds as a Go duration rounded to the second, e.g. 2m28s.
func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

// commas writes n with thousands separators: 146000 -> 146,000.
func commas(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
