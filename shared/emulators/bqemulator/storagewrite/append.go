package storagewrite

import (
	"context"
	"errors"
	"io"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// connection is the state of one AppendRows bidi stream; only its own goroutine touches it.
type connection struct {
	s       *Service
	current string                  // the write stream of the previous request
	traceID string                  // only the first request's trace id counts
	targets map[string]*appendState // per write stream, as a connection may multiplex default streams
}

// appendState is what a connection knows about one write stream it appends to.
type appendState struct {
	name     string
	table    tableRef
	explicit *writeStream // nil for _default
	schema   *descriptorpb.DescriptorProto
	dec      *decoder
}

// AppendRows serves one bidi stream: each request is answered in order, with an AppendResult,
// an in-band error (row errors, offsets, injected response faults), or, for problems that
// poison the connection (unknown table, bad writer schema), by ending the stream with a status.
func (s *Service) AppendRows(stream storagepb.BigQueryWrite_AppendRowsServer) error {
	ctx := stream.Context()
	c := &connection{s: s, targets: make(map[string]*appendState)}
	send := stream.Send
	if s.latency > 0 {
		d := newDelayedSender(stream.Send, s.latency)
		defer d.close()
		send = d.send
	}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		// An injected connection fault ends the connection once a request has arrived, as a
		// server failing mid-stream does: the client's send has succeeded, and the request's
		// result carries the error (checked before the stream starts, the client's send could
		// race the close and see a bare EOF instead).
		if err := s.checkFault(MethodAppendRows); err != nil {
			return err
		}
		resp, err := c.handle(ctx, req)
		if err != nil {
			s.log.Warn("append connection failed", "stream", c.current, "trace_id", c.traceID, "error", err)
			return err
		}
		if err := send(resp); err != nil {
			return err
		}
	}
}

// delayedSender answers each request latency after it arrived, in order, without holding up
// the requests behind it: a network round trip, pipelined as the real service's is.
type delayedSender struct {
	latency time.Duration
	out     chan delayed
	done    chan struct{}
	err     chan error
}

type delayed struct {
	resp *storagepb.AppendRowsResponse
	at   time.Time
}

func newDelayedSender(send func(*storagepb.AppendRowsResponse) error, latency time.Duration) *delayedSender {
	d := &delayedSender{out: make(chan delayed, 4096), done: make(chan struct{}), err: make(chan error, 1)}
	go func() {
		defer close(d.done)
		for r := range d.out {
			time.Sleep(time.Until(r.at))
			if err := send(r.resp); err != nil {
				d.err <- err
				for range d.out {
				}
				return
			}
		}
	}()
	d.latency = latency
	return d
}

func (d *delayedSender) send(resp *storagepb.AppendRowsResponse) error {
	select {
	case err := <-d.err:
		return err
	default:
	}
	d.out <- delayed{resp: resp, at: time.Now().Add(d.latency)}
	return nil
}

// close waits until every queued response is sent: a handler must not return while a Send runs.
func (d *delayedSender) close() {
	close(d.out)
	<-d.done
}

