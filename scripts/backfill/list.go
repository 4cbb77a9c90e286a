package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

// jobList is GET /backfills' answer.
type jobList struct {
	Jobs          []backfill.JobSummary `json:"jobs"`
	NextPageToken string                `json:"next_page_token"`
}

// list prints the newest jobs (one page of --limit), or with --json the answer as is.
func (a *app) list(ctx context.Context, c *client, o options) (int, error) {
	if o.limit < 1 || o.limit > 100 {
		return 0, fmt.Errorf("--limit must be from 1 to 100")
	}
	body, err := c.do(ctx, "GET", "/backfills?limit="+url.QueryEscape(strconv.Itoa(o.limit)), nil)
	if err != nil {
		return 0, fmt.Errorf("listing jobs: %w", err)
	}
	if o.json {
		return exitOK, a.printJSON(body)
	}
	var l jobList
	if err := json.Unmarshal(body, &l); err != nil {
		return 0, fmt.Errorf("decoding the job list %q: %w", truncate(body), err)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATE\tSOURCE\tTASKS\tSUCCEEDED\tFAILED\tCREATED")
	for _, j := range l.Jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.JobID, j.State, j.Source, commas(j.Counts.Planned),
			commas(j.Counts.Succeeded), commas(j.Counts.Failed), j.CreatedAt.UTC().Format(time.RFC3339))
	}
	if err := tw.Flush(); err != nil {
		return 0, err
	}
	if l.NextPageToken != "" {
		fmt.Fprintf(a.stderr, "(more: GET /backfills?limit=%d&page_token=%s)\n", o.limit, url.QueryEscape(l.NextPageToken))
	}
	return exitOK, nil
}
