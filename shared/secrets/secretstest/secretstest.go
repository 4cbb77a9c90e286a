// Package secretstest is a local Secret Manager: it serves the real
// google.cloud.secretmanager.v1 gRPC API on loopback, so the official client runs unchanged in
// tests, and counts the reads of each secret version.
//
// Where it differs from Secret Manager: only AccessSecretVersion is served (every other method
// answers Unimplemented); version names are matched exactly, so "latest" is just another name
// set with Set; there is no IAM, no replication and no version state.
//
// Reference: docs/configuration.md.
package secretstest

import (
	"context"
	"fmt"
	"hash/crc32"
	"net"
	"sync"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Server is a local Secret Manager.
type Server struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer

	lis net.Listener
	srv *grpc.Server

	mu       sync.Mutex // guards everything below
	values   map[string][]byte
	accesses map[string]int
	fail     map[string]error
}

// NewServer starts a server on loopback; Close it when done.
func NewServer() (*Server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the local Secret Manager: %w", err)
	}
	s := &Server{lis: lis, srv: grpc.NewServer(), values: map[string][]byte{}, accesses: map[string]int{}, fail: map[string]error{}}
	secretmanagerpb.RegisterSecretManagerServiceServer(s.srv, s)
	go s.srv.Serve(lis) //nolint:errcheck // returns when Close stops the server
	return s, nil
}

// ClientOptions point secretmanager.NewClient at this server, without credentials.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.lis.Addr().String()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// Close stops the server.
func (s *Server) Close() { s.srv.Stop() }

// Set stores value under the version name (projects/P/secrets/S/versions/V).
func (s *Server) Set(name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[name] = []byte(value)
}

// FailNext makes the next read of name fail with err (a gRPC status error).
func (s *Server) FailNext(name string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[name] = err
}

// Accesses is how many times name was read, failed reads included.
func (s *Server) Accesses(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accesses[name]
}

// AccessSecretVersion implements the Secret Manager RPC.
func (s *Server) AccessSecretVersion(_ context.Context, req *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := req.GetName()
	s.accesses[name]++
	if err, ok := s.fail[name]; ok {
		delete(s.fail, name)
		return nil, err
	}
	v, ok := s.values[name]
	if !ok {
		// Secret Manager's own wording.
		return nil, status.Errorf(codes.NotFound, "Secret Version [%s] not found.", name)
	}
	crc := int64(crc32.Checksum(v, crc32.MakeTable(crc32.Castagnoli)))
	return &secretmanagerpb.AccessSecretVersionResponse{
		Name:    name,
		Payload: &secretmanagerpb.SecretPayload{Data: append([]byte(nil), v...), DataCrc32C: &crc},
	}, nil
}
