package iamcheck

import (
	"sort"
	"testing"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/proto"
)

// FuzzRequestDecoding feeds arbitrary bytes to every row of the method table, decoded fully and
// by the scanners, and arbitrary paths to the REST table: none may panic.
func FuzzRequestDecoding(f *testing.F) {
	for _, m := range []proto.Message{
		&pubsubpb.PublishRequest{Topic: "projects/p/topics/t", Messages: []*pubsubpb.PubsubMessage{{Data: []byte("x")}}},
		&firestorepb.CommitRequest{Database: "projects/p/databases/(default)", Writes: []*firestorepb.Write{{Operation: &firestorepb.Write_Delete{Delete: "d"}}}},
		&cloudtaskspb.CreateTaskRequest{Parent: "projects/p/locations/l/queues/q", Task: &cloudtaskspb.Task{MessageType: &cloudtaskspb.Task_HttpRequest{HttpRequest: &cloudtaskspb.HttpRequest{
			AuthorizationHeader: &cloudtaskspb.HttpRequest_OidcToken{OidcToken: &cloudtaskspb.OidcToken{ServiceAccountEmail: "a@p.iam.gserviceaccount.com"}}}}}},
		&storagepb.AppendRowsRequest{WriteStream: "projects/p/datasets/d/tables/t/streams/_default", Rows: &storagepb.AppendRowsRequest_ProtoRows{ProtoRows: &storagepb.AppendRowsRequest_ProtoData{Rows: &storagepb.ProtoRows{SerializedRows: [][]byte{{1, 2}}}}}},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "/bigquery/v2/projects/p/datasets/d/tables/t/insertAll")
	}
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, "/upload/bigquery/v2/projects//jobs")
	names := make([]string, 0, len(grpcMethods))
	for n := range grpcMethods {
		names = append(names, n)
	}
	sort.Strings(names)
	f.Fuzz(func(t *testing.T, payload []byte, path string) {
		for _, n := range names {
			r := grpcMethods[n]
			r.evaluate(payload, false)
			r.evaluate(payload, true)
		}
		for _, m := range []string{"GET", "POST", "PATCH", "PUT", "DELETE"} {
			restNeeds(m, path)
		}
	})
}
