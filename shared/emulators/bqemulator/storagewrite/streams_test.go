package storagewrite

import (
	"context"
	"testing"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"cloud.google.com/go/bigquery/storage/managedwriter"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestPendingStreamVisibleOnlyAfterCommit(t *testing.T) {
	e := newEnv(t)
	table := e.table("events")
	md, dp := e.descriptor(t, table)
	enc := encoder{t: t, md: md}
	ctx := context.Background()
	ms := e.writer(t, table, managedwriter.PendingStream, dp)

	var results []*managedwriter.AppendResult
	for _, rows := range [][][]byte{
		{enc.row(map[string]any{"name": "a"}), enc.row(map[string]any{"name": "b"})},
		{enc.row(map[string]any{"name": "c"})},
	} {
		res, err := ms.AppendRows(ctx, rows)
		if err != nil {
			t.Fatalf("AppendRows: %v", err)
		}
		results = append(results, res)
	}
	var offsets []int64
	for _, r := range results {
		off, err := r.GetResult(ctx)
		if err != nil {
			t.Fatalf("pending append = %v, want success", err)
		}
		offsets = append(offsets, off)
	}
	if diff := cmp.Diff([]int64{0, 2}, offsets); diff != "" {
		t.Errorf("pending append offsets (-want +got):\n%s", diff)
	}
	if n := e.backend.count(testProject, testDataset, "events"); n != 0 {
		t.Errorf("rows visible before commit = %d, want 0", n)
	}

	// Committing before finalizing is a stream error, and commits nothing.
	resp, err := e.client.BatchCommitWriteStreams(ctx, &storagepb.BatchCommitWriteStreamsRequest{Parent: table, WriteStreams: []string{ms.StreamName()}})
	if err != nil {
		t.Fatalf("BatchCommitWriteStreams: %v", err)
	}
	if len(resp.GetStreamErrors()) != 1 || resp.GetStreamErrors()[0].GetCode() != storagepb.StorageError_INVALID_STREAM_STATE || resp.GetCommitTime() != nil {
		t.Errorf("BatchCommitWriteStreams(unfinalized) = %v, want one INVALID_STREAM_STATE error and no commit time", resp)
	}

	rowCount, err := ms.Finalize(ctx)
	if err != nil || rowCount != 3 {
		t.Errorf("Finalize() = %d, %v, want 3, nil", rowCount, err)
	}
	if n := e.backend.count(testProject, testDataset, "events"); n != 0 {
		t.Errorf("rows visible after finalize = %d, want 0", n)
	}
	resp, err = e.client.BatchCommitWriteStreams(ctx, &storagepb.BatchCommitWriteStreamsRequest{Parent: table, WriteStreams: []string{ms.StreamName()}})
	if err != nil || len(resp.GetStreamErrors()) > 0 || resp.GetCommitTime() == nil {
		t.Fatalf("BatchCommitWriteStreams() = %v, %v, want a commit time", resp, err)
	}
	var names []string
	for _, r := range e.backend.rows(testProject, testDataset, "events") {
		names = append(names, r["name"].(string))
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, names); diff != "" {
		t.Errorf("rows after commit (-want +got):\n%s", diff)
	}

	ws, err := e.client.GetWriteStream(ctx, &storagepb.GetWriteStreamRequest{Name: ms.StreamName()})
	if err != nil || ws.GetType() != storagepb.WriteStream_PENDING || ws.GetCommitTime() == nil || ws.GetTableSchema() != nil {
		t.Errorf("GetWriteStream(committed pending, BASIC) = %v, %v, want PENDING with commit time and no schema", ws, err)
	}
	resp, err = e.client.BatchCommitWriteStreams(ctx, &storagepb.BatchCommitWriteStreamsRequest{Parent: table, WriteStreams: []string{ms.StreamName()}})
	if err != nil || len(resp.GetStreamErrors()) != 1 || resp.GetStreamErrors()[0].GetCode() != storagepb.StorageError_STREAM_ALREADY_COMMITTED {
		t.Errorf("second BatchCommitWriteStreams() = %v, %v, want STREAM_ALREADY_COMMITTED", resp, err)
	}
}

func TestCommittedStreamOffsets(t *testing.T) {
	e := newEnv(t)
	table := e.table("events")
	md, dp := e.descriptor(t, table)
	enc := encoder{t: t, md: md}
	ctx := context.Background()
	ms := e.writer(t, table, managedwriter.CommittedStream, dp)
	two := [][]byte{enc.row(map[string]any{"name": "a"}), enc.row(map[string]any{"name": "b"})}

	tests := []struct {
		name       string
		offset     int64 // -1: none
		wantCode   codes.Code
		wantOffset int64
		wantRows   int
	}{
		{"first at 0", 0, codes.OK, 0, 2},
		{"next at 2", 2, codes.OK, 2, 4},
		{"retry of 2 already exists", 2, codes.AlreadyExists, managedwriter.NoStreamOffset, 4},
		{"gap is out of range", 7, codes.OutOfRange, managedwriter.NoStreamOffset, 4},
		{"no offset appends at the end", -1, codes.OK, 4, 6},
	}
	for _, tc := range tests {
		var opts []managedwriter.AppendOption
		if tc.offset >= 0 {
			opts = append(opts, managedwriter.WithOffset(tc.offset))
		}
		res, err := ms.AppendRows(ctx, two, opts...)
		if err != nil {
			t.Fatalf("%s: AppendRows: %v", tc.name, err)
		}
		off, err := res.GetResult(ctx)
		if status.Code(err) != tc.wantCode || off != tc.wantOffset {
			t.Errorf("%s: AppendRows(offset %d) = %d, %v, want %d, %v", tc.name, tc.offset, off, err, tc.wantOffset, tc.wantCode)
		}
		if n := e.backend.count(testProject, testDataset, "events"); n != tc.wantRows {
			t.Errorf("%s: rows in table = %d, want %d", tc.name, n, tc.wantRows)
		}
	}

	if _, err := ms.Finalize(ctx); err != nil {
		t.Fatalf("Finalize: %v", err)
	}
	res, err := ms.AppendRows(ctx, two)
	if err != nil {
		t.Fatalf("AppendRows after finalize: %v", err)
	}
	if _, err := res.GetResult(ctx); status.Code(err) != codes.InvalidArgument {
		t.Errorf("AppendRows after finalize = %v, want InvalidArgument", err)
	}
}

func TestBufferedStreamFlush(t *testing.T) {
	e := newEnv(t)
	table := e.table("events")
	md, dp := e.descriptor(t, table)
	enc := encoder{t: t, md: md}
	ctx := context.Background()
	ms := e.writer(t, table, managedwriter.BufferedStream, dp)
	res, err := ms.AppendRows(ctx, [][]byte{enc.row(map[string]any{"name": "a"}), enc.row(map[string]any{"name": "b"}), enc.row(map[string]any{"name": "c"})})
	if err != nil {
		t.Fatalf("AppendRows: %v", err)
	}
	if _, err := res.GetResult(ctx); err != nil {
		t.Fatalf("buffered append = %v, want success", err)
	}

	tests := []struct {
		offset   int64
		wantCode codes.Code
		wantRows int
	}{
		{-1, codes.OK, 0}, // before any flush
		{0, codes.OK, 1},
		{2, codes.OK, 3},
		{1, codes.OK, 3}, // already flushed: no-op
		{3, codes.OutOfRange, 3},
	}
	for _, tc := range tests {
		if tc.offset >= 0 {
			_, err := ms.FlushRows(ctx, tc.offset)
			if status.Code(err) != tc.wantCode {
				t.Errorf("FlushRows(%d) = %v, want %v", tc.offset, err, tc.wantCode)
			}
		}
		if n := e.backend.count(testProject, testDataset, "events"); n != tc.wantRows {
			t.Errorf("after FlushRows(%d): rows visible = %d, want %d", tc.offset, n, tc.wantRows)
		}
	}

	committed := e.writer(t, table, managedwriter.CommittedStream, dp)
	if _, err := committed.FlushRows(ctx, 0); status.Code(err) != codes.InvalidArgument {
		t.Errorf("FlushRows on a COMMITTED stream = %v, want InvalidArgument", err)
	}
}

func TestGetWriteStream(t *testing.T) {
	e := newEnv(t)
	table := e.table("events")
	ctx := context.Background()
	tests := []struct {
		name     string
		req      *storagepb.GetWriteStreamRequest
		wantCode codes.Code
		wantType storagepb.WriteStream_Type
		wantSch  bool
	}{
		{"default basic", &storagepb.GetWriteStreamRequest{Name: table + "/streams/_default"}, codes.OK, storagepb.WriteStream_COMMITTED, false},
		{"default full", &storagepb.GetWriteStreamRequest{Name: table + "/streams/_default", View: storagepb.WriteStreamView_FULL}, codes.OK, storagepb.WriteStream_COMMITTED, true},
		{"unknown stream", &storagepb.GetWriteStreamRequest{Name: table + "/streams/nope"}, codes.NotFound, 0, false},
		{"unknown table", &storagepb.GetWriteStreamRequest{Name: managedwriter.TableParentFromParts(testProject, testDataset, "nope") + "/streams/_default"}, codes.NotFound, 0, false},
		{"malformed name", &storagepb.GetWriteStreamRequest{Name: "tables/x"}, codes.InvalidArgument, 0, false},
	}
	for _, tc := range tests {
		ws, err := e.client.GetWriteStream(ctx, tc.req)
		if status.Code(err) != tc.wantCode {
			t.Errorf("GetWriteStream(%s) = %v, want %v", tc.name, err, tc.wantCode)
			continue
		}
		if err != nil {
			continue
		}
		if ws.GetType() != tc.wantType || (ws.GetTableSchema() != nil) != tc.wantSch || ws.GetLocation() != "US" {
			t.Errorf("GetWriteStream(%s) = %v, want type %v, schema %v, location US", tc.name, ws, tc.wantType, tc.wantSch)
		}
	}
}
