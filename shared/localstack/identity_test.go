package localstack

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/emulators/iamcheck"
	"github.com/pipelinekit/pipelinekit/shared/topology"
)

// deliveryProblems checks, against bindings, what the local front door does not: that every
// caller Terraform wires up may make its call. Pub/Sub's push, Cloud Scheduler and Cloud Tasks
// present an ID token of a service account, which needs run.routes.invoke on the function's
// service; Pub/Sub's service agent mints the push token (iam.serviceAccounts.getOpenIdToken,
// https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions) and dead-letters
// (pubsub.topics.publish on the dead-letter topic, pubsub.subscriptions.consume on the source:
// https://cloud.google.com/pubsub/docs/handling-failures); a task's creator must act as the
// task's account (iam.serviceAccounts.actAs: https://cloud.google.com/tasks/docs/creating-http-target-tasks);
// and a function reading a secret needs secretmanager.versions.access on it.
func deliveryProblems(t *topology.Topology, bindings []topology.Binding) ([]string, error) {
	const project = topology.Project
	fn := func(ep string) string { return "projects/" + project + "/functions/" + ep }
	var bs []iamcheck.Binding
	for _, b := range bindings {
		res := b.Resource
		if ep, ok := strings.CutPrefix(res, "functions/"); ok {
			res = fn(ep)
		}
		bs = append(bs, iamcheck.Binding{Member: b.Member, Role: b.Role, Resource: res, Condition: b.Condition})
	}
	policy, err := iamcheck.NewPolicy(bs)
	if err != nil {
		return nil, err
	}
	agent := "serviceAccount:service-" + t.ProjectNumber + "@gcp-sa-pubsub.iam.gserviceaccount.com"
	var problems []string
	need := func(why, member, permission, resource string) {
		if !policy.Allowed(member, permission, resource) {
			problems = append(problems, fmt.Sprintf("%s: %s lacks %s on %s", why, member, permission, resource))
		}
	}
	for _, s := range t.Subscriptions {
		if s.Push != nil && s.Push.OIDC != nil {
			sa := s.Push.OIDC.ServiceAccount
			need("push "+s.Name, topology.ServiceAccountMember(sa), "run.routes.invoke", fn(s.Push.Endpoint.Function))
			need("push "+s.Name+" token", agent, "iam.serviceAccounts.getOpenIdToken", iamcheck.ServiceAccountName(sa))
		}
		if s.DeadLetter != nil {
			need("dead-lettering "+s.Name, agent, "pubsub.topics.publish", t.TopicPath(s.DeadLetter.Topic))
			need("dead-lettering "+s.Name, agent, "pubsub.subscriptions.consume", t.SubscriptionPath(s.Name))
		}
	}
	for _, j := range t.SchedulerJobs {
		if j.HTTP.OIDC != nil {
			need("scheduler job "+j.Name, topology.ServiceAccountMember(j.HTTP.OIDC.ServiceAccount), "run.routes.invoke", fn(j.HTTP.Target.Function))
		}
	}
	for _, f := range t.Functions {
		self := topology.ServiceAccountMember(f.ServiceAccount)
		if sa := f.Env["TASKS_SERVICE_ACCOUNT"]; sa != "" {
			need(f.EntryPoint+"'s tasks", self, "iam.serviceAccounts.actAs", iamcheck.ServiceAccountName(sa))
			// Its tasks call the worker and, to expand a job, Backfill itself.
			for _, target := range []string{"RunBackfillTask", "Backfill"} {
				need(f.EntryPoint+"'s tasks", topology.ServiceAccountMember(sa), "run.routes.invoke", fn(target))
			}
		}
		// Its tasks go to the worker queues and its control tasks to the control queue.
		for _, k := range []string{"BACKFILL_QUEUE", "BACKFILL_CONTROL_QUEUE"} {
			for _, q := range strings.Split(f.Env[k], ",") {
				if q != "" {
					need(f.EntryPoint+" creates tasks in "+k, self, "cloudtasks.tasks.create", q)
				}
			}
		}
		if f.Env["BACKFILL_URL"] != "" && f.EntryPoint != "Backfill" {
			need(f.EntryPoint+" calls Backfill", self, "run.routes.invoke", fn("Backfill"))
		}
		for k, v := range f.Env {
			if strings.HasSuffix(k, "_SECRET") && strings.HasPrefix(v, "projects/") {
				need(f.EntryPoint+" reads "+k, self, "secretmanager.versions.access", v)
			}
		}
	}
	return problems, nil
}

