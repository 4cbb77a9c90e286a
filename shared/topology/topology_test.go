package topology

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestTopologyMatchesTerraform plans terraform/ offline, as scripts/topology does, and compares
// the result with the embedded topology.json.
func TestTopologyMatchesTerraform(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("terraform is not on PATH: install Terraform >= 1.5 to check topology.json against terraform/")
	}
	if testing.Short() {
		t.Skip("-short: not running terraform plan")
	}
	if rc := os.Getenv("TF_CLI_CONFIG_FILE"); rc == "" {
		t.Skip("TF_CLI_CONFIG_FILE is unset: export TF_CLI_CONFIG_FILE=$(../shared/terraform-providers/install) to check topology.json against terraform/")
	} else if _, err := os.Stat(rc); err != nil {
		t.Skipf("TF_CLI_CONFIG_FILE names no file (%v): export TF_CLI_CONFIG_FILE=$(../shared/terraform-providers/install) to check topology.json against terraform/", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	plan, err := Plan(ctx, filepath.Join("..", "..", "terraform"))
	if err != nil {
		t.Fatalf("planning terraform/: %v", err)
	}
	t.Logf("terraform init, plan and show took %s", time.Since(start).Round(100*time.Millisecond))
	got, err := FromPlan(plan)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("topology.json differs from what terraform/ plans (-topology.json +terraform); run go run ./scripts/topology:\n%s", diff)
	}
	if b, err := got.Encode(); err != nil || !bytes.Equal(b, embedded) {
		t.Errorf("topology.json holds the planned topology but not as the generator writes it (err %v); run go run ./scripts/topology", err)
	}
}

