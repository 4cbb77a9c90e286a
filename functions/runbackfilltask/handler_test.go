package runbackfilltask

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/firestore"
	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/emulators/bqemulator"
	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/functest"
	"github.com/pipelinekit/pipelinekit/shared/secrets/secretstest"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube/youtubefake"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
)

// TestProductionHandler runs NewHandler as deployed (grant in Secret Manager, clients from the
// emulator variables): concurrent tasks share one YouTube client whose secrets are read once;
// after the grant is refused they are read again, so a reconnected channel needs no redeploy.
func TestProductionHandler(t *testing.T) {
	ctx := context.Background()
	project := gcloudemu.NewProjectID(t)
	bq, err := bqemulator.NewServer(bqemulator.WithProject(project))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bq.Close() })
	t.Setenv(warehouse.EmulatorHostEnv, bq.Addr())
	bqc, err := bigquery.NewClient(ctx, project, warehouse.RESTClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bqc.Close() })
	if err := warehouse.EnsureDataset(ctx, bqc, dataset); err != nil {
		t.Fatal(err)
	}

	sm, err := secretstest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sm.Close)
	names := map[string]string{
		"projects/" + project + "/secrets/youtube-client-id/versions/latest":     sourcestest.DefaultClientID,
		"projects/" + project + "/secrets/youtube-client-secret/versions/latest": sourcestest.DefaultClientSecret,
		"projects/" + project + "/secrets/youtube-refresh-token/versions/latest": sourcestest.DefaultRefreshToken + "\n",
	}
	var cfgSecrets []string
	for name, v := range names {
		sm.Set(name, v)
		cfgSecrets = append(cfgSecrets, name)
	}
	yt := youtubefake.NewYouTubeServer()
	t.Cleanup(yt.Close)

	vars := map[string]string{
		"GOOGLE_CLOUD_PROJECT":         project,
		"BIGQUERY_DATASET":             dataset,
		"YOUTUBE_CLIENT_ID_SECRET":     "projects/" + project + "/secrets/youtube-client-id/versions/latest",
		"YOUTUBE_CLIENT_SECRET_SECRET": "projects/" + project + "/secrets/youtube-client-secret/versions/latest",
		"YOUTUBE_REFRESH_TOKEN_SECRET": "projects/" + project + "/secrets/youtube-refresh-token/versions/latest",
		"YOUTUBE_TOKEN_URL":            yt.TokenURL(),
		"YOUTUBE_API_BASE_URL":         yt.URL(),
		"API_TIMEOUT":                  "5s",
		"K_SERVICE":                    "runbackfilltask",
	}
	cfg, err := LoadConfig(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	logger, logs := functest.Logger()
	h, shutdown, err := NewHandler(ctx, cfg, logger, sm.ClientOptions()...)
	if err != nil {
		t.Fatalf("NewHandler() = %v", err)
	}
	t.Cleanup(func() {
		if err := shutdown(); err != nil {
			t.Errorf("shutdown() = %v", err)
		}
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	fs, err := firestore.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	e := &env{store: backfill.NewStore(fs), url: srv.URL, logs: logs}
	p := e.newJob(t, twoVideosThreeDays)

	var wg sync.WaitGroup
	for i := range p.Tasks {
		wg.Go(func() {
			if got := e.deliver(t, p.Task(i), attemptOf{}); got.status != 200 || got.answer.Outcome != "succeeded" {
				t.Errorf("deliver(task %d) = %d %+v, want 200 succeeded", i, got.status, got.answer)
			}
		})
	}
	wg.Wait()
	if diff := cmp.Diff(backfill.Counts{Planned: 6, Succeeded: 6, Rows: 6, APICalls: 6}, e.counts(t, p.JobID)); diff != "" {
		t.Errorf("counts mismatch (-want +got):\n%s", diff)
	}
	readEach := func(want int) {
		t.Helper()
		for _, name := range cfgSecrets {
			if n := sm.Accesses(name); n != want {
				t.Errorf("secret %s read %d times, want %d", name, n, want)
			}
		}
	}
	readEach(1)
	if st := yt.Stats(); st.TokenRefreshes != 1 {
		t.Errorf("token refreshes = %d, want 1: one token source per instance", st.TokenRefreshes)
	}

	// The grant is refused: the job blocks and the secrets are forgotten.
	yt.RevokeRefreshToken()
	p2 := e.newJob(t, `{"source":"youtube_analytics","youtube_analytics":{
		"video_ids":["vid00000003"],"metrics":["views"],"start":"2024-02-01","end":"2024-02-02"}}`)
	// The cached access token is still valid: expire it, as Google does on revocation.
	yt.ExpireAccessTokens()
	got := e.deliver(t, p2.Task(0), attemptOf{})
	if got.status != 200 || got.answer.Outcome != "blocked" || !strings.Contains(got.answer.Reason, "invalid_grant") {
		t.Errorf("deliver() after revocation = %d %+v, want 200 blocked by invalid_grant", got.status, got.answer)
	}
	readEach(1)
	// Another job's task reads the grant again (a reconnected channel would be picked up).
	p3 := e.newJob(t, `{"source":"youtube_analytics","youtube_analytics":{
		"video_ids":["vid00000003"],"metrics":["likes"],"start":"2024-02-01","end":"2024-02-01"}}`)
	if got := e.deliver(t, p3.Task(0), attemptOf{}); got.status != 200 || got.answer.Outcome != "blocked" {
		t.Errorf("deliver(another job) = %d %+v, want 200 blocked", got.status, got.answer)
	}
	readEach(2)
}
