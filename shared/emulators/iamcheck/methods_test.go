package iamcheck

import (
	"strings"
	"testing"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestMethodTableMatchesTheAPIs checks each row against the generated service descriptors:
// the method exists, the row decodes its real request type, routes to the right upstream and
// cites a page.
func TestMethodTableMatchesTheAPIs(t *testing.T) {
	for name, r := range grpcMethods {
		svc, meth, ok := strings.Cut(strings.TrimPrefix(name, "/"), "/")
		if !ok {
			t.Errorf("%s is not a full method name /package.Service/Method", name)
			continue
		}
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
		if err != nil {
			t.Errorf("%s: service %s not found: %v", name, svc, err)
			continue
		}
		md := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(meth))
		if md == nil {
			t.Errorf("%s: service %s has no method %s", name, svc, meth)
			continue
		}
		if got, want := r.newReq().ProtoReflect().Descriptor().FullName(), md.Input().FullName(); got != want {
			t.Errorf("%s decodes %s, want %s", name, got, want)
		}
		if r.service != upstreamFor(name) {
			t.Errorf("%s routes to %q but is checked as %q", name, upstreamFor(name), r.service)
		}
		if !strings.HasPrefix(r.doc, "https://") {
			t.Errorf("%s cites %q, want the API reference page", name, r.doc)
		}
	}
}

