package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"sort"
	"sync"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// opsProxy is a gRPC pass-through in front of the Firestore emulator that counts what its
// clients ask for: calls per method, documents written per Commit and documents read, so a
// benchmark can state Firestore operations per task. It forwards bytes unchanged.
type opsProxy struct {
	Addr string

	srv  *grpc.Server
	conn *grpc.ClientConn
	lis  net.Listener

	mu     sync.Mutex
	calls  map[string]int
	writes int
	reads  int
	// docs is every document name written, so a benchmark can count the documents a TTL
	// policy later deletes (one delete each, however often it was written).
	docs map[string]struct{}
}

// rawCodec passes messages through as bytes.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// startOpsProxy serves on a loopback port and forwards to the emulator at target.
func startOpsProxy(target string) (*opsProxy, error) {
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		return nil, fmt.Errorf("connecting the counting proxy to %s: %w", target, err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("listening for the counting proxy: %w", err)
	}
	p := &opsProxy{Addr: lis.Addr().String(), conn: conn, lis: lis, calls: map[string]int{}}
	p.srv = grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(p.forward))
	grpcLis := &chanListener{addr: lis.Addr(), conns: make(chan net.Conn), done: make(chan struct{})}
	go p.srv.Serve(grpcLis) //nolint:errcheck // ends with Close
	go splitHTTP1(lis, grpcLis, target)
	return p, nil
}

// splitHTTP1 hands gRPC (HTTP/2) connections to grpcLis and copies any other connection (the
// emulators' HTTP/1 "GET /" health check, the reset endpoint) to target byte for byte.
func splitHTTP1(lis net.Listener, grpcLis *chanListener, target string) {
	defer grpcLis.Close()
	for {
		c, err := lis.Accept()
		if err != nil {
			return
		}
		go func() {
			br := bufio.NewReader(c)
			head, err := br.Peek(3)
			if err != nil {
				c.Close()
				return
			}
			pc := &peekedConn{Conn: c, r: br}
			if string(head) == "PRI" {
				select {
				case grpcLis.conns <- pc:
				case <-grpcLis.done:
					c.Close()
				}
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				return
			}
			go func() { io.Copy(up, pc); up.Close() }() //nolint:errcheck // a relay
			io.Copy(c, up)                              //nolint:errcheck // a relay
			c.Close()
		}()
	}
}

// peekedConn is a connection whose first bytes were peeked through r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// chanListener is a net.Listener fed connections by splitHTTP1.
type chanListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }

// Close stops the proxy.
func (p *opsProxy) Close() {
	p.lis.Close()
	p.srv.Stop()
	p.conn.Close()
}

// count records one request message of method.
func (p *opsProxy) count(method string, msg []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[method]++
	switch method {
	case "Commit":
		var r firestorepb.CommitRequest
		if proto.Unmarshal(msg, &r) == nil {
			p.writes += len(r.Writes)
			p.names(r.Writes)
		}
	case "BatchWrite":
		var r firestorepb.BatchWriteRequest
		if proto.Unmarshal(msg, &r) == nil {
			p.writes += len(r.Writes)
			p.names(r.Writes)
		}
	}
}

// names records the documents ws write; p.mu is held.
func (p *opsProxy) names(ws []*firestorepb.Write) {
	if p.docs == nil {
		p.docs = map[string]struct{}{}
	}
	for _, w := range ws {
		name := w.GetUpdate().GetName()
		if name == "" {
			name = w.GetTransform().GetDocument()
		}
		if name != "" {
			p.docs[name] = struct{}{}
		}
	}
}

// countRead records one response message of method that carries a document.
func (p *opsProxy) countRead(method string, msg []byte) {
	var found bool
	switch method {
	case "GetDocument":
		found = true
	case "BatchGetDocuments":
		var r firestorepb.BatchGetDocumentsResponse
		found = proto.Unmarshal(msg, &r) == nil && r.GetFound() != nil
	case "RunQuery":
		var r firestorepb.RunQueryResponse
		found = proto.Unmarshal(msg, &r) == nil && r.GetDocument() != nil
	}
	if found {
		p.mu.Lock()
		p.reads++
		p.mu.Unlock()
	}
}

// FirestoreOps is what the proxy counted.
type FirestoreOps struct {
	// Calls is RPCs by method (Commit, BatchGetDocuments, RunQuery, BeginTransaction, Rollback...).
	Calls map[string]int `json:"calls"`
	// Writes is documents written (writes in Commit and BatchWrite requests).
	Writes int `json:"writes"`
	// Reads is documents returned (found by BatchGetDocuments or GetDocument, or by RunQuery).
	Reads int `json:"reads"`
	// Docs is distinct documents written: what a TTL policy deletes once each.
	Docs int `json:"docs"`
}

// Snapshot returns the counts so far.
func (p *opsProxy) Snapshot() FirestoreOps {
	p.mu.Lock()
	defer p.mu.Unlock()
	calls := make(map[string]int, len(p.calls))
	for k, v := range p.calls {
		calls[k] = v
	}
	return FirestoreOps{Calls: calls, Writes: p.writes, Reads: p.reads, Docs: len(p.docs)}
}

// Sub returns o minus before.
func (o FirestoreOps) Sub(before FirestoreOps) FirestoreOps {
	out := FirestoreOps{Calls: map[string]int{}, Writes: o.Writes - before.Writes, Reads: o.Reads - before.Reads, Docs: o.Docs - before.Docs}
	for k, v := range o.Calls {
		if d := v - before.Calls[k]; d != 0 {
			out.Calls[k] = d
		}
	}
	return out
}

// String lists the calls by method, most first.
func (o FirestoreOps) String() string {
	keys := make([]string, 0, len(o.Calls))
	for k := range o.Calls {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return o.Calls[keys[a]] > o.Calls[keys[b]] })
	s := ""
	for _, k := range keys {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%s %d", k, o.Calls[k])
	}
	return s
}

// forward relays one call of any method to the emulator, counting as it goes.
func (p *opsProxy) forward(_ any, ss grpc.ServerStream) error {
	full, ok := grpc.MethodFromServerStream(ss)
	if !ok {
		return errors.New("counting proxy: no method")
	}
	method := path.Base(full)
	ctx, cancel := context.WithCancel(ss.Context())
	defer cancel()
	md, _ := metadata.FromIncomingContext(ctx)
	cs, err := p.conn.NewStream(metadata.NewOutgoingContext(ctx, md.Copy()),
		&grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, full)
	if err != nil {
		return err
	}
	up := make(chan error, 1)
	go func() {
		for {
			var msg []byte
			if err := ss.RecvMsg(&msg); err != nil {
				if err == io.EOF {
					up <- cs.CloseSend()
				} else {
					up <- err
				}
				return
			}
			p.count(method, msg)
			if err := cs.SendMsg(&msg); err != nil {
				up <- nil // the error comes back on RecvMsg
				return
			}
		}
	}()
	first := true
	for {
		var msg []byte
		err := cs.RecvMsg(&msg)
		if first {
			if h, herr := cs.Header(); herr == nil {
				_ = ss.SendHeader(h)
			}
			first = false
		}
		if err == io.EOF {
			ss.SetTrailer(cs.Trailer())
			return nil
		}
		if err != nil {
			ss.SetTrailer(cs.Trailer())
			return err
		}
		p.countRead(method, msg)
		if err := ss.SendMsg(&msg); err != nil {
			return err
		}
	}
}
