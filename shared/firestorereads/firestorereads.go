// Package firestorereads counts the documents Firestore returns to a client, which is what
// Firestore bills as document reads ("The number of documents you read",
// https://cloud.google.com/firestore/pricing): a document found by GetDocument or
// BatchGetDocuments (the Go client's Get, GetAll and transaction reads), and each document of a
// RunQuery answer (queries). Tests and benchmarks put a Counter's interceptors in front of the
// official client to state reads per operation.
//
// It counts what reaches the client, so it is a lower bound of the bill: a document that was not
// found, an aggregation query, and a query that returns nothing count 0 here.
//
// Reference: docs/performance.md.
package firestorereads

import (
	"context"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Counter counts documents returned; it is safe for concurrent use.
type Counter struct {
	reads atomic.Int64

	mu      sync.Mutex
	largest int // most documents one call returned
}

// Options returns the client options that make a Firestore client count into c. With
// FIRESTORE_EMULATOR_HOST set, firestore.NewClient dials the emulator itself and ignores dial
// options, so Options dials it as the client does (plaintext, the emulator's "Bearer owner"
// token) and hands over that connection, which the client closes with itself.
func (c *Counter) Options() ([]option.ClientOption, error) {
	interceptors := []grpc.DialOption{grpc.WithChainUnaryInterceptor(c.unary), grpc.WithChainStreamInterceptor(c.stream)}
	host := os.Getenv("FIRESTORE_EMULATOR_HOST")
	if host == "" {
		var opts []option.ClientOption
		for _, o := range interceptors {
			opts = append(opts, option.WithGRPCDialOption(o))
		}
		return opts, nil
	}
	conn, err := grpc.NewClient(host, append(interceptors,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(emulatorOwner{}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.MaxCallSendMsgSize(math.MaxInt32)),
	)...)
	if err != nil {
		return nil, fmt.Errorf("dialing the Firestore emulator at %s: %w", host, err)
	}
	return []option.ClientOption{option.WithGRPCConn(conn)}, nil
}

// emulatorOwner is the token the Firestore client sends its emulator: full access.
type emulatorOwner struct{}

func (emulatorOwner) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}

func (emulatorOwner) RequireTransportSecurity() bool { return false }

// Reads returns the documents returned so far.
func (c *Counter) Reads() int64 { return c.reads.Load() }

// LargestCall returns the most documents one call (one query, one batch get) returned so far:
// what a caller that collects a call's answer holds at once.
func (c *Counter) LargestCall() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.largest
}

// Reset sets the counts to zero.
func (c *Counter) Reset() {
	c.reads.Store(0)
	c.mu.Lock()
	c.largest = 0
	c.mu.Unlock()
}

func (c *Counter) note(call int) {
	c.reads.Add(1)
	c.mu.Lock()
	c.largest = max(c.largest, call)
	c.mu.Unlock()
}

func (c *Counter) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if err != nil {
		return err
	}
	switch r := reply.(type) {
	case *firestorepb.Document:
		c.note(1)
	case *firestorepb.ListDocumentsResponse:
		for i := range r.GetDocuments() {
			c.note(i + 1)
		}
	}
	return nil
}

func (c *Counter) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return &countingStream{ClientStream: s, c: c}, nil
}

// countingStream counts the documents of one streaming call's answers.
type countingStream struct {
	grpc.ClientStream
	c    *Counter
	docs int
}

func (s *countingStream) RecvMsg(m any) error {
	if err := s.ClientStream.RecvMsg(m); err != nil {
		return err
	}
	found := false
	switch r := m.(type) {
	case *firestorepb.RunQueryResponse:
		found = r.GetDocument() != nil
	case *firestorepb.BatchGetDocumentsResponse:
		found = r.GetFound() != nil
	}
	if found {
		s.docs++
		s.c.note(s.docs)
	}
	return nil
}