// TestDeliveryIdentities: every push, scheduled call, task and secret read Terraform sets up is
// allowed by Terraform's own bindings, and removing any one binding they rely on is noticed.
func TestDeliveryIdentities(t *testing.T) {
	topo, err := Topology()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := deliveryProblems(topo, topo.Bindings())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string(nil), problems); diff != "" {
		t.Errorf("Terraform's bindings leave callers without a permission they need (-want +got):\n%s", diff)
	}
	relied := 0
	for i, b := range topo.Bindings() {
		if !strings.Contains(b.Role, "invoker") && !strings.Contains(b.Role, "serviceAccount") && b.Role != "roles/secretmanager.secretAccessor" &&
			!strings.Contains(b.Member, "gcp-sa-pubsub") {
			continue
		}
		relied++
		without := append(topo.Bindings()[:i:i], topo.Bindings()[i+1:]...)
		problems, err := deliveryProblems(topo, without)
		if err != nil {
			t.Fatal(err)
		}
		if len(problems) == 0 {
			t.Errorf("without %s for %s on %s, no caller is refused: the check does not see it", b.Role, b.Member, b.Resource)
		}
	}
	if relied < 10 {
		t.Errorf("only %d bindings checked; the topology lost its invoker, token and secret bindings", relied)
	}
}

// TestRankingsReadOnlyTheirDatabase: with Terraform's bindings, as the checks apply them,
// ServeRankings reads the rankings' database and nothing of (default) (backfill jobs and their
// raw responses, CollectEvents' seen ids, the stream lease), and UpdateRankings writes only the
// rankings: what production refuses, the local stack refuses.
func TestRankingsReadOnlyTheirDatabase(t *testing.T) {
	top, err := Topology()
	if err != nil {
		t.Fatal(err)
	}
	policy, err := iamcheck.NewPolicy(PolicyBindings(top, "p"))
	if err != nil {
		t.Fatal(err)
	}
	member := func(ep string) string {
		f, ok := top.Function(ep)
		if !ok {
			t.Fatalf("no function %s in the topology", ep)
		}
		return topology.ServiceAccountMember(f.ServiceAccount)
	}
	const rankingsDB, defaultDB = "projects/p/databases/rankings/documents/", "projects/p/databases/(default)/documents/"
	tests := []struct {
		function, permission, resource string
		want                           bool
	}{
		{"ServeRankings", "datastore.entities.get", rankingsDB + "rankings_views/v1", true},
		{"ServeRankings", "datastore.entities.list", rankingsDB + "rankings_tweets", true},
		{"ServeRankings", "datastore.entities.create", rankingsDB + "rankings_views/v1", false},
		{"ServeRankings", "datastore.entities.get", defaultDB + "backfill_jobs/bf-1/raw/r1", false},
		{"ServeRankings", "datastore.entities.list", defaultDB + "backfill_jobs", false},
		{"ServeRankings", "datastore.entities.get", defaultDB + "collect_events_seen/e1", false},
		{"UpdateRankings", "datastore.entities.create", rankingsDB + "rankings_counts/c1", true},
		{"UpdateRankings", "datastore.entities.get", defaultDB + "backfill_jobs/bf-1", false},
	}
	for _, tt := range tests {
		if got := policy.Allowed(member(tt.function), tt.permission, tt.resource); got != tt.want {
			t.Errorf("%s %s on %s: allowed %v, want %v", tt.function, tt.permission, tt.resource, got, tt.want)
		}
	}
}

// TestJobEventsPublishedByBackfillAlone: the checking proxies let Backfill publish on the job
// events topic, as Terraform grants (roles/pubsub.publisher on that topic), and nowhere else;
// no other function may publish there. The events topic takes the collectors' events and the
// tweets an x_search backfill finds (RunBackfillTask publishes them as the stream does).
func TestJobEventsPublishedByBackfillAlone(t *testing.T) {
	top, err := Topology()
	if err != nil {
		t.Fatal(err)
	}
	const project = "p"
	policy, err := iamcheck.NewPolicy(PolicyBindings(top, project))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{} // function -> topics it may publish on
	for _, f := range top.Functions {
		for _, topic := range []string{EventsTopic, DeadLetterTopic, JobEventsTopic} {
			res := "projects/" + project + "/topics/" + topic
			if policy.Allowed(topology.ServiceAccountMember(f.ServiceAccount), "pubsub.topics.publish", res) {
				got[f.EntryPoint] = append(got[f.EntryPoint], topic)
			}
		}
	}
	want := map[string][]string{"Backfill": {JobEventsTopic}, "CollectEvents": {EventsTopic}, "RunBackfillTask": {EventsTopic}, "StreamTweets": {EventsTopic}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("who may publish where mismatch (-want +got):\n%s", diff)
	}
}
