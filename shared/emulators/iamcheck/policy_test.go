package iamcheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The roles the project grants or its checks ask about; each must be in roles.json.
var wantRoles = []string{
	"roles/pubsub.publisher", "roles/pubsub.subscriber", "roles/pubsub.viewer", "roles/pubsub.editor",
	"roles/bigquery.dataEditor", "roles/bigquery.dataViewer", "roles/bigquery.jobUser", "roles/bigquery.user",
	"roles/secretmanager.secretAccessor", "roles/datastore.user", "roles/datastore.viewer",
	"roles/cloudtasks.enqueuer", "roles/cloudtasks.viewer", "roles/cloudtasks.taskRunner",
	"roles/cloudtasks.taskDeleter", "roles/cloudtasks.queueAdmin",
	"roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator", "roles/iam.serviceAccountOpenIdTokenCreator",
	"roles/run.invoker", "roles/cloudfunctions.invoker",
}

func TestRolesCoverWhatTheProjectUses(t *testing.T) {
	want := append([]string(nil), wantRoles...)
	// Every role a Terraform file grants, so a new grant cannot go unchecked locally.
	files, err := filepath.Glob("../../../terraform/*.tf")
	if err != nil || len(files) == 0 {
		t.Fatalf("listing terraform/*.tf = %v, %v; want the project's Terraform files", files, err)
	}
	roleRE := regexp.MustCompile(`"(roles/[A-Za-z0-9_.]+)"`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range roleRE.FindAllStringSubmatch(string(b), -1) {
			want = append(want, m[1])
		}
	}
	for _, name := range want {
		r, ok := LookupRole(name)
		if !ok {
			t.Errorf("LookupRole(%q) not found: add it to roles.json from Google's IAM roles reference", name)
			continue
		}
		if len(r.Permissions) == 0 || !strings.HasPrefix(r.Source, "https://cloud.google.com/iam/docs/roles-permissions/") {
			t.Errorf("LookupRole(%q) = %+v, want permissions and its roles-permissions page as source", name, r)
		}
	}
}

func TestRolesFile(t *testing.T) {
	if _, err := parseRoles([]byte(`{"roles":{}}`)); err == nil {
		t.Error("parseRoles(no source, no read date) = nil error, want one")
	}
	if _, err := parseRoles([]byte(`{"source":"s","read":"2026-12-06","roles":{"roles/x":{"source":"s","read_from":"s"}}}`)); err == nil {
		t.Error("parseRoles(role with no permissions) = nil error, want one")
	}
	roles := PredefinedRoles()
	for i := 1; i < len(roles); i++ {
		if roles[i-1].Name >= roles[i].Name {
			t.Errorf("PredefinedRoles() not sorted at %s, %s", roles[i-1].Name, roles[i].Name)
		}
	}
	// The permissions a reviewer checks against the reference by eye.
	for name, want := range map[string][]string{
		"roles/cloudtasks.enqueuer":   {"cloudtasks.tasks.create", "cloudtasks.tasks.fullView", "resourcemanager.projects.get", "resourcemanager.projects.list"},
		"roles/cloudtasks.taskRunner": {"cloudtasks.tasks.fullView", "cloudtasks.tasks.run", "resourcemanager.projects.get", "resourcemanager.projects.list"},
		"roles/pubsub.subscriber":     {"pubsub.snapshots.seek", "pubsub.subscriptions.consume", "pubsub.topics.attachSubscription"},
	} {
		r, _ := LookupRole(name)
		if diff := cmp.Diff(want, r.Permissions); diff != "" {
			t.Errorf("%s permissions mismatch (-want +got):\n%s", name, diff)
		}
	}
}

