package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxSpecBytes bounds a spec read from a file or stdin; the server refuses far less (413).
const maxSpecBytes = 8 << 20

func (a *app) start(ctx context.Context, c *client, o options, pos []string) (int, error) {
	spec, err := a.readSpec(o, pos)
	if err != nil {
		return 0, err
	}
	spec, dry, err := prepareSpec(spec, o.dryRun)
	if err != nil {
		return 0, err
	}
	body, err := c.create(ctx, spec)
	if err != nil {
		return 0, fmt.Errorf("starting the backfill: %w", err)
	}
	if dry {
		return exitOK, a.printPlan(body, o.json)
	}
	var r startResult
	if err := json.Unmarshal(body, &r); err != nil || r.JobID == "" {
		return 0, fmt.Errorf("reading the answer to POST /backfills %q: no job_id (%v)", truncate(body), err)
	}
	how := "created"
	if !r.Created {
		how = "already exists"
	}
	fmt.Fprintf(a.stderr, "job %s %s: %s tasks, about %s API calls, %s\n",
		r.JobID, how, commas(r.PlannedTasks), commas(r.APICalls), r.State)
	if o.noWait {
		if o.json {
			return exitOK, a.printJSON(body)
		}
		fmt.Fprintln(a.stdout, r.JobID)
		return exitOK, nil
	}
	return a.watch(ctx, c, o, r.JobID)
}

// readSpec returns the spec from --spec, stdin ("-") or a file.
func (a *app) readSpec(o options, pos []string) ([]byte, error) {
	if o.spec != "" {
		return []byte(o.spec), nil
	}
	var r io.Reader
	name := pos[0]
	if name == "-" {
		r, name = a.stdin, "stdin"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("reading the spec: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxSpecBytes))
	if err != nil {
		return nil, fmt.Errorf("reading the spec from %s: %w", name, err)
	}
	return b, nil
}

// prepareSpec checks that spec is a JSON object, adds "dry_run": true when asked, and reports
// whether the request is a dry run (by the flag or by the spec itself). Without --dry-run the
// bytes go out as written.
func prepareSpec(spec []byte, dryRun bool) ([]byte, bool, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(spec, &fields); err != nil {
		return nil, false, fmt.Errorf("reading the spec: %w", err)
	}
	if fields == nil {
		return nil, false, errors.New("reading the spec: not a JSON object")
	}
	var inSpec bool
	if raw, ok := fields["dry_run"]; ok {
		if err := json.Unmarshal(raw, &inSpec); err != nil {
			return nil, false, fmt.Errorf("reading the spec's dry_run: %w", err)
		}
	}
	if !dryRun {
		return spec, inSpec, nil
	}
	fields["dry_run"] = json.RawMessage("true")
	out, err := json.Marshal(fields)
	if err != nil {
		return nil, false, fmt.Errorf("encoding the spec: %w", err)
	}
	return out, true, nil
}

// plan is what POST /backfills answers for a dry run.
type plan struct {
	JobID    string            `json:"job_id"`
	Tasks    int               `json:"tasks"`
	APICalls int               `json:"api_calls"`
	Sample   []json.RawMessage `json:"sample"`
	Chunks   []json.RawMessage `json:"chunks"`
}

// chunksShown bounds the chunks a plan prints; a year of daily chunks is 365 lines.
const chunksShown = 20

func (a *app) printPlan(body []byte, asJSON bool) error {
	if asJSON {
		return a.printJSON(body)
	}
	var p plan
	if err := json.Unmarshal(body, &p); err != nil {
		return fmt.Errorf("decoding the plan: %w", err)
	}
	w := a.stdout
	fmt.Fprintf(w, "plan for job %s (dry run, nothing created): %s tasks, about %s API calls\n",
		p.JobID, commas(p.Tasks), commas(p.APICalls))
	if len(p.Chunks) > 0 {
		fmt.Fprintf(w, "chunks (%s):\n", commas(len(p.Chunks)))
		for _, c := range p.Chunks[:min(len(p.Chunks), chunksShown)] {
			fmt.Fprintf(w, "  %s\n", describe(c))
		}
		if n := len(p.Chunks) - chunksShown; n > 0 {
			fmt.Fprintf(w, "  ... and %s more\n", commas(n))
		}
	}
	if len(p.Sample) > 0 {
		fmt.Fprintf(w, "sample tasks (%d):\n", len(p.Sample))
		for _, t := range p.Sample {
			fmt.Fprintf(w, "  %s\n", describe(t))
		}
	}
	return nil
}

// describe renders a chunk or a sample task briefly: a task by its shard, a period as
// start..end, anything else as compact JSON.
func describe(raw json.RawMessage) string {
	var v struct {
		Shard string `json:"shard"`
		Start string `json:"start"`
		End   string `json:"end"`
	}
	if json.Unmarshal(raw, &v) == nil {
		switch {
		case v.Shard != "":
			return v.Shard
		case v.Start != "" && v.End != "":
			return v.Start + ".." + v.End
		}
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

func (a *app) status(ctx context.Context, c *client, o options, job string) (int, error) {
	s, err := c.status(ctx, job)
	if err != nil {
		return 0, fmt.Errorf("getting the status of job %s: %w", job, err)
	}
	if !ended(s.State) {
		fmt.Fprintln(a.summaryWriter(o), progressLine(&s.Status))
	}
	return a.finish(s, o, 0)
}

func (a *app) retry(ctx context.Context, c *client, o options, job string) (int, error) {
	r, err := c.retry(ctx, job)
	if err != nil {
		return 0, fmt.Errorf("retrying the failed tasks of job %s: %w", job, err)
	}
	fmt.Fprintf(a.stderr, "job %s: %s failed tasks enqueued again\n", r.JobID, commas(r.Retried))
	if o.noWait {
		if o.json {
			return exitOK, a.printJSON(r.raw)
		}
		return exitOK, nil
	}
	return a.watch(ctx, c, o, job)
}

func (a *app) cancel(ctx context.Context, c *client, o options, job string) (int, error) {
	s, err := c.cancel(ctx, job)
	if err != nil {
		return 0, fmt.Errorf("cancelling job %s: %w", job, err)
	}
	if _, err := a.finish(s, o, 0); err != nil {
		return 0, err
	}
	// The cancel worked; the exit code says so rather than repeat the state.
	return exitOK, nil
}

// summaryWriter is where human output goes: stdout, or stderr when stdout is for --json.
func (a *app) summaryWriter(o options) io.Writer {
	if o.json {
		return a.stderr
	}
	return a.stdout
}

// printJSON writes body as one line on stdout.
func (a *app) printJSON(body []byte) error {
	var b bytes.Buffer
	if err := json.Compact(&b, body); err != nil {
		return fmt.Errorf("the server's answer is not JSON %q: %w", truncate(body), err)
	}
	b.WriteByte('\n')
	_, err := a.stdout.Write(b.Bytes())
	return err
}

// truncate shortens a body for an error message.
func truncate(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