// handle answers one request; a non-nil error ends the connection.
func (c *connection) handle(ctx context.Context, req *storagepb.AppendRowsRequest) (*storagepb.AppendRowsResponse, error) {
	name := req.GetWriteStream()
	if name == "" {
		name = c.current
	}
	if name == "" {
		return nil, status.Error(codes.InvalidArgument, "write_stream must be set on the first request of a connection")
	}
	if c.current == "" {
		c.traceID = req.GetTraceId()
		c.s.log.Debug("append connection opened", "stream", name, "trace_id", c.traceID)
	}
	c.current = name

	st, err := c.target(name)
	if err != nil {
		return nil, err
	}
	pr := req.GetProtoRows()
	if pr == nil {
		return nil, status.Errorf(codes.InvalidArgument, "only proto_rows are supported; the request has no proto rows. Entity: %s", name)
	}
	if ws := pr.GetWriterSchema().GetProtoDescriptor(); ws != nil && (st.dec == nil || !proto.Equal(ws, st.schema)) {
		if err := c.compile(ctx, st, ws); err != nil {
			return nil, err
		}
	}
	if st.dec == nil {
		return nil, status.Errorf(codes.InvalidArgument, "writer_schema must be set on the first request for a write stream. Entity: %s", name)
	}

	if err := c.s.checkFault(MethodAppendResponse); err != nil {
		return errorResponse(name, status.Convert(err)), nil
	}
	if size := proto.Size(req); size > c.s.maxRequestBytes {
		return errorResponse(name, status.Newf(codes.InvalidArgument,
			"AppendRows request too large: %d bytes, limit %d. Entity: %s", size, c.s.maxRequestBytes, name)), nil
	}
	serialized := pr.GetRows().GetSerializedRows()
	if len(serialized) == 0 {
		return errorResponse(name, status.Newf(codes.InvalidArgument, "No rows present in the request. Entity: %s", name)), nil
	}
	if st.explicit == nil && req.GetOffset() != nil {
		return errorResponse(name, status.Newf(codes.InvalidArgument, "Offset is not supported on the _default stream. Entity: %s", name)), nil
	}

	rows, rowErrs := st.dec.decodeRows(serialized)
	if len(rowErrs) > 0 {
		return rowErrorResponse(name, rowErrs), nil
	}
	if st.explicit != nil {
		var offset *int64
		if o := req.GetOffset(); o != nil {
			offset = &o.Value
		}
		at, rowErrs, errSt := c.s.appendExplicit(ctx, st.explicit, offset, rows)
		switch {
		case errSt != nil:
			return errorResponse(name, errSt), nil
		case len(rowErrs) > 0:
			return rowErrorResponse(name, rowErrs), nil
		}
		return resultResponse(name, wrapperspb.Int64(at)), nil
	}
	t := st.table
	rowErrs, err = c.s.backend.AppendRows(ctx, t.project, t.dataset, t.table, rows)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, tableNotFound(name).Err()
	case err != nil:
		return errorResponse(name, backendStatus(err, name)), nil
	case len(rowErrs) > 0:
		return rowErrorResponse(name, rowErrs), nil
	}
	return resultResponse(name, nil), nil
}

// target returns the connection's state for a write stream, resolving it on first use.
func (c *connection) target(name string) (*appendState, error) {
	if st, ok := c.targets[name]; ok {
		return st, nil
	}
	t, id, err := parseStream(name)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	st := &appendState{name: name, table: t}
	if id != defaultStreamID {
		w, ok := c.s.lookupStream(name)
		if !ok {
			return nil, streamNotFound(name).Err()
		}
		st.explicit = w
	}
	c.targets[name] = st
	return st, nil
}

// compile (re)builds the decoder for a new writer schema, re-reading the table schema so a
// column added since the connection opened is found.
func (c *connection) compile(ctx context.Context, st *appendState, dp *descriptorpb.DescriptorProto) error {
	t := st.table
	ts, err := c.s.backend.TableSchema(ctx, t.project, t.dataset, t.table)
	if err != nil {
		return backendStatus(err, st.name).Err()
	}
	rec, err := parseSchema(ts)
	if err != nil {
		return status.Errorf(codes.Internal, "reading schema of %s: %v", t, err)
	}
	dec, err := compileDecoder(dp, rec)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "%v Entity: %s", err, st.name)
	}
	st.schema, st.dec = dp, dec
	return nil
}

func resultResponse(name string, offset *wrapperspb.Int64Value) *storagepb.AppendRowsResponse {
	return &storagepb.AppendRowsResponse{
		Response:    &storagepb.AppendRowsResponse_AppendResult_{AppendResult: &storagepb.AppendRowsResponse_AppendResult{Offset: offset}},
		WriteStream: name,
	}
}

func errorResponse(name string, st *status.Status) *storagepb.AppendRowsResponse {
	return &storagepb.AppendRowsResponse{
		Response:    &storagepb.AppendRowsResponse_Error{Error: st.Proto()},
		WriteStream: name,
	}
}

func rowErrorResponse(name string, errs []RowError) *storagepb.AppendRowsResponse {
	resp := errorResponse(name, rowErrorsStatus(name))
	resp.RowErrors = toRowErrors(errs)
	return resp
}