func TestAllowed(t *testing.T) {
	const (
		queue  = "projects/p/locations/l/queues/q"
		table  = "projects/p/datasets/d/tables/t"
		other  = "serviceAccount:other@p.iam.gserviceaccount.com"
		invokr = "tasks-invoker@p.iam.gserviceaccount.com"
	)
	custom := Role{Name: "projects/p/roles/taskReader", Permissions: []string{"cloudtasks.tasks.get"}}
	policy := mustPolicy(t, []Binding{
		{Member: member, Role: "roles/cloudtasks.enqueuer", Resource: queue},
		{Member: member, Role: "roles/bigquery.dataEditor", Resource: table},
		{Member: member, Role: "roles/datastore.user", Resource: "projects/p"},
		{Member: member, Role: "roles/secretmanager.secretAccessor", Resource: "projects/p/secrets/s"},
		{Member: member, Role: "roles/iam.serviceAccountUser", Resource: ServiceAccountName(invokr)},
		{Member: other, Role: custom.Name, Resource: queue},
	}, custom)
	tests := []struct {
		name, member, perm, resource string
		want                         bool
	}{
		{"role on the queue covers it", member, "cloudtasks.tasks.create", queue, true},
		{"queue covers its tasks", member, "cloudtasks.tasks.create", queue + "/tasks/t1", true},
		{"enqueuer cannot get a task", member, "cloudtasks.tasks.get", queue + "/tasks/t1", false},
		{"another queue", member, "cloudtasks.tasks.create", "projects/p/locations/l/queues/q2", false},
		{"a queue whose name extends the bound one", member, "cloudtasks.tasks.create", queue + "x", false},
		{"another member", other, "cloudtasks.tasks.create", queue, false},
		{"custom role", other, "cloudtasks.tasks.get", queue + "/tasks/t1", true},
		{"table binding covers the table", member, "bigquery.tables.updateData", table, true},
		{"table binding does not cover its dataset", member, "bigquery.datasets.get", "projects/p/datasets/d", false},
		{"table binding does not cover a sibling", member, "bigquery.tables.updateData", "projects/p/datasets/d/tables/u", false},
		{"project binding covers documents", member, "datastore.entities.update", "projects/p/databases/(default)/documents/c/d", true},
		{"project binding stops at the project", member, "datastore.entities.get", "projects/p2/databases/(default)/documents/c/d", false},
		{"secret covers its versions", member, "secretmanager.versions.access", "projects/p/secrets/s/versions/latest", true},
		{"secret does not cover another", member, "secretmanager.versions.access", "projects/p/secrets/s2/versions/1", false},
		{"service account by email", member, "iam.serviceAccounts.actAs", "projects/-/serviceAccounts/" + invokr, true},
		{"another service account", member, "iam.serviceAccounts.actAs", ServiceAccountName("x@p.iam.gserviceaccount.com"), false},
		{"empty resource", member, "datastore.entities.get", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := policy.Allowed(tt.member, tt.perm, tt.resource); got != tt.want {
				t.Errorf("Allowed(%s, %s, %s) = %v, want %v", tt.member, tt.perm, tt.resource, got, tt.want)
			}
		})
	}
}

