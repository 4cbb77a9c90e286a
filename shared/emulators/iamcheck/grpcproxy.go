package iamcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	// Registers gzip, so calls a client compresses are read (and forwarded uncompressed).
	_ "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// frame is one gRPC message, kept as the bytes on the wire.
type frame struct{ payload []byte }

// rawCodec passes messages through undecoded: the proxy decodes only the requests it checks,
// and never re-encodes what it forwards.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	f, ok := v.(*frame)
	if !ok {
		return nil, fmt.Errorf("iamcheck: cannot marshal %T", v)
	}
	return f.payload, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	f, ok := v.(*frame)
	if !ok {
		return fmt.Errorf("iamcheck: cannot unmarshal into %T", v)
	}
	// gRPC may reuse data once Unmarshal returns.
	f.payload = append(f.payload[:0], data...)
	return nil
}

// Name is "proto" so the calls keep the content type application/grpc+proto.
func (rawCodec) Name() string { return "proto" }

// errUpstreamDone says the upstream ended the call while the client was still sending; its
// status comes from the receiving side.
var errUpstreamDone = errors.New("upstream ended the call")

// handleGRPC forwards one call of any kind (unary, client, server or bidi streaming): each
// request message is checked before it is sent on, headers, messages and trailers come back
// as the upstream sent them.
func (p *Proxy) handleGRPC(_ any, ss grpc.ServerStream) error {
	fullMethod, ok := grpc.MethodFromServerStream(ss)
	if !ok {
		return status.Error(codes.Internal, "iamcheck: no method name on the stream")
	}
	r, known := grpcMethods[fullMethod]
	if !known && !p.cfg.Disabled && p.strict {
		return p.refuseUnknown(fullMethod)
	}
	upstream := upstreamFor(fullMethod)
	if upstream == "" {
		return status.Errorf(codes.Unimplemented, "iamcheck: no upstream serves %s", fullMethod)
	}
	conn := p.conns[upstream]
	if conn == nil {
		return status.Errorf(codes.Unavailable, "iamcheck: %s needs the %s upstream, which Config.Upstreams does not name", fullMethod, upstream)
	}
	check := func(ctx context.Context, payload []byte) error {
		if p.cfg.Disabled || !known {
			return nil
		}
		needs, req, err := r.evaluate(payload, p.cfg.Check != nil)
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "iamcheck: %s: %v", fullMethod, err)
		}
		if err := p.decide(fullMethod, r.service, needs); err != nil {
			return err
		}
		if p.cfg.Check != nil {
			return p.cfg.Check(ctx, fullMethod, req)
		}
		return nil
	}

	ctx := ss.Context()
	// The first message is checked before the upstream call is opened, so a refused unary
	// call never reaches the upstream.
	first := &frame{}
	firstErr := ss.RecvMsg(first)
	if firstErr != nil && firstErr != io.EOF {
		return firstErr
	}
	if firstErr == nil {
		if err := check(ctx, first.payload); err != nil {
			return err
		}
	}

	md, _ := metadata.FromIncomingContext(ctx)
	upCtx, cancel := context.WithCancel(metadata.NewOutgoingContext(ctx, forwardable(md)))
	defer cancel()
	cs, err := conn.NewStream(upCtx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, fullMethod, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return err
	}

	c2s := make(chan error, 1)
	go func() {
		c2s <- clientToUpstream(ctx, ss, cs, first, firstErr, check)
	}()
	s2c := make(chan error, 1)
	go func() {
		s2c <- upstreamToClient(cs, ss)
	}()
	for {
		select {
		case err := <-c2s:
			if err == io.EOF || errors.Is(err, errUpstreamDone) {
				// The client is done sending (or the upstream stopped listening): wait for
				// the upstream's answer.
				cs.CloseSend()
				c2s = nil
				continue
			}
			// A refusal or a broken client: end the upstream call, and let the upstream
			// side finish before returning, as the stream must not be written after. A
			// client that stopped reading could hold that side in SendMsg for ever, so the
			// wait is bounded.
			cancel()
			select {
			case <-s2c:
			case <-time.After(5 * time.Second):
			}
			return err
		case err := <-s2c:
			ss.SetTrailer(cs.Trailer())
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

func clientToUpstream(ctx context.Context, ss grpc.ServerStream, cs grpc.ClientStream, first *frame, firstErr error, check func(context.Context, []byte) error) error {
	if firstErr != nil {
		return firstErr
	}
	f := first
	for {
		if err := cs.SendMsg(f); err != nil {
			if err == io.EOF {
				return errUpstreamDone
			}
			return err
		}
		f = &frame{}
		if err := ss.RecvMsg(f); err != nil {
			return err
		}
		if err := check(ctx, f.payload); err != nil {
			return err
		}
	}
}

func upstreamToClient(cs grpc.ClientStream, ss grpc.ServerStream) error {
	// A call that fails before any header has no header to pass on; its status comes from
	// RecvMsg below.
	if md, err := cs.Header(); err == nil && len(md) > 0 {
		if err := ss.SendHeader(md); err != nil {
			return err
		}
	}
	for {
		f := &frame{}
		if err := cs.RecvMsg(f); err != nil {
			return err
		}
		if err := ss.SendMsg(f); err != nil {
			return err
		}
	}
}

// forwardable is the client's metadata less what the transport sets itself: pseudo-headers
// (:authority), grpc-* and the headers gRPC reserves.
func forwardable(md metadata.MD) metadata.MD {
	out := metadata.MD{}
	for k, v := range md {
		switch {
		case strings.HasPrefix(k, ":"), strings.HasPrefix(k, "grpc-"),
			k == "content-type", k == "user-agent", k == "te":
			continue
		}
		out[k] = append([]string(nil), v...)
	}
	return out
}
