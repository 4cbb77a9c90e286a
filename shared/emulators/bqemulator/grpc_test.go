package bqemulator

import (
	"context"
	"testing"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	bq "google.golang.org/api/bigquery/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// TestStorageWriteSharesPort checks gRPC (HTTP/2 prior knowledge) reaches the
// Storage Write service on the REST port and sees tables made over REST.
func TestStorageWriteSharesPort(t *testing.T) {
	srv, _, _ := newTestServer(t)
	ctx := context.Background()
	srv.CreateDataset(ctx, "", "ds")
	if err := srv.CreateTable(ctx, "", "ds", "t", &bq.TableSchema{Fields: []*bq.TableFieldSchema{{Name: "id", Type: "STRING"}}}); err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	wc := storagepb.NewBigQueryWriteClient(conn)
	tests := []struct {
		table string
		want  codes.Code
	}{
		{"projects/" + testProject + "/datasets/ds/tables/t", codes.OK},
		{"projects/" + testProject + "/datasets/ds/tables/missing", codes.NotFound},
	}
	for _, tc := range tests {
		_, err := wc.CreateWriteStream(ctx, &storagepb.CreateWriteStreamRequest{
			Parent:      tc.table,
			WriteStream: &storagepb.WriteStream{Type: storagepb.WriteStream_PENDING},
		})
		if got := status.Code(err); got != tc.want {
			t.Errorf("CreateWriteStream(%s) code = %v (%v), want %v", tc.table, got, err, tc.want)
		}
	}
}