func TestMethodNeeds(t *testing.T) {
	const (
		db    = "projects/p/databases/(default)"
		doc   = db + "/documents/c/d"
		queue = "projects/p/locations/l/queues/q"
		table = "projects/p/datasets/d/tables/t"
	)
	upd := func(name string, pre *firestorepb.Precondition) *firestorepb.Write {
		return &firestorepb.Write{Operation: &firestorepb.Write_Update{Update: &firestorepb.Document{Name: name}}, CurrentDocument: pre}
	}
	exists := func(b bool) *firestorepb.Precondition {
		return &firestorepb.Precondition{ConditionType: &firestorepb.Precondition_Exists{Exists: b}}
	}
	oidcTask := &cloudtaskspb.Task{MessageType: &cloudtaskspb.Task_HttpRequest{HttpRequest: &cloudtaskspb.HttpRequest{
		Url:                 "https://f.example/run",
		AuthorizationHeader: &cloudtaskspb.HttpRequest_OidcToken{OidcToken: &cloudtaskspb.OidcToken{ServiceAccountEmail: "tasks-invoker@p.iam.gserviceaccount.com"}},
	}}}
	oauthTask := &cloudtaskspb.Task{MessageType: &cloudtaskspb.Task_HttpRequest{HttpRequest: &cloudtaskspb.HttpRequest{
		AuthorizationHeader: &cloudtaskspb.HttpRequest_OauthToken{OauthToken: &cloudtaskspb.OAuthToken{ServiceAccountEmail: "x@y.example"}},
	}}}
	tests := []struct {
		method string
		req    proto.Message
		want   []need
	}{
		{pubPrefix + "Publish", &pubsubpb.PublishRequest{Topic: "projects/p/topics/t"}, one("pubsub.topics.publish", "projects/p/topics/t")},
		{pubPrefix + "CreateTopic", &pubsubpb.Topic{Name: "projects/p/topics/t"}, one("pubsub.topics.create", "projects/p")},
		{subPrefix + "CreateSubscription", &pubsubpb.Subscription{Name: "projects/p/subscriptions/s", Topic: "projects/p/topics/t"},
			[]need{{perm: "pubsub.subscriptions.create", resource: "projects/p"}, {perm: "pubsub.topics.attachSubscription", resource: "projects/p/topics/t"}}},
		{subPrefix + "StreamingPull", &pubsubpb.StreamingPullRequest{Subscription: "projects/p/subscriptions/s"}, one("pubsub.subscriptions.consume", "projects/p/subscriptions/s")},
		{subPrefix + "StreamingPull", &pubsubpb.StreamingPullRequest{AckIds: []string{"a"}}, nil},
		{subPrefix + "Seek", &pubsubpb.SeekRequest{Subscription: "projects/p/subscriptions/s", Target: &pubsubpb.SeekRequest_Snapshot{Snapshot: "projects/p/snapshots/n"}},
			[]need{{perm: "pubsub.subscriptions.consume", resource: "projects/p/subscriptions/s"}, {perm: "pubsub.snapshots.seek", resource: "projects/p/snapshots/n"}}},
		{fsPrefix + "Commit", &firestorepb.CommitRequest{Database: db, Writes: []*firestorepb.Write{
			upd(doc+"1", exists(false)), upd(doc+"2", exists(true)), upd(doc+"3", nil),
			{Operation: &firestorepb.Write_Delete{Delete: doc + "4"}},
			upd(doc+"5", &firestorepb.Precondition{ConditionType: &firestorepb.Precondition_UpdateTime{UpdateTime: timestamppb.Now()}}),
			{Operation: &firestorepb.Write_Transform{Transform: &firestorepb.DocumentTransform{Document: doc + "6"}}, CurrentDocument: exists(false)},
		}}, []need{
			{perm: "datastore.entities.create", resource: doc + "1"},
			{perm: "datastore.entities.update", resource: doc + "2"},
			{perm: "datastore.entities.create", resource: doc + "3"}, {perm: "datastore.entities.update", resource: doc + "3"},
			{perm: "datastore.entities.delete", resource: doc + "4"},
			{perm: "datastore.entities.update", resource: doc + "5"},
			{perm: "datastore.entities.create", resource: doc + "6"},
		}},
		{fsPrefix + "Commit", &firestorepb.CommitRequest{Database: db, Transaction: []byte("t")}, one("datastore.databases.get", db)},
		{fsPrefix + "BatchWrite", &firestorepb.BatchWriteRequest{Database: db, Writes: []*firestorepb.Write{upd(doc, nil)}},
			[]need{{perm: "datastore.entities.create", resource: doc}, {perm: "datastore.entities.update", resource: doc}}},
		{fsPrefix + "BatchGetDocuments", &firestorepb.BatchGetDocumentsRequest{Database: db, Documents: []string{doc + "1", doc + "2"}},
			[]need{{perm: "datastore.entities.get", resource: doc + "1"}, {perm: "datastore.entities.get", resource: doc + "2"}}},
		{fsPrefix + "RunQuery", &firestorepb.RunQueryRequest{Parent: db + "/documents"},
			[]need{{perm: "datastore.entities.get", resource: db + "/documents"}, {perm: "datastore.entities.list", resource: db + "/documents"}}},
		{fsPrefix + "RunAggregationQuery", &firestorepb.RunAggregationQueryRequest{Parent: db + "/documents"}, one("datastore.entities.list", db+"/documents")},
		{fsPrefix + "ListDocuments", &firestorepb.ListDocumentsRequest{Parent: db + "/documents", CollectionId: "c"},
			[]need{{perm: "datastore.entities.get", resource: db + "/documents/c"}, {perm: "datastore.entities.list", resource: db + "/documents/c"}}},
		{fsPrefix + "BeginTransaction", &firestorepb.BeginTransactionRequest{Database: db}, one("datastore.databases.get", db)},
		{fsPrefix + "Rollback", &firestorepb.RollbackRequest{Database: db}, one("datastore.databases.get", db)},
		{fsPrefix + "Listen", &firestorepb.ListenRequest{Database: db, TargetChange: &firestorepb.ListenRequest_AddTarget{AddTarget: &firestorepb.Target{
			TargetType: &firestorepb.Target_Documents{Documents: &firestorepb.Target_DocumentsTarget{Documents: []string{doc}}}}}},
			one("datastore.entities.get", doc)},
		{fsPrefix + "Listen", &firestorepb.ListenRequest{Database: db, TargetChange: &firestorepb.ListenRequest_RemoveTarget{RemoveTarget: 1}}, nil},
		{tasksPrefix + "CreateTask", &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: oidcTask}, []need{
			{perm: "cloudtasks.tasks.create", resource: queue},
			{perm: "iam.serviceAccounts.actAs", resource: "projects/p/serviceAccounts/tasks-invoker@p.iam.gserviceaccount.com"},
		}},
		{tasksPrefix + "CreateTask", &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: oauthTask}, []need{
			{perm: "cloudtasks.tasks.create", resource: queue},
			{perm: "iam.serviceAccounts.actAs", resource: "projects/-/serviceAccounts/x@y.example"},
		}},
		{tasksPrefix + "GetTask", &cloudtaskspb.GetTaskRequest{Name: queue + "/tasks/t"}, one("cloudtasks.tasks.get", queue+"/tasks/t")},
		{tasksPrefix + "CreateQueue", &cloudtaskspb.CreateQueueRequest{Parent: "projects/p/locations/l", Queue: &cloudtaskspb.Queue{Name: queue}}, one("cloudtasks.queues.create", queue)},
		{writePrefix + "AppendRows", &storagepb.AppendRowsRequest{WriteStream: table + "/streams/_default", TraceId: "x"}, one("bigquery.tables.updateData", table)},
		{writePrefix + "AppendRows", &storagepb.AppendRowsRequest{TraceId: "x"}, nil},
		{writePrefix + "CreateWriteStream", &storagepb.CreateWriteStreamRequest{Parent: table}, one("bigquery.tables.updateData", table)},
		{writePrefix + "FinalizeWriteStream", &storagepb.FinalizeWriteStreamRequest{Name: table + "/streams/s1"}, one("bigquery.tables.updateData", table)},
		{"/google.cloud.secretmanager.v1.SecretManagerService/AccessSecretVersion", &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/p/secrets/s/versions/latest"},
			one("secretmanager.versions.access", "projects/p/secrets/s/versions/latest")},
	}
	for _, tt := range tests {
		r, ok := grpcMethods[tt.method]
		if !ok {
			t.Errorf("%s not in the table", tt.method)
			continue
		}
		b, err := proto.Marshal(tt.req)
		if err != nil {
			t.Fatal(err)
		}
		for _, full := range []bool{false, true} {
			got, _, err := r.evaluate(b, full)
			if err != nil {
				t.Errorf("%s evaluate(full=%v) = %v", tt.method, full, err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(need{})); diff != "" {
				t.Errorf("%s(%v) needs mismatch (full=%v) (-want +got):\n%s", tt.method, tt.req, full, diff)
			}
		}
	}
}

