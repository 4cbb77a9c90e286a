package storagewrite

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Validator is optionally implemented by a Backend to check rows without appending them;
// pending and buffered streams use it so bad rows fail at append time, as in BigQuery, rather
// than at commit or flush.
type Validator interface {
	ValidateRows(ctx context.Context, project, dataset, table string, rows []map[string]any) ([]RowError, error)
}

// writeStream is an explicit (non-default) stream made by CreateWriteStream.
type writeStream struct {
	name    string
	table   tableRef
	typ     storagepb.WriteStream_Type
	created time.Time

	// mu guards the fields below; appends to one stream are serialized so offsets stay exact.
	mu        sync.Mutex
	finalized bool
	committed time.Time        // PENDING: when BatchCommitWriteStreams made it visible
	pending   []map[string]any // PENDING and BUFFERED rows not yet in the backend
	count     int64            // rows appended so far: the next offset
	flushed   int64            // BUFFERED: rows [0, flushed) are in the backend
}

// proto renders the stream; schema is set only for view FULL and CreateWriteStream.
func (w *writeStream) proto(location string, schema *storagepb.TableSchema) *storagepb.WriteStream {
	w.mu.Lock()
	defer w.mu.Unlock()
	ws := &storagepb.WriteStream{
		Name:        w.name,
		Type:        w.typ,
		CreateTime:  timestamppb.New(w.created),
		TableSchema: schema,
		WriteMode:   storagepb.WriteStream_INSERT,
		Location:    location,
	}
	switch {
	case w.typ == storagepb.WriteStream_COMMITTED:
		// The API documents a COMMITTED stream's commit time as its create time.
		ws.CommitTime = timestamppb.New(w.created)
	case !w.committed.IsZero():
		ws.CommitTime = timestamppb.New(w.committed)
	}
	return ws
}

// lookupStream returns the explicit stream called name.
func (s *Service) lookupStream(name string) (*writeStream, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.streams[name]
	return w, ok
}

// storageSchema fetches the table's schema in the Storage API's form.
func (s *Service) storageSchema(ctx context.Context, t tableRef, entity string) (*storagepb.TableSchema, error) {
	ts, err := s.backend.TableSchema(ctx, t.project, t.dataset, t.table)
	if err != nil {
		return nil, backendStatus(err, entity).Err()
	}
	out, err := toStorageSchema(ts)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "converting schema of %s: %v", t, err)
	}
	return out, nil
}

// CreateWriteStream creates a COMMITTED, PENDING or BUFFERED stream on a table.
func (s *Service) CreateWriteStream(ctx context.Context, req *storagepb.CreateWriteStreamRequest) (*storagepb.WriteStream, error) {
	if err := s.checkFault(MethodCreateWriteStream); err != nil {
		return nil, err
	}
	t, err := parseTable(req.GetParent())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	typ := req.GetWriteStream().GetType()
	switch typ {
	case storagepb.WriteStream_COMMITTED, storagepb.WriteStream_PENDING, storagepb.WriteStream_BUFFERED:
	default:
		return nil, status.Errorf(codes.InvalidArgument, "write stream type must be COMMITTED, PENDING or BUFFERED, got %s", typ)
	}
	schema, err := s.storageSchema(ctx, t, t.String())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.nextID++
	w := &writeStream{
		name:    t.streamName("s" + strconv.FormatInt(s.nextID, 10)),
		table:   t,
		typ:     typ,
		created: s.now().UTC(),
	}
	s.streams[w.name] = w
	s.mu.Unlock()
	s.log.Debug("write stream created", "stream", w.name, "type", typ.String())
	return w.proto(s.location, schema), nil
}

