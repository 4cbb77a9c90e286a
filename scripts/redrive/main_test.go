package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/redrive"
)

var now = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParse(t *testing.T) {
	proj := env(map[string]string{"GOOGLE_CLOUD_PROJECT": "p"})
	tests := []struct {
		name    string
		args    []string
		env     func(string) (string, bool)
		want    request
		wantErr string
	}{
		{"defaults", []string{"--since", "24h"}, proj, request{
			cfg:    Config{Project: "p", Dataset: "events", Topic: "events"},
			filter: redrive.Filter{Since: now.Add(-24 * time.Hour), Until: now},
			opts:   redrive.Options{Limit: redrive.DefaultLimit, Sample: redrive.DefaultSample}}, ""},
		{"every flag", []string{"--since", "2026-12-01", "--until", "2026-12-02T00:00:00Z", "--reason", "user_id", "--reason-exact",
			"--kind", "search", "--stage", "append", "--limit", "100000", "--sample", "100", "--dry-run", "--json",
			"--project", "q", "--dataset", "d", "--topic", "t"}, proj, request{
			cfg:    Config{Project: "q", Dataset: "d", Topic: "t"},
			filter: redrive.Filter{Reason: "user_id", ReasonExact: true, Kind: "search", Stage: "append", Since: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)},
			opts:   redrive.Options{DryRun: true, Limit: redrive.MaxLimit, Sample: redrive.MaxSample}, json: true}, ""},
		{"environment", []string{"--since", "1h"}, env(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "BIGQUERY_DATASET": "d2", "EVENTS_TOPIC": "t2"}), request{
			cfg:    Config{Project: "p", Dataset: "d2", Topic: "t2"},
			filter: redrive.Filter{Since: now.Add(-time.Hour), Until: now},
			opts:   redrive.Options{Limit: redrive.DefaultLimit, Sample: redrive.DefaultSample}}, ""},
		{"no since", nil, proj, request{}, "--since is required"},
		{"bad since", []string{"--since", "yesterday"}, proj, request{}, "--since: "},
		{"no project", []string{"--since", "1h"}, env(nil), request{}, "--project (or GOOGLE_CLOUD_PROJECT) is required"},
		{"limit one past", []string{"--since", "1h", "--limit", "100001"}, proj, request{}, "limit 100001: want 1 to 100000"},
		{"limit zero", []string{"--since", "1h", "--limit", "0"}, proj, request{}, "--limit 0"},
		{"sample one past", []string{"--since", "1h", "--sample", "101"}, proj, request{}, "sample 101: want 0 to 100"},
		{"until before since", []string{"--since", "1h", "--until", "2h"}, proj, request{}, "is not before until"},
		{"stray argument", []string{"--since", "1h", "now"}, proj, request{}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(tt.args, tt.env, now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("parse(%q) error = %v, want it to contain %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse(%q): %v", tt.args, err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(request{})); diff != "" {
				t.Errorf("parse(%q) (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}

type oneSource []*event.DeadLetterRow

func (s oneSource) Pending(ctx context.Context, f redrive.Filter, limit int, yield func(*event.DeadLetterRow) error) error {
	for _, dl := range s {
		if err := yield(dl); err != nil {
			return err
		}
	}
	return nil
}

type noPublish struct{}

func (noPublish) Publish(context.Context, []byte, map[string]string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return "", errors.New("a dry run published") }
}

func (noPublish) Record(context.Context, []redrive.Record) error {
	return errors.New("a dry run marked")
}

// TestRunDryRun: a dry run prints the count, the sample and the skipped ones, and sends nothing.
func TestRunDryRun(t *testing.T) {
	n, cut := int64(2), int64(9)
	at := now.Add(-time.Hour)
	src := oneSource{
		{DeadLetteredAt: at, MessageID: "m1", PublishTime: at, Stage: "append", Kind: "search", Reason: "missing required column user_id", Data: []byte("{}"), DataBytes: &n,
			Attributes: []event.Attribute{{Key: "kind", Value: "search"}}},
		{DeadLetteredAt: at, MessageID: "m2", PublishTime: at, Stage: "append", Kind: "search", Reason: "x", Data: []byte("{}"), DataBytes: &cut},
	}
	open := func(context.Context, Config) (*redrive.Redriver, func() error, error) {
		return redrive.New(src, noPublish{}, noPublish{}, nil, nil), func() error { return nil }, nil
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"--since", "2h", "--dry-run"}, env(map[string]string{"GOOGLE_CLOUD_PROJECT": "p"}), now, open, &out, &errOut)
	if code != exitOK {
		t.Fatalf("run() = %d, stderr %s", code, errOut.String())
	}
	f := redrive.Filter{Since: now.Add(-2 * time.Hour), Until: now}
	want := "redrive " + f.ID() + ": 2 dead letter(s) selected, would send 1 message(s), 0 marked redriven, 1 skipped\n" +
		"  2026-12-06T09:00:00Z  m1  append/search  2 bytes  first delivery m1  [kind=search redrive_id=" + f.ID() + " redrive_of=m1 redrive_publish_time=2026-12-06T09:00:00Z]\n" +
		"    reason: missing required column user_id\n" +
		"  skipped m2: data truncated: the dead letter kept 2 of its 9 bytes\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("dry run output (-want +got):\n%s", diff)
	}
}
