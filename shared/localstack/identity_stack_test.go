package localstack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/emulators/iamcheck"
	"github.com/pipelinekit/pipelinekit/shared/rankings"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube/youtubefake"
)

// TestSweepUnderTerraformRoles: the sweep's GetTask runs under the roles Terraform grants
// Backfill's account, and is refused, as Google refuses it, once the role that holds
// cloudtasks.tasks.get is removed (the production bug: enqueuer alone holds only tasks.create).
func TestSweepUnderTerraformRoles(t *testing.T) {
	if o := (Options{}); o.checksOff() {
		t.Skip(ChecksEnv + "=off: the checks this test is about are off")
	}
	for _, tc := range []struct {
		name        string
		drop        string // a role to remove from Backfill's account
		wantRefused bool
	}{
		{name: "granted roles"},
		{name: "without cloudtasks.viewer", drop: "roles/cloudtasks.viewer", wantRefused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			o := Options{
				Project: gcloudemu.NewProjectID(t), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
				// Slow calls keep the tasks in the queue while the sweep asks for them.
				Backfill: &BackfillOptions{Fakes: map[string][]sourcestest.Option{"youtube_analytics": []sourcestest.Option{sourcestest.WithLatency(5 * time.Second)}}},
			}
			if tc.drop != "" {
				o.EditBindings = func(bs []iamcheck.Binding) []iamcheck.Binding {
					var out []iamcheck.Binding
					for _, b := range bs {
						if b.Role != tc.drop || b.Member != "serviceAccount:fn-backfill@pipelinekit-local.iam.gserviceaccount.com" {
							out = append(out, b)
						}
					}
					if len(out) == len(bs) {
						t.Fatalf("Terraform grants Backfill no %s to remove", tc.drop)
					}
					return out
				}
			}
			s, err := Start(ctx, o)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			defer func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			c, err := s.StartBackfill(ctx, youtubefake.Spec(1, 2, "day", time.Now().UTC().AddDate(0, 0, -3)))
			if err != nil {
				t.Fatal(err)
			}
			sweepErr := s.BackfillAction(ctx, c.JobID, "sweep")
			var allowed, refused int
			for _, d := range s.Identities.Decisions() {
				if d.Method != "/google.cloud.tasks.v2.CloudTasks/GetTask" {
					continue
				}
				if d.Allowed {
					allowed++
				} else {
					refused++
				}
			}
			t.Logf("sweep: %v; GetTask allowed %d, refused %d", sweepErr, allowed, refused)
			if tc.wantRefused {
				if sweepErr == nil || refused == 0 {
					t.Errorf("the sweep without %s: error %v, %d GetTask refused; want the sweep to fail on a refused GetTask", tc.drop, sweepErr, refused)
				}
				return
			}
			if sweepErr != nil || allowed == 0 || refused > 0 {
				t.Errorf("the sweep under Terraform's roles: error %v, GetTask allowed %d, refused %d; want it to succeed after at least one allowed GetTask", sweepErr, allowed, refused)
			}
		})
	}
}

// TestFirestoreLimitsOnTheFunctionsPath: a write past one of Firestore's documented limits that
// the emulator alone accepts (501 field transforms on one document in one commit) is refused on
// the path the functions' Firestore calls take, with production's INVALID_ARGUMENT, and the same
// commit within the limit passes.
func TestFirestoreLimitsOnTheFunctionsPath(t *testing.T) {
	if o := (Options{}); o.checksOff() {
		t.Skip(ChecksEnv + "=off: the checks this test is about are off")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	project := gcloudemu.NewProjectID(t)
	s, err := Start(ctx, Options{Project: project, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Rankings: true})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	// UpdateRankings' own identity: its account holds datastore.user on the rankings' database,
	// so there only the limit refuses. The client reads FIRESTORE_EMULATOR_HOST when it is made,
	// as the function's does.
	stackHost := os.Getenv("FIRESTORE_EMULATOR_HOST")
	os.Setenv("FIRESTORE_EMULATOR_HOST", s.Identities.Addr("UpdateRankings"))
	fs, err := firestore.NewClientWithDatabase(ctx, project, rankings.DefaultDatabase)
	os.Setenv("FIRESTORE_EMULATOR_HOST", stackHost)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	for _, tc := range []struct {
		transforms int
		want       codes.Code
	}{{500, codes.OK}, {501, codes.InvalidArgument}} {
		fields := map[string]any{}
		for i := range tc.transforms {
			fields[fmt.Sprintf("f%d", i)] = firestore.Increment(1)
		}
		_, err := fs.Collection("limits").Doc(fmt.Sprintf("d%d", tc.transforms)).Set(ctx, fields)
		if got := status.Code(err); got != tc.want {
			t.Errorf("a commit of %d transforms on one document: %v (%v), want %v", tc.transforms, got, err, tc.want)
		}
	}
}
