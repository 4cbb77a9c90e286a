package terraform_test

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipelinekit/pipelinekit/functions/serverankings"
	"github.com/pipelinekit/pipelinekit/functions/updaterankings"
	"github.com/pipelinekit/pipelinekit/shared/rankings"
)

// The rankings' Terraform names what the code uses: the subscription filter, the Firestore
// collections, the push target, and the functions' roles.
func TestRankingsMatchTheCode(t *testing.T) {
	m := loadModule(t)
	if got := literal(t, m.local(t, "rankings_filter")).AsString(); got != updaterankings.Filter {
		t.Errorf("local.rankings_filter = %q, want updaterankings.Filter %q", got, updaterankings.Filter)
	}
	c := literal(t, m.local(t, "ranking_collections"))
	got := map[string]string{}
	for _, k := range valueKeys(c) {
		got[k] = c.GetAttr(k).AsString()
	}
	want := map[string]string{"counts": rankings.DefaultCollections.Counts, "tweets": rankings.DefaultCollections.Tweets,
		"events": rankings.DefaultCollections.Events, "views": rankings.DefaultCollections.Views,
		"tweet_counts": rankings.DefaultCollections.TweetCounts, "log": rankings.DefaultCollections.Log,
		"dups": rankings.DefaultCollections.Dups, "keys": rankings.DefaultCollections.Keys, "meta": rankings.DefaultCollections.Meta}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("local.ranking_collections (-shared/rankings +terraform):\n%s", diff)
	}

	sub := m.resource(t, "google_pubsub_subscription", "rankings")
	for _, c := range []struct {
		path []string
		want string
	}{
		{[]string{"filter"}, "local.rankings_filter"},
		{[]string{"topic"}, "google_pubsub_topic.events.id"},
		// As the loader's (pubsub.tf): the function's URL, then a path naming the topic.
		{[]string{"push_config", "push_endpoint"}, `"${local.function_urls.` + updaterankings.EntryPoint + `}/projects/${var.project_id}/topics/${google_pubsub_topic.events.name}"`},
		{[]string{"dead_letter_policy", "dead_letter_topic"}, "google_pubsub_topic.dead_letter.id"},
	} {
		if got := source(attr(t, sub, c.path...)); got != c.want {
			t.Errorf("google_pubsub_subscription.rankings %s = %s, want %s", strings.Join(c.path, "."), got, c.want)
		}
	}

	// ServeRankings is read-only: it may read Firestore, never write.
	roles := literal(t, m.local(t, "ranking_firestore_roles"))
	if got := roles.GetAttr(serverankings.EntryPoint).AsString(); got != "roles/datastore.viewer" {
		t.Errorf("ServeRankings' Firestore role = %s, want roles/datastore.viewer", got)
	}
	if got := roles.GetAttr(updaterankings.EntryPoint).AsString(); got != "roles/datastore.user" {
		t.Errorf("UpdateRankings' Firestore role = %s, want roles/datastore.user", got)
	}
	if got := source(attr(t, m.resource(t, "google_project_iam_member", "rankings_firestore"), "member")); got != "google_service_account.function[each.key].member" {
		t.Errorf("rankings_firestore member = %s", got)
	}
}

// deploy.sh creates the rankings' subscription with UpdateRankings, with Terraform's filter.
func TestDeployScriptRankingsSubscription(t *testing.T) {
	var sub []string
	for _, w := range dryRun(t, "--project=p", "--only=update-rankings") {
		if len(w) > 4 && w[1] == "pubsub" && w[2] == "subscriptions" && w[3] == "create" && w[4] == "events-rankings" {
			sub = w
		}
	}
	for _, flag := range []string{"--message-filter=" + updaterankings.Filter, "--push-auth-service-account=pubsub-push@p.iam.gserviceaccount.com",
		"--dead-letter-topic=events-dead-letter", "--topic=events"} {
		if !containsPrefix(sub, flag) {
			t.Errorf("rankings subscription command %q has no %s", sub, flag)
		}
	}
}

// The layouts Terraform takes are the store's (rankings.Layouts), each with UpdateRankings'
// concurrency for it, and deploy.sh deploys UpdateRankings with the same concurrency and layout
// as Terraform under each.
func TestRankingsLayoutsMatchTheCode(t *testing.T) {
	m := loadModule(t)
	var want []string
	for _, l := range rankings.Layouts {
		want = append(want, string(l))
	}
	sort.Strings(want)
	if diff := cmp.Diff(want, valueKeys(literal(t, m.local(t, "update_rankings_concurrency")))); diff != "" {
		t.Errorf("local.update_rankings_concurrency's layouts (-rankings.Layouts +terraform):\n%s", diff)
	}
	var rule string
	for _, b := range m.blocks("variable") {
		if b.Labels[0] != "rankings_layout" {
			continue
		}
		for _, nb := range b.Body.Blocks {
			if nb.Type == "validation" {
				rule = source(nb.Body.Attributes["condition"].Expr)
			}
		}
	}
	if got, wantRule := rule, `contains(["markers", "log"], var.rankings_layout)`; got != wantRule {
		t.Errorf("rankings_layout's validation = %s, want %s (rankings.Layouts)", got, wantRule)
	}

	for _, layout := range want {
		settings := functionSettings(t, m, map[string]cty.Value{"rankings_layout": cty.StringVal(layout)})
		conc, _ := settings.GetAttr(updaterankings.EntryPoint).GetAttr("concurrency").AsBigFloat().Int64()
		cmd := exec.Command("bash", "../scripts/deploy.sh", "--dry-run", "--project=p", "--project-number=1", "--only=update-rankings")
		cmd.Env = append(os.Environ(), "RANKINGS_LAYOUT="+layout)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("deploy.sh with RANKINGS_LAYOUT=%s: %v", layout, err)
		}
		for _, line := range []string{fmt.Sprintf("--concurrency=%d ", conc), fmt.Sprintf("RANKINGS_LAYOUT: %q", layout)} {
			if !strings.Contains(string(out), line) {
				t.Errorf("deploy.sh with RANKINGS_LAYOUT=%s prints no %s (Terraform's UpdateRankings under rankings_layout = %q)", layout, line, layout)
			}
		}
	}
	if conc := func(l string) int64 {
		v, _ := functionSettings(t, m, map[string]cty.Value{"rankings_layout": cty.StringVal(l)}).GetAttr(updaterankings.EntryPoint).GetAttr("concurrency").AsBigFloat().Int64()
		return v
	}; conc("log") != 1000 || conc("markers") != 250 {
		t.Errorf("UpdateRankings' concurrency: log %d, markers %d; want 1000 (a full group, Cloud Run's most) and 250", conc("log"), conc("markers"))
	}
}
