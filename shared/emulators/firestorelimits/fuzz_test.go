package firestorelimits

import (
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// FuzzCheck gives Check whatever bytes parse as a CommitRequest: it must not panic, and what it
// returns is nil or a gRPC status. The seeds are small requests near each limit.
func FuzzCheck(f *testing.F) {
	seeds := []*firestorepb.CommitRequest{
		commit(set("c/d", fields{"a": integer(1), "m": mp(fields{"x": arr(str("s"), null(), geo())})})),
		commit(update("c/d", fields{"a": mp(fields{"b": vector(2)})}, "a.b", "`x`.y"), increments("c/d", 0, 3)),
		commit(set("c/d", fields{"f": nestedMaps(21)})),
		commit(set("a/b/c/d", fields{"r": ref(docName("x/y")), "t": timestamp(), "b": bytesOf(3)}),
			&firestorepb.Write{Operation: &firestorepb.Write_Delete{Delete: docName("c/gone")}}),
		commit(&firestorepb.Write{Operation: &firestorepb.Write_Transform{Transform: &firestorepb.DocumentTransform{
			Document: docName("c/t"), FieldTransforms: increments("c/t", 0, 2).UpdateTransforms}}}),
		commit(set("c/"+strings.Repeat("i", 1501), nil)),
		{},
	}
	for _, s := range seeds {
		b, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	ck, err := New(Config{
		Exemptions:       []Exemption{{CollectionGroup: "c", FieldPath: "m"}, {CollectionGroup: "d", FieldPath: "*"}},
		CompositeIndexes: []CompositeIndex{{CollectionGroup: "c", Fields: []IndexField{{FieldPath: "a", Mode: ArrayContains}, {FieldPath: "m.x", Mode: Ascending}}}},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req firestorepb.CommitRequest
		if proto.Unmarshal(b, &req) != nil {
			return
		}
		for _, c := range []*Checker{ck, automatic} {
			if err := c.Check(context.Background(), MethodCommit, &req); err != nil {
				if _, ok := status.FromError(err); !ok {
					t.Errorf("Check = %v, not a gRPC status", err)
				}
			}
			bw := &firestorepb.BatchWriteRequest{Database: req.Database, Writes: req.Writes}
			_ = c.Check(context.Background(), MethodBatchWrite, bw)
			for _, w := range req.Writes {
				_ = DocumentSize(w.GetUpdate())
				_ = c.IndexUsage(w.GetUpdate())
			}
		}
	})
}
