package firestorelimits

import (
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

var fixedTime = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// Builders of requests, so that test tables read like the documents they write.

type fields = map[string]*firestorepb.Value

func str(s string) *firestorepb.Value {
	return &firestorepb.Value{ValueType: &firestorepb.Value_StringValue{StringValue: s}}
}

func integer(i int64) *firestorepb.Value {
	return &firestorepb.Value{ValueType: &firestorepb.Value_IntegerValue{IntegerValue: i}}
}

func double(f float64) *firestorepb.Value {
	return &firestorepb.Value{ValueType: &firestorepb.Value_DoubleValue{DoubleValue: f}}
}

func boolean(b bool) *firestorepb.Value {
	return &firestorepb.Value{ValueType: &firestorepb.Value_BooleanValue{BooleanValue: b}}
}

func bytesOf(n int) *firestorepb.Value {
	return &firestorepb.Value{ValueType: &firestorepb.Value_BytesValue{BytesValue: make([]byte, n)}}
}

func null() *firestorepb.Value {
	return &firestorepb.Value{ValueType: &firestorepb.Value_NullValue{}}
}

func geo() *firestorepb.Value {
	// Sized the same whatever the point; no coordinates spares an import of latlng.
	return &firestorepb.Value{ValueType: &firestorepb.Value_GeoPointValue{}}
}

func timestamp() *firestorepb.Value {
	return &firestorepb.Value{ValueType: &firestorepb.Value_TimestampValue{TimestampValue: timestamppb.New(fixedTime)}}
}

func ref(name string) *firestorepb.Value {
	return &firestorepb.Value{ValueType: &firestorepb.Value_ReferenceValue{ReferenceValue: name}}
}

func mp(f fields) *firestorepb.Value {
	return &firestorepb.Value{ValueType: &firestorepb.Value_MapValue{MapValue: &firestorepb.MapValue{Fields: f}}}
}

func arr(vs ...*firestorepb.Value) *firestorepb.Value {
	return &firestorepb.Value{ValueType: &firestorepb.Value_ArrayValue{ArrayValue: &firestorepb.ArrayValue{Values: vs}}}
}

func vector(dims int) *firestorepb.Value {
	var vs []*firestorepb.Value
	for i := range dims {
		vs = append(vs, double(float64(i)))
	}
	return mp(fields{"__type__": str("__vector__"), "value": arr(vs...)})
}

// nestedMaps returns depth maps, each holding the next under "x", around an integer.
func nestedMaps(depth int) *firestorepb.Value {
	v := integer(1)
	for range depth {
		v = mp(fields{"x": v})
	}
	return v
}

// manyFields returns a map of n integer fields named k0, k1, ...
func manyFields(n int) fields {
	f := make(fields, n)
	for i := range n {
		f[fmt.Sprintf("k%d", i)] = integer(int64(i))
	}
	return f
}

// distinctInts returns an array of n different integers.
func distinctInts(n int) *firestorepb.Value {
	vs := make([]*firestorepb.Value, n)
	for i := range vs {
		vs[i] = integer(int64(i))
	}
	return arr(vs...)
}

// testDB is the database of the requests the unit tests check.
const testDB = "projects/p/databases/(default)"

// docName returns the full resource name of a document path of testDB.
func docName(path string) string { return testDB + "/documents/" + path }

// set is a write of a whole document.
func set(path string, f fields) *firestorepb.Write {
	return &firestorepb.Write{Operation: &firestorepb.Write_Update{Update: &firestorepb.Document{Name: docName(path), Fields: f}}}
}

// update is a write of the masked fields.
func update(path string, f fields, mask ...string) *firestorepb.Write {
	w := set(path, f)
	w.UpdateMask = &firestorepb.DocumentMask{FieldPaths: mask}
	return w
}

// increments is an update of nothing but n increments of the fields f<from>...
func increments(path string, from, n int) *firestorepb.Write {
	w := update(path, nil)
	for i := range n {
		w.UpdateTransforms = append(w.UpdateTransforms, &firestorepb.DocumentTransform_FieldTransform{
			FieldPath:     fmt.Sprintf("f%d", from+i),
			TransformType: &firestorepb.DocumentTransform_FieldTransform_Increment{Increment: integer(1)},
		})
	}
	return w
}

// transformAt is an update of nothing but one increment of the field at path.
func transformAt(doc, path string) *firestorepb.Write {
	w := update(doc, nil)
	w.UpdateTransforms = []*firestorepb.DocumentTransform_FieldTransform{{
		FieldPath:     path,
		TransformType: &firestorepb.DocumentTransform_FieldTransform_Increment{Increment: integer(1)},
	}}
	return w
}

func commit(ws ...*firestorepb.Write) *firestorepb.CommitRequest {
	return &firestorepb.CommitRequest{Database: testDB, Writes: ws}
}

// onDatabase returns req for database db: new requests, writes and documents, with the same
// fields, masks and transforms (not copied: the requests are large, and nothing changes them).
func onDatabase(req *firestorepb.CommitRequest, db string) *firestorepb.CommitRequest {
	out := &firestorepb.CommitRequest{Database: db}
	for _, w := range req.GetWrites() {
		nw := &firestorepb.Write{Operation: w.Operation, UpdateMask: w.UpdateMask, UpdateTransforms: w.UpdateTransforms, CurrentDocument: w.CurrentDocument}
		if u := w.GetUpdate(); u != nil {
			nw.Operation = &firestorepb.Write_Update{Update: &firestorepb.Document{Name: strings.Replace(u.Name, testDB, db, 1), Fields: u.Fields}}
		}
		out.Writes = append(out.Writes, nw)
	}
	return out
}

// sized returns a commit of documents big/0, big/1, ... of one string field each, whose
// serialized size is exactly n bytes (n over about 2 KB). The documents share one string, so
// that the request costs megabytes only where it is serialized.
func sized(n int) *firestorepb.CommitRequest {
	const perDoc = 1_000_000
	shared := strings.Repeat("x", perDoc)
	var ws []*firestorepb.Write
	for i := 0; i*perDoc < n; i++ {
		ws = append(ws, set(fmt.Sprintf("big/%d", i), fields{"s": str(shared)}))
	}
	req := commit(ws...)
	last := req.Writes[len(req.Writes)-1].GetUpdate().Fields
	// Length prefixes grow by a byte at some lengths: move toward n until exact.
	for range 10 {
		d := n - proto.Size(req)
		if d == 0 {
			return req
		}
		last["s"] = str(strings.Repeat("x", len(last["s"].GetStringValue())+d))
	}
	panic(fmt.Sprintf("cannot make a commit of exactly %d bytes", n))
}

// statusOf returns the code and message of a gRPC status error, or "" for nil.
func statusOf(err error) string {
	if err == nil {
		return ""
	}
	s, ok := status.FromError(err)
	if !ok {
		return "not a status: " + err.Error()
	}
	return s.Code().String() + ": " + s.Message()
}

// refusal is statusOf for an INVALID_ARGUMENT with message msg.
func refusal(msg string) string {
	return codes.InvalidArgument.String() + ": " + msg
}