func TestRESTNeeds(t *testing.T) {
	const (
		p     = "/bigquery/v2/projects/p"
		table = "projects/p/datasets/d/tables/t"
	)
	tests := []struct {
		method, path, wantOp string
		want                 []need
	}{
		{"POST", p + "/datasets/d/tables/t/insertAll", "bigquery.tabledata.insertAll", []need{
			{perm: "bigquery.tables.updateData", resource: table}, {perm: "bigquery.tables.get", resource: table}, {perm: "bigquery.datasets.get", resource: "projects/p/datasets/d"}}},
		{"GET", p + "/datasets/d/tables/t/data", "bigquery.tabledata.list", one("bigquery.tables.getData", table)},
		{"GET", p + "/datasets/d/tables/t", "bigquery.tables.get", one("bigquery.tables.get", table)},
		{"PATCH", p + "/datasets/d/tables/t", "bigquery.tables.patch", one("bigquery.tables.update", table)},
		{"POST", p + "/datasets/d/tables", "bigquery.tables.insert", one("bigquery.tables.create", "projects/p/datasets/d")},
		{"GET", p + "/datasets/d", "bigquery.datasets.get", one("bigquery.datasets.get", "projects/p/datasets/d")},
		{"POST", p + "/datasets", "bigquery.datasets.insert", one("bigquery.datasets.create", "projects/p")},
		{"POST", p + "/jobs", "bigquery.jobs.insert", one("bigquery.jobs.create", "projects/p")},
		{"POST", "/upload/bigquery/v2/projects/p/jobs", "bigquery.jobs.insert", one("bigquery.jobs.create", "projects/p")},
		{"POST", p + "/queries", "bigquery.jobs.query", one("bigquery.jobs.create", "projects/p")},
		{"GET", p + "/queries/j1", "bigquery.jobs.getQueryResults", []need{{perm: "bigquery.jobs.get", resource: "projects/p/jobs/j1", byCreator: true}}},
		{"GET", p + "/jobs/j1", "bigquery.jobs.get", []need{{perm: "bigquery.jobs.get", resource: "projects/p/jobs/j1", byCreator: true}}},
		{"POST", p + "/jobs/j1/cancel", "bigquery.jobs.cancel", []need{{perm: "bigquery.jobs.update", resource: "projects/p/jobs/j1", byCreator: true}}},
		{"GET", p + "/datasets", "", nil},
		{"GET", "/bigquery/v2/projects/", "", nil},
		{"POST", p + "/datasets/d/tables/t/unknownVerb", "", nil},
	}
	for _, tt := range tests {
		op, got, ok := restNeeds(tt.method, tt.path)
		if op != tt.wantOp || ok != (tt.wantOp != "") {
			t.Errorf("restNeeds(%s %s) op = %q, %v, want %q", tt.method, tt.path, op, ok, tt.wantOp)
		}
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(need{})); diff != "" {
			t.Errorf("restNeeds(%s %s) mismatch (-want +got):\n%s", tt.method, tt.path, diff)
		}
	}
}