// GetWriteStream describes the _default stream or an explicit one; managedwriter calls it
// when a ManagedStream is built, to learn the stream's type and location.
func (s *Service) GetWriteStream(ctx context.Context, req *storagepb.GetWriteStreamRequest) (*storagepb.WriteStream, error) {
	if err := s.checkFault(MethodGetWriteStream); err != nil {
		return nil, err
	}
	t, id, err := parseStream(req.GetName())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	schema, err := s.storageSchema(ctx, t, req.GetName())
	if err != nil {
		return nil, err
	}
	if req.GetView() != storagepb.WriteStreamView_FULL {
		schema = nil
	}
	if id == defaultStreamID {
		now := timestamppb.New(s.now().UTC())
		return &storagepb.WriteStream{
			Name:        req.GetName(),
			Type:        storagepb.WriteStream_COMMITTED,
			CreateTime:  now,
			CommitTime:  now,
			TableSchema: schema,
			WriteMode:   storagepb.WriteStream_INSERT,
			Location:    s.location,
		}, nil
	}
	w, ok := s.lookupStream(req.GetName())
	if !ok {
		return nil, streamNotFound(req.GetName()).Err()
	}
	return w.proto(s.location, schema), nil
}

// FinalizeWriteStream stops further appends to an explicit stream.
func (s *Service) FinalizeWriteStream(ctx context.Context, req *storagepb.FinalizeWriteStreamRequest) (*storagepb.FinalizeWriteStreamResponse, error) {
	if err := s.checkFault(MethodFinalizeWriteStream); err != nil {
		return nil, err
	}
	_, id, err := parseStream(req.GetName())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if id == defaultStreamID {
		return nil, storageStatus(codes.InvalidArgument, storagepb.StorageError_INVALID_STREAM_TYPE, req.GetName(), "Cannot finalize the _default stream.").Err()
	}
	w, ok := s.lookupStream(req.GetName())
	if !ok {
		return nil, streamNotFound(req.GetName()).Err()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.finalized = true
	return &storagepb.FinalizeWriteStreamResponse{RowCount: w.count}, nil
}

// BatchCommitWriteStreams makes finalized PENDING streams visible, all in one backend append.
func (s *Service) BatchCommitWriteStreams(ctx context.Context, req *storagepb.BatchCommitWriteStreamsRequest) (*storagepb.BatchCommitWriteStreamsResponse, error) {
	if err := s.checkFault(MethodBatchCommitWriteStreams); err != nil {
		return nil, err
	}
	t, err := parseTable(req.GetParent())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if len(req.GetWriteStreams()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "write_streams must not be empty")
	}
	names := slices.Clone(req.GetWriteStreams())
	slices.Sort(names) // a fixed lock order, so concurrent commits cannot deadlock
	names = slices.Compact(names)
	var streams []*writeStream
	for _, n := range names {
		w, ok := s.lookupStream(n)
		if !ok || w.table != t {
			return &storagepb.BatchCommitWriteStreamsResponse{StreamErrors: []*storagepb.StorageError{{
				Code: storagepb.StorageError_STREAM_NOT_FOUND, Entity: n, ErrorMessage: fmt.Sprintf("Stream is not found under table %s.", t),
			}}}, nil
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		streams = append(streams, w)
	}
	var rows []map[string]any
	var streamErrs []*storagepb.StorageError
	for _, w := range streams {
		switch {
		case w.typ != storagepb.WriteStream_PENDING:
			streamErrs = append(streamErrs, &storagepb.StorageError{Code: storagepb.StorageError_INVALID_STREAM_TYPE, Entity: w.name, ErrorMessage: "Stream is not a PENDING stream."})
		case !w.committed.IsZero():
			streamErrs = append(streamErrs, &storagepb.StorageError{Code: storagepb.StorageError_STREAM_ALREADY_COMMITTED, Entity: w.name, ErrorMessage: "Stream is already committed."})
		case !w.finalized:
			streamErrs = append(streamErrs, &storagepb.StorageError{Code: storagepb.StorageError_INVALID_STREAM_STATE, Entity: w.name, ErrorMessage: "Stream is not finalized."})
		default:
			rows = append(rows, w.pending...)
		}
	}
	if len(streamErrs) > 0 {
		return &storagepb.BatchCommitWriteStreamsResponse{StreamErrors: streamErrs}, nil
	}
	if len(rows) > 0 {
		rowErrs, err := s.backend.AppendRows(ctx, t.project, t.dataset, t.table, rows)
		if err != nil {
			return nil, backendStatus(err, t.String()).Err()
		}
		if len(rowErrs) > 0 {
			// Rows were checked at append time; this only happens if the table changed since.
			return nil, status.Errorf(codes.FailedPrecondition, "committing to %s: %d rows no longer fit the table schema, first: %s", t, len(rowErrs), rowErrs[0].Message)
		}
	}
	now := s.now().UTC()
	for _, w := range streams {
		w.committed = now
		w.pending = nil
	}
	return &storagepb.BatchCommitWriteStreamsResponse{CommitTime: timestamppb.New(now)}, nil
}

// FlushRows makes a BUFFERED stream's rows up to and including offset visible.
func (s *Service) FlushRows(ctx context.Context, req *storagepb.FlushRowsRequest) (*storagepb.FlushRowsResponse, error) {
	if err := s.checkFault(MethodFlushRows); err != nil {
		return nil, err
	}
	if _, _, err := parseStream(req.GetWriteStream()); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	w, ok := s.lookupStream(req.GetWriteStream())
	if !ok {
		return nil, streamNotFound(req.GetWriteStream()).Err()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.typ != storagepb.WriteStream_BUFFERED {
		return nil, storageStatus(codes.InvalidArgument, storagepb.StorageError_INVALID_STREAM_TYPE, w.name, "FlushRows is only supported on BUFFERED streams.").Err()
	}
	offset := req.GetOffset().GetValue()
	if offset < 0 || offset >= w.count {
		return nil, storageStatus(codes.OutOfRange, storagepb.StorageError_OFFSET_OUT_OF_RANGE, w.name,
			fmt.Sprintf("Offset %d is beyond the end of the stream (%d rows).", offset, w.count)).Err()
	}
	if n := int(offset + 1 - w.flushed); n > 0 {
		rowErrs, err := s.backend.AppendRows(ctx, w.table.project, w.table.dataset, w.table.table, w.pending[:n])
		if err != nil {
			return nil, backendStatus(err, w.name).Err()
		}
		if len(rowErrs) > 0 {
			return nil, status.Errorf(codes.FailedPrecondition, "flushing %s: %d rows no longer fit the table schema, first: %s", w.name, len(rowErrs), rowErrs[0].Message)
		}
		w.pending = slices.Delete(w.pending, 0, n)
		w.flushed = offset + 1
	}
	return &storagepb.FlushRowsResponse{Offset: offset}, nil
}

// appendExplicit appends decoded rows to an explicit stream at the optional offset. It returns
// the offset the rows landed at, the backend's row errors, or an in-band error status.
func (s *Service) appendExplicit(ctx context.Context, w *writeStream, offset *int64, rows []map[string]any) (int64, []RowError, *status.Status) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.finalized:
		return 0, nil, storageStatus(codes.InvalidArgument, storagepb.StorageError_STREAM_FINALIZED, w.name, "Stream is finalized.")
	case !w.committed.IsZero():
		return 0, nil, storageStatus(codes.InvalidArgument, storagepb.StorageError_STREAM_ALREADY_COMMITTED, w.name, "Stream is already committed.")
	}
	if offset != nil {
		switch {
		case *offset < w.count:
			return 0, nil, storageStatus(codes.AlreadyExists, storagepb.StorageError_OFFSET_ALREADY_EXISTS, w.name,
				fmt.Sprintf("The offset is within stream, expected offset %d, received %d.", w.count, *offset))
		case *offset > w.count:
			return 0, nil, storageStatus(codes.OutOfRange, storagepb.StorageError_OFFSET_OUT_OF_RANGE, w.name,
				fmt.Sprintf("The offset is beyond stream, expected offset %d, received %d.", w.count, *offset))
		}
	}
	t := w.table
	if w.typ == storagepb.WriteStream_COMMITTED {
		rowErrs, err := s.backend.AppendRows(ctx, t.project, t.dataset, t.table, rows)
		if err != nil {
			return 0, nil, backendStatus(err, w.name)
		}
		if len(rowErrs) > 0 {
			return 0, rowErrs, nil
		}
	} else {
		if v, ok := s.backend.(Validator); ok {
			rowErrs, err := v.ValidateRows(ctx, t.project, t.dataset, t.table, rows)
			if err != nil {
				return 0, nil, backendStatus(err, w.name)
			}
			if len(rowErrs) > 0 {
				return 0, rowErrs, nil
			}
		}
		w.pending = append(w.pending, rows...)
	}
	at := w.count
	w.count += int64(len(rows))
	return at, nil, nil
}