func TestNewPolicyRefusesWhatIAMWould(t *testing.T) {
	tests := []struct {
		name     string
		bindings []Binding
		custom   []Role
	}{
		{"unknown role", []Binding{{Member: member, Role: "roles/cloudtasks.superuser", Resource: "projects/p"}}, nil},
		{"member without type", []Binding{{Member: "fn@p.iam.gserviceaccount.com", Role: "roles/datastore.user", Resource: "projects/p"}}, nil},
		{"no member", []Binding{{Role: "roles/datastore.user", Resource: "projects/p"}}, nil},
		{"short resource name", []Binding{{Member: member, Role: "roles/datastore.user", Resource: "p"}}, nil},
		{"custom role named like a predefined one", nil, []Role{{Name: "roles/mine", Permissions: []string{"a.b.c"}}}},
		{"custom role with no permission", nil, []Role{{Name: "projects/p/roles/empty"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewPolicy(tt.bindings, tt.custom...); err == nil {
				t.Errorf("NewPolicy(%+v, %+v) = nil error, want one", tt.bindings, tt.custom)
			}
		})
	}
}

func TestCheckSpeaksLikeTheService(t *testing.T) {
	policy := mustPolicy(t, nil)
	tests := []struct {
		perm, resource, want string
	}{
		{"cloudtasks.tasks.get", "projects/p/locations/l/queues/q/tasks/t",
			`The principal (user or service account) lacks IAM permission "cloudtasks.tasks.get" for the resource "projects/p/locations/l/queues/q/tasks/t" (or the resource may not exist).`},
		{"pubsub.topics.publish", "projects/p/topics/t", "User not authorized to perform this action."},
		{"datastore.entities.get", "projects/p/databases/(default)/documents/c/d", "Missing or insufficient permissions."},
		{"bigquery.tables.updateData", "projects/p/datasets/d/tables/t",
			"Permission 'TABLES_UPDATE_DATA' denied on resource 'projects/p/datasets/d/tables/t' (or it may not exist)."},
		{"secretmanager.versions.access", "projects/p/secrets/s/versions/1",
			"Permission 'secretmanager.versions.access' denied for resource 'projects/p/secrets/s/versions/1' (or it may not exist)."},
		{"iam.serviceAccounts.getAccessToken", "projects/-/serviceAccounts/a@p.iam.gserviceaccount.com",
			"Permission 'iam.serviceAccounts.getAccessToken' denied on resource 'projects/-/serviceAccounts/a@p.iam.gserviceaccount.com' (or it may not exist)."},
	}
	for _, tt := range tests {
		err := policy.Check(member, tt.perm, tt.resource)
		st, ok := status.FromError(err)
		if !ok || st.Code() != codes.PermissionDenied || st.Message() != tt.want {
			t.Errorf("Check(%s, %s) = %v, want PermissionDenied %q", tt.perm, tt.resource, err, tt.want)
		}
	}
	if err := mustPolicy(t, []Binding{{Member: member, Role: "roles/run.invoker", Resource: "projects/p"}}).Check(member, "run.routes.invoke", "projects/p/locations/l/services/s"); err != nil {
		t.Errorf("Check(run.routes.invoke) with run.invoker = %v, want nil", err)
	}
}

func TestRESTMessages(t *testing.T) {
	tests := []struct {
		perm, resource, want string
	}{
		{"bigquery.tables.updateData", "projects/p/datasets/d/tables/t", "Access Denied: Table p:d.t: Permission bigquery.tables.updateData denied on table p:d.t (or it may not exist)."},
		{"bigquery.datasets.get", "projects/p/datasets/d", "Access Denied: Dataset p:d: Permission bigquery.datasets.get denied on dataset p:d (or it may not exist)."},
		{"bigquery.jobs.create", "projects/p", "Access Denied: Project p: User does not have bigquery.jobs.create permission in project p."},
	}
	for _, tt := range tests {
		e := &DeniedError{Permission: tt.perm, Resource: tt.resource, Service: BigQuery}
		if got := e.restMessage(); got != tt.want {
			t.Errorf("restMessage(%s on %s) = %q, want %q", tt.perm, tt.resource, got, tt.want)
		}
	}
}

// TestConditions: a database condition holds for that database's resources only, and any
// expression the checks cannot evaluate is refused rather than ignored.
func TestConditions(t *testing.T) {
	const db = "projects/p/databases/rankings"
	p, err := NewPolicy([]Binding{{Member: member, Role: "roles/datastore.viewer", Resource: "projects/p",
		Condition: `resource.name == "projects/p/databases/other" || resource.name == "` + db + `"`}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		resource string
		want     bool
	}{
		{db, true},
		{db + "/documents/rankings_views/v1", true},
		{"projects/p/databases/rankings2/documents/x", false},
		{"projects/p/databases/(default)/documents/backfill_jobs/j", false},
		{"projects/p", false}, // not a database: a resource.name condition does not hold
	} {
		if got := p.Allowed(member, "datastore.entities.get", tt.resource); got != tt.want {
			t.Errorf("Allowed(datastore.entities.get, %s) = %v, want %v", tt.resource, got, tt.want)
		}
	}
	for _, expr := range []string{
		`request.time < timestamp("2030-01-01T00:00:00Z")`,
		`resource.name.startsWith("projects/p/databases/")`,
		`resource.name == "projects/p/databases/rankings" && request.time < timestamp("2030-01-01T00:00:00Z")`,
		`resource.name != "projects/p/databases/(default)"`,
	} {
		if _, err := NewPolicy([]Binding{{Member: member, Role: "roles/datastore.viewer", Resource: "projects/p", Condition: expr}}); err == nil {
			t.Errorf("NewPolicy(condition %q) = nil error, want one: the checks cannot evaluate it", expr)
		}
	}
}