func fixture(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFromPlan(t *testing.T) {
	top, err := FromPlan(fixture(t))
	if err != nil {
		t.Fatalf("FromPlan(testdata/plan.json): %v", err)
	}
	sub := func(name string) Subscription { s, _ := top.Subscription(name); return s }
	job := func(name string) SchedulerJob { j, _ := top.SchedulerJob(name); return j }
	fn := func(name string) Function { f, _ := top.Function(name); return f }
	queue := func(name string) Queue { q, _ := top.Queue(name); return q }
	tests := []struct {
		name      string
		got, want any
	}{
		{"project and number", []string{top.Project, top.ProjectNumber}, []string{"proj-a", "42"}},
		{"variables the plan was given, sensitive ones hidden",
			top.Variables, map[string]any{"project_id": "proj-a", "region": "us-east1", "api_key": "(sensitive)"}},
		{"topics, without the one being deleted",
			top.Topics, []Topic{{Name: "dead"}, {Name: "events", MessageRetention: Duration(24 * time.Hour)}}},
		{"unknown topic id resolved through its reference; push URL split at the function's URL",
			sub("load-sub"), Subscription{
				Name: "load-sub", Topic: "events", Delivery: "push", Filter: `attributes.kind = "a"`,
				AckDeadlineSeconds: 30, MessageRetention: Duration(time.Hour),
				RetryPolicy: &RetryPolicy{MinimumBackoff: Duration(5 * time.Second), MaximumBackoff: Duration(time.Minute)},
				DeadLetter:  &DeadLetter{Topic: "dead", MaxDeliveryAttempts: 7},
				Push: &Push{
					Endpoint: Endpoint{Function: "Load", Path: "/projects/proj-a/topics/events"},
					// No audience: Pub/Sub uses the endpoint.
					OIDC: &OIDC{ServiceAccount: "pusher@proj-a.iam.gserviceaccount.com", Audience: Endpoint{Function: "Load", Path: "/projects/proj-a/topics/events"}},
				},
				Expiration: &Expiration{TTL: Duration(24 * time.Hour)},
			}},
		{"a URL of no function kept whole; defaults filled in",
			sub("hook"), Subscription{Name: "hook", Topic: "events", Delivery: "push", AckDeadlineSeconds: 10,
				Push: &Push{Endpoint: Endpoint{URL: "https://example.com/hook?x=1"}}}},
		{"a topic of another project keeps its full name; ttl \"\" never expires",
			sub("pull"), Subscription{Name: "pull", Topic: "projects/other/topics/far", Delivery: "pull", AckDeadlineSeconds: 20,
				Expiration: &Expiration{Never: true}}},
		{"queue rates and retries", queue("q"), Queue{Name: "q", Location: "us-east1",
			RateLimits: QueueRateLimits{MaxDispatchesPerSecond: 2.5, MaxConcurrentDispatches: 4},
			Retry: QueueRetry{MaxAttempts: 3, MinBackoff: Duration(100 * time.Millisecond), MaxBackoff: Duration(time.Hour),
				MaxDoublings: 16}}},
		{"base64 body decoded; URI and audience unknown until apply are the function's",
			job("tick"), SchedulerJob{Name: "tick", Region: "us-east1", Schedule: "*/5 * * * *", TimeZone: "Etc/UTC",
				AttemptDeadline: Duration(3 * time.Minute), Retry: SchedulerRetry{RetryCount: 2},
				HTTP: HTTPTarget{Target: Endpoint{Function: "Load"}, Method: "PUT", Body: `{"a":1}`,
					Headers: map[string]string{"Content-Type": "application/json"},
					OIDC:    &OIDC{ServiceAccount: "pusher@proj-a.iam.gserviceaccount.com", Audience: Endpoint{Function: "Load"}}}}},
		{"cloudfunctions.net URL split; region, method, time zone and deadline defaulted",
			job("cf"), SchedulerJob{Name: "cf", Region: "us-east1", Schedule: "0 * * * *", TimeZone: "Etc/UTC",
				AttemptDeadline: Duration(3 * time.Minute),
				HTTP:            HTTPTarget{Target: Endpoint{Function: "Load", Path: "/run"}, Method: "POST"}}},
		{"function account from its for_each twin's account_id; unknown and sensitive env apart",
			fn("Load"), Function{EntryPoint: "Load", Name: "load", Location: "us-east1", Runtime: "go126",
				ServiceAccount: "fn-load@proj-a.iam.gserviceaccount.com", TimeoutSeconds: 60, AvailableMemory: "256M",
				AvailableCPU: "1", MaxInstanceCount: 3, MaxInstanceRequestConcurrency: 1, Ingress: "ALLOW_INTERNAL_ONLY",
				Env: map[string]string{"A": "1"}, EnvUnknown: []string{"KEY", "SA"}}},
		{"bindings: members and resources resolved, normalized, sorted, duplicates merged", top.Bindings(), []Binding{
			{Member: "serviceAccount:pusher@proj-a.iam.gserviceaccount.com", Role: "roles/run.invoker", Resource: "functions/Load"},
			{Member: "serviceAccount:fn-load@proj-a.iam.gserviceaccount.com", Role: "roles/datastore.user", Resource: "projects/proj-a"},
			{Member: "serviceAccount:fn-load@proj-a.iam.gserviceaccount.com", Role: "roles/bigquery.dataEditor",
				Resource: "projects/proj-a/datasets/ds/tables/t", Condition: `request.time < timestamp("2030-01-01T00:00:00Z")`},
			{Member: "serviceAccount:fn-load@proj-a.iam.gserviceaccount.com", Role: "roles/cloudtasks.enqueuer",
				Resource: "projects/proj-a/locations/us-east1/queues/q"},
			{Member: "serviceAccount:fn-load@proj-a.iam.gserviceaccount.com", Role: "roles/secretmanager.secretAccessor",
				Resource: "projects/proj-a/secrets/api-token"},
			{Member: "serviceAccount:service-42@gcp-sa-pubsub.iam.gserviceaccount.com", Role: "roles/iam.serviceAccountTokenCreator",
				Resource: "projects/proj-a/serviceAccounts/pusher@proj-a.iam.gserviceaccount.com"},
			{Member: "serviceAccount:service-42@gcp-sa-pubsub.iam.gserviceaccount.com", Role: "roles/pubsub.subscriber",
				Resource: "projects/proj-a/subscriptions/load-sub"},
			{Member: "serviceAccount:service-42@gcp-sa-pubsub.iam.gserviceaccount.com", Role: "roles/pubsub.publisher",
				Resource: "projects/proj-a/topics/events"},
		}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}

	// What FromPlan writes, Decode reads back the same.
	b, err := top.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(top, back); diff != "" {
		t.Errorf("Decode(Encode(t)) differs from t (-want +got):\n%s", diff)
	}
}

// change returns the "change" object of the resource at address in a decoded plan.
func change(t *testing.T, plan map[string]any, address string) map[string]any {
	t.Helper()
	for _, rc := range plan["resource_changes"].([]any) {
		if rc := rc.(map[string]any); rc["address"] == address {
			return rc["change"].(map[string]any)
		}
	}
	t.Fatalf("the fixture has no %s", address)
	return nil
}

func TestFromPlanErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(t *testing.T, plan map[string]any)
		want   []string // substrings of the error
	}{
		{
			name: "unknown member that refers to no service account",
			mutate: func(t *testing.T, plan map[string]any) {
				delete(change(t, plan, "google_pubsub_topic_iam_member.pub")["after"].(map[string]any), "member")
				change(t, plan, "google_pubsub_topic_iam_member.pub")["after_unknown"].(map[string]any)["member"] = true
			},
			want: []string{"google_pubsub_topic_iam_member.pub: member: unknown until apply", "refers to no google_service_account"},
		},
		{
			name: "unknown account referred to without a key among several instances",
			mutate: func(t *testing.T, plan map[string]any) {
				for _, c := range plan["configuration"].(map[string]any)["root_module"].(map[string]any)["resources"].([]any) {
					if c := c.(map[string]any); c["address"] == "google_project_iam_member.fs" {
						c["expressions"] = map[string]any{"member": map[string]any{"references": []any{"google_service_account.fn", "each.value"}}}
					}
				}
			},
			want: []string{`google_project_iam_member.fs["Load"]: member`, "no instance of google_service_account.fn can be told"},
		},
		{
			name: "body that is not base64",
			mutate: func(t *testing.T, plan map[string]any) {
				ht := change(t, plan, "google_cloud_scheduler_job.tick")["after"].(map[string]any)["http_target"].([]any)[0]
				ht.(map[string]any)["body"] = "not base64!"
			},
			want: []string{"google_cloud_scheduler_job.tick: http_target[0].body: decoding base64"},
		},
		{
			name: "sensitive body",
			mutate: func(t *testing.T, plan map[string]any) {
				change(t, plan, "google_cloud_scheduler_job.tick")["after_sensitive"] = map[string]any{
					"http_target": []any{map[string]any{"body": true}},
				}
			},
			want: []string{"google_cloud_scheduler_job.tick: http_target[0].body: sensitive"},
		},
		{
			name: "IAM member type it cannot name",
			mutate: func(t *testing.T, plan map[string]any) {
				plan["resource_changes"] = append(plan["resource_changes"].([]any), map[string]any{
					"address": "google_kms_crypto_key_iam_member.k", "mode": "managed", "type": "google_kms_crypto_key_iam_member", "name": "k",
					"change": map[string]any{"actions": []any{"create"}, "after": map[string]any{"role": "r", "member": "user:a@example.com"}},
				})
			},
			want: []string{"google_kms_crypto_key_iam_member.k", "teach shared/topology"},
		},
		{
			name: "environment unknown as a whole",
			mutate: func(t *testing.T, plan map[string]any) {
				c := change(t, plan, `google_cloudfunctions2_function.fn["Load"]`)
				c["after_unknown"].(map[string]any)["service_config"].([]any)[0].(map[string]any)["environment_variables"] = true
			},
			want: []string{"service_config[0].environment_variables: unknown until apply (or sensitive), keys and all"},
		},
		{
			name:   "not a plan",
			mutate: func(t *testing.T, plan map[string]any) { plan["format_version"] = "" },
			want:   []string{`format_version ""`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var plan map[string]any
			if err := json.Unmarshal(fixture(t), &plan); err != nil {
				t.Fatal(err)
			}
			tt.mutate(t, plan)
			b, err := json.Marshal(plan)
			if err != nil {
				t.Fatal(err)
			}
			_, err = FromPlan(b)
			if err == nil {
				t.Fatalf("FromPlan = nil error, want one containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("FromPlan error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestCopyConfigLeavesOutLocalSettings checks that a developer's tfvars, overrides, state and
// tests do not reach the plan, and that the parent's files the configuration names do.
func TestCopyConfigLeavesOutLocalSettings(t *testing.T) {
	src := t.TempDir()
	files := map[string]string{
		"functions.go":                      "package root\n",
		".gcloudignore":                     "/docs/\n",
		"README.md":                         "not named by the configuration\n",
		"terraform/main.tf":                 `locals { a = file("${path.module}/../.gcloudignore") }` + "\n" + `locals { b = "${path.module}/../functions.go" }` + "\n",
		"terraform/schemas/t.json":          "[]\n",
		"terraform/schemas/schemas_test.go": "package schemas\n",
		"terraform/my.auto.tfvars":          "project_id = \"mine\"\n",
		"terraform/terraform.tfvars":        "project_id = \"mine\"\n",
		"terraform/override.tf":             "# mine\n",
		"terraform/dev_override.tf":         "# mine\n",
		"terraform/terraform.tfstate":       "{}\n",
		"terraform/.terraform.lock.hcl":     "# lock\n",
		"terraform/.terraform/x":            "cache\n",
		"terraform/tests/a.tftest.hcl":      "# test\n",
		"terraform/plan_test.go":            "package terraform\n",
	}
	for name, content := range files {
		path := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dst := t.TempDir()
	if err := copyConfig(filepath.Join(src, "terraform"), filepath.Join(dst, "terraform")); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := filepath.WalkDir(dst, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dst, path)
			got = append(got, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{".gcloudignore", "functions.go", "terraform/main.tf", "terraform/schemas/t.json"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("copied files (-want +got):\n%s", diff)
	}
}

func TestTerraformEnvDropsWhatChangesThePlan(t *testing.T) {
	got := terraformEnv([]string{"PATH=/bin", "TF_VAR_project_id=mine", "TF_CLI_ARGS_plan=-var=x=y", "GOOGLE_OAUTH_ACCESS_TOKEN=t",
		"GOOGLE_APPLICATION_CREDENTIALS=/k.json", "TF_CLI_CONFIG_FILE=/rc", "TF_WORKSPACE=prod"})
	want := []string{"PATH=/bin", "TF_CLI_CONFIG_FILE=/rc", "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("terraformEnv (-want +got):\n%s", diff)
	}
}

func TestDurationText(t *testing.T) {
	for _, s := range []string{"0s", "0.1s", "10s", "604800s"} {
		var d Duration
		if err := d.UnmarshalText([]byte(s)); err != nil {
			t.Errorf("UnmarshalText(%q): %v", s, err)
			continue
		}
		if got := d.String(); got != s {
			t.Errorf("Duration(%q).String() = %q, want %q", s, got, s)
		}
	}
	var d Duration
	if err := d.UnmarshalText([]byte("ten")); err == nil {
		t.Error(`UnmarshalText("ten") = nil error, want one`)
	}
}

// TestEmbeddedTopologyHasWhatTheLocalStackUses checks the parts of topology.json the local
// stack builds its emulated resources from.
func TestEmbeddedTopologyHasWhatTheLocalStackUses(t *testing.T) {
	top, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	sub := func(name string) Subscription {
		s, ok := top.Subscription(name)
		if !ok {
			t.Errorf("no subscription %s", name)
		}
		return s
	}
	push := func(s Subscription) Push {
		if s.Push == nil || s.Push.OIDC == nil {
			t.Errorf("subscription %s is not a push subscription with an OIDC token", s.Name)
			return Push{OIDC: &OIDC{}}
		}
		return *s.Push
	}
	deadLetter := func(s Subscription) DeadLetter {
		if s.DeadLetter == nil {
			t.Errorf("subscription %s has no dead-letter policy", s.Name)
			return DeadLetter{}
		}
		return *s.DeadLetter
	}
	_, hasEvents := top.Topic("events")
	loader, rankings := sub("events-loader"), sub("events-rankings")
	_, hasDeadLetterTopic := top.Topic(deadLetter(loader).Topic)
	queue, hasQueue := top.Queue("backfill")
	sweep, hasSweep := top.SchedulerJob("backfill-sweep")
	backfillAccount, _ := top.ServiceAccountOf("Backfill")
	topicPath := "/projects/" + Project + "/topics/events"

	accounts := map[string]string{}
	for _, ep := range []string{"Backfill", "CollectEvents", "LoadEvents", "RunBackfillTask", "ServeRankings", "StreamTweets", "UpdateRankings"} {
		sa, ok := top.ServiceAccountOf(ep)
		if !ok || !strings.HasSuffix(sa, "@"+Project+".iam.gserviceaccount.com") {
			t.Errorf("ServiceAccountOf(%s) = %q, %v; want an account of %s", ep, sa, ok, Project)
		}
		if other, ok := accounts[sa]; ok {
			t.Errorf("%s and %s share the service account %s; each function has its own", other, ep, sa)
		}
		accounts[sa] = ep
	}

	tests := []struct {
		name      string
		got, want any
	}{
		{"events topic", hasEvents, true},
		{"loader reads the events topic", loader.Topic, "events"},
		{"loader pushes to LoadEvents at the topic's path", push(loader).Endpoint, Endpoint{Function: "LoadEvents", Path: topicPath}},
		{"loader's token audience is LoadEvents", push(loader).OIDC.Audience, Endpoint{Function: "LoadEvents"}},
		{"loader dead-letters to a topic of the topology", hasDeadLetterTopic, true},
		{"loader's max delivery attempts within Pub/Sub's 5-100",
			deadLetter(loader).MaxDeliveryAttempts >= 5 && deadLetter(loader).MaxDeliveryAttempts <= 100, true},
		{"rankings read the events topic", rankings.Topic, "events"},
		// terraform/rankings_test.go checks it is functions/updaterankings.Filter (which this
		// package does not import, so that the functions may use it).
		{"rankings filter passes tweets", strings.Contains(rankings.Filter, `attributes.kind = "tweet"`), true},
		{"rankings push to UpdateRankings at the topic's path", push(rankings).Endpoint, Endpoint{Function: "UpdateRankings", Path: topicPath}},
		{"push subscriptions' accounts may invoke their functions", [][]string{
			top.RolesOn(ServiceAccountMember(push(loader).OIDC.ServiceAccount), FunctionResource("LoadEvents")),
			top.RolesOn(ServiceAccountMember(push(rankings).OIDC.ServiceAccount), FunctionResource("UpdateRankings")),
		}, [][]string{{"roles/run.invoker"}, {"roles/run.invoker"}}},
		{"backfill queue", []any{hasQueue, queue.Retry.MaxAttempts > 0, queue.RateLimits.MaxDispatchesPerSecond > 0}, []any{true, true, true}},
		{"sweep job", []any{hasSweep, sweep.HTTP.Method, sweep.HTTP.Target}, []any{true, "POST", Endpoint{Function: "Backfill", Path: "/backfills:sweep"}}},
		{"sweep job's account may invoke Backfill",
			sweep.HTTP.OIDC != nil && slices.Contains(top.RolesOn(ServiceAccountMember(sweep.HTTP.OIDC.ServiceAccount), FunctionResource("Backfill")), "roles/run.invoker"), true},
		// Backfill creates tasks (enqueuer) and the sweep reads them back (viewer: cloudtasks.tasks.get).
		{"Backfill's roles on the backfill queue",
			top.RolesOn(ServiceAccountMember(backfillAccount), top.QueuePath(queue)), []string{"roles/cloudtasks.enqueuer", "roles/cloudtasks.viewer"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}
