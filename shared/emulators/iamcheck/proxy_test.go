package iamcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
)

func TestSecretManager(t *testing.T) {
	const (
		secret  = "projects/" + project + "/secrets/x_bearer_token"
		version = secret + "/versions/latest"
	)
	addr := startSecrets(t, map[string]string{version: "token"})
	denied := "Permission 'secretmanager.versions.access' denied for resource '" + version + "' (or it may not exist)."
	tests := []struct {
		name     string
		bindings []Binding
		wantMsg  string
	}{
		{"secretAccessor on the secret", []Binding{{Member: member, Role: "roles/secretmanager.secretAccessor", Resource: secret}}, ""},
		{"secretAccessor on the project", []Binding{{Member: member, Role: "roles/secretmanager.secretAccessor", Resource: "projects/" + project}}, ""},
		{"secretAccessor on another secret", []Binding{{Member: member, Role: "roles/secretmanager.secretAccessor", Resource: "projects/" + project + "/secrets/other"}}, denied},
		{"datastore.user lacks access", []Binding{{Member: member, Role: "roles/datastore.user", Resource: "projects/" + project}}, denied},
		{"no role", nil, denied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy := startProxy(t, tt.bindings, map[string]string{SecretManager: addr})
			c, err := secretmanager.NewClient(t.Context(), grpcOptions(proxy.Addr())...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			resp, err := c.AccessSecretVersion(t.Context(), &secretmanagerpb.AccessSecretVersionRequest{Name: version})
			if tt.wantMsg == "" {
				if err != nil || string(resp.GetPayload().GetData()) != "token" {
					t.Errorf("AccessSecretVersion = %v, %v, want the value", resp, err)
				}
				return
			}
			if st, _ := status.FromError(err); st.Code() != codes.PermissionDenied || st.Message() != tt.wantMsg {
				t.Errorf("AccessSecretVersion = %v, want PermissionDenied %q", err, tt.wantMsg)
			}
		})
	}
}

// secretServer is a Secret Manager serving AccessSecretVersion from a map (shared/secrets'
// secretstest does not say its address, which the proxy needs as upstream).
type secretServer struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer
	values map[string]string
}

func (s *secretServer) AccessSecretVersion(_ context.Context, r *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	v, ok := s.values[r.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Secret Version [%s] not found.", r.GetName())
	}
	return &secretmanagerpb.AccessSecretVersionResponse{Name: r.GetName(), Payload: &secretmanagerpb.SecretPayload{Data: []byte(v)}}, nil
}

func startSecrets(t *testing.T, values map[string]string) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	secretmanagerpb.RegisterSecretManagerServiceServer(g, &secretServer{values: values})
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	return lis.Addr().String()
}

// echoWrite is a BigQueryWrite server that answers each AppendRows message with one response
// naming its trace id, and records what it received, to check the proxy forwards streams,
// metadata and trailers untouched.
type echoWrite struct {
	storagepb.UnimplementedBigQueryWriteServer

	mu       sync.Mutex
	received []string // trace ids of the AppendRows messages that reached it
	incoming metadata.MD
}

func (e *echoWrite) AppendRows(s storagepb.BigQueryWrite_AppendRowsServer) error {
	md, _ := metadata.FromIncomingContext(s.Context())
	e.mu.Lock()
	e.incoming = md
	e.mu.Unlock()
	s.SetHeader(metadata.Pairs("x-echo-header", "h"))
	s.SetTrailer(metadata.Pairs("x-echo-trailer", "t"))
	for {
		req, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		e.mu.Lock()
		e.received = append(e.received, req.GetTraceId())
		e.mu.Unlock()
		if err := s.Send(&storagepb.AppendRowsResponse{WriteStream: req.GetTraceId()}); err != nil {
			return err
		}
	}
}

func (e *echoWrite) GetWriteStream(ctx context.Context, r *storagepb.GetWriteStreamRequest) (*storagepb.WriteStream, error) {
	grpc.SetTrailer(ctx, metadata.Pairs("x-echo-trailer", "unary"))
	if strings.HasSuffix(r.GetName(), "/missing") {
		return nil, status.Error(codes.NotFound, "Requested entity was not found.")
	}
	return &storagepb.WriteStream{Name: r.GetName()}, nil
}

func startEcho(t *testing.T) (*echoWrite, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoWrite{}
	g := grpc.NewServer()
	storagepb.RegisterBigQueryWriteServer(g, e)
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	return e, lis.Addr().String()
}

func grpcOptions(host string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(host),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

func dial(t *testing.T, host string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(host, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestBidiStreamForwardedFaithfully(t *testing.T) {
	echo, addr := startEcho(t)
	proxy := startProxy(t, []Binding{{Member: member, Role: "roles/bigquery.dataEditor", Resource: tweets}}, map[string]string{BigQuery: addr})
	client := storagepb.NewBigQueryWriteClient(dial(t, proxy.Addr()))
	ctx := metadata.AppendToOutgoingContext(t.Context(), "x-goog-request-params", "write_stream="+tweets+"/streams/_default")

	stream, err := client.AppendRows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	var want []string
	// Send and receive concurrently, as managedwriter does: the proxy must not wait for one
	// side to finish before serving the other.
	sendErr := make(chan error, 1)
	go func() {
		for i := range n {
			req := &storagepb.AppendRowsRequest{TraceId: fmt.Sprint(i)}
			if i == 0 {
				req.WriteStream = tweets + "/streams/_default"
			}
			if err := stream.Send(req); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- stream.CloseSend()
	}()
	var got []string
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Recv after %d responses = %v", len(got), err)
		}
		got = append(got, resp.GetWriteStream())
	}
	if err := <-sendErr; err != nil {
		t.Fatalf("Send = %v", err)
	}
	for i := range n {
		want = append(want, fmt.Sprint(i))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("responses mismatch (-want +got):\n%s", diff)
	}
	header, err := stream.Header()
	if err != nil || header.Get("x-echo-header")[0] != "h" {
		t.Errorf("Header() = %v, %v, want x-echo-header from the upstream", header, err)
	}
	if tr := stream.Trailer().Get("x-echo-trailer"); len(tr) != 1 || tr[0] != "t" {
		t.Errorf("Trailer() = %v, want x-echo-trailer from the upstream", stream.Trailer())
	}
	echo.mu.Lock()
	params := echo.incoming.Get("x-goog-request-params")
	echo.mu.Unlock()
	if len(params) != 1 || params[0] != "write_stream="+tweets+"/streams/_default" {
		t.Errorf("upstream saw x-goog-request-params %v, want the client's", params)
	}
	// Only the first message names the stream, so one check.
	if got := len(proxy.Decisions()); got != 1 {
		t.Errorf("len(Decisions()) = %d, want 1 (%v)", got, proxy.Decisions())
	}
}

// TestStreamRefusedMidway checks every message naming a resource is checked: a stream that
// switches to a table it may not write ends with PERMISSION_DENIED, and the message never
// reaches the upstream.
func TestStreamRefusedMidway(t *testing.T) {
	echo, addr := startEcho(t)
	proxy := startProxy(t, []Binding{{Member: member, Role: "roles/bigquery.dataEditor", Resource: tweets}}, map[string]string{BigQuery: addr})
	stream, err := storagepb.NewBigQueryWriteClient(dial(t, proxy.Addr())).AppendRows(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	send := func(id, ws string) {
		if err := stream.Send(&storagepb.AppendRowsRequest{TraceId: id, WriteStream: ws}); err != nil && !errors.Is(err, io.EOF) {
			t.Fatalf("Send(%s) = %v", id, err)
		}
	}
	send("0", tweets+"/streams/_default")
	send("1", "")
	for range 2 {
		if _, err := stream.Recv(); err != nil {
			t.Fatalf("Recv = %v", err)
		}
	}
	send("2", appEvents+"/streams/_default")
	send("3", "")
	_, err = stream.Recv()
	want := "Permission 'TABLES_UPDATE_DATA' denied on resource '" + appEvents + "' (or it may not exist)."
	if st, _ := status.FromError(err); st.Code() != codes.PermissionDenied || st.Message() != want {
		t.Errorf("Recv after the switch = %v, want PermissionDenied %q", err, want)
	}
	echo.mu.Lock()
	defer echo.mu.Unlock()
	if diff := cmp.Diff([]string{"0", "1"}, echo.received); diff != "" {
		t.Errorf("messages that reached the upstream mismatch (-want +got):\n%s", diff)
	}
}

func TestUnaryForwardsStatusAndTrailers(t *testing.T) {
	_, addr := startEcho(t)
	proxy := startProxy(t, []Binding{{Member: member, Role: "roles/bigquery.dataEditor", Resource: tweets}}, map[string]string{BigQuery: addr})
	client := storagepb.NewBigQueryWriteClient(dial(t, proxy.Addr()))
	var trailer metadata.MD
	ws, err := client.GetWriteStream(t.Context(), &storagepb.GetWriteStreamRequest{Name: tweets + "/streams/s1"}, grpc.Trailer(&trailer))
	if err != nil || ws.GetName() != tweets+"/streams/s1" {
		t.Fatalf("GetWriteStream = %v, %v", ws, err)
	}
	if got := trailer.Get("x-echo-trailer"); len(got) != 1 || got[0] != "unary" {
		t.Errorf("trailer = %v, want x-echo-trailer: unary", trailer)
	}
	_, err = client.GetWriteStream(t.Context(), &storagepb.GetWriteStreamRequest{Name: tweets + "/streams/missing"})
	if st, _ := status.FromError(err); st.Code() != codes.NotFound || st.Message() != "Requested entity was not found." {
		t.Errorf("GetWriteStream(missing) = %v, want the upstream's NotFound", err)
	}
}

func TestDisabledForwardsEverything(t *testing.T) {
	srv := tasksEnv(t)
	proxy, err := Start(t.Context(), Config{Disabled: true, Upstreams: map[string]string{CloudTasks: srv.Addr()}, Log: discard})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	c := tasksClient(t, proxy.Addr())
	if _, err := c.GetTask(t.Context(), &cloudtaskspb.GetTaskRequest{Name: existing}); err != nil {
		t.Errorf("GetTask through a disabled proxy = %v, want it forwarded", err)
	}
	if _, err := c.CreateTask(t.Context(), &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: httpTask("", invoker)}); err != nil {
		t.Errorf("CreateTask through a disabled proxy = %v, want it forwarded", err)
	}
	if got := proxy.Decisions(); len(got) != 0 {
		t.Errorf("Decisions() = %v, want none when disabled", got)
	}
}

func TestStrictRefusesMethodsNotInTheTable(t *testing.T) {
	srv := bigQueryServer(t)
	const method = "/google.cloud.bigquery.storage.v1.BigQueryRead/CreateReadSession"
	owner := []Binding{{Member: member, Role: "roles/bigquery.dataEditor", Resource: "projects/" + project}}
	notStrict := false
	tests := []struct {
		name               string
		strict             *bool
		wantGRPC           codes.Code
		wantREST           int
		wantDecisionMethod string
	}{
		{"strict by default", nil, codes.PermissionDenied, 403, method},
		{"not strict", &notStrict, codes.Unimplemented, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy := startProxy(t, owner, map[string]string{BigQuery: srv.Addr()}, func(c *Config) { c.Strict = tt.strict })
			_, err := storagepb.NewBigQueryReadClient(dial(t, proxy.Addr())).CreateReadSession(t.Context(), &storagepb.CreateReadSessionRequest{Parent: "projects/" + project})
			if status.Code(err) != tt.wantGRPC {
				t.Errorf("CreateReadSession = %v, want %v", err, tt.wantGRPC)
			}
			if tt.wantGRPC == codes.PermissionDenied && !strings.Contains(status.Convert(err).Message(), method+" is not in the permission table") {
				t.Errorf("CreateReadSession message = %q, want it to name the method and the table", status.Convert(err).Message())
			}
			// datasets.list is not in the REST table either.
			_, err = bigQueryClient(t, proxy.Addr()).Datasets(t.Context()).Next()
			var ge *googleapi.Error
			switch {
			case tt.wantREST == 200 && err != nil && !errors.Is(err, iterator.Done):
				t.Errorf("Datasets().Next() = %v, want it forwarded", err)
			case tt.wantREST == 403 && (!errors.As(err, &ge) || ge.Code != 403 || !strings.Contains(ge.Message, "GET /bigquery/v2/projects/test-project/datasets is not in the permission table")):
				t.Errorf("Datasets().Next() = %v, want 403 naming the call", err)
			}
			if tt.wantDecisionMethod != "" {
				if d := proxy.Decisions(); len(d) == 0 || d[0] != (Decision{Member: member, Method: method}) {
					t.Errorf("Decisions() = %v, want the refusal of %s first", d, method)
				}
			}
		})
	}
}

func TestCheckHookRunsAfterThePermissionCheck(t *testing.T) {
	srv := tasksEnv(t)
	var mu sync.Mutex
	var seen []string
	hook := func(_ context.Context, method string, req proto.Message) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, method)
		if r, ok := req.(*cloudtaskspb.CreateTaskRequest); ok && len(r.GetTask().GetHttpRequest().GetBody()) > 10 {
			return status.Error(codes.InvalidArgument, "Task size too large")
		}
		return nil
	}
	proxy := startProxy(t, []Binding{{Member: member, Role: "roles/cloudtasks.enqueuer", Resource: queue}}, map[string]string{CloudTasks: srv.Addr()},
		func(c *Config) { c.Check = hook })
	c := tasksClient(t, proxy.Addr())
	ctx := t.Context()
	big := httpTask("", "")
	big.GetHttpRequest().Body = []byte(strings.Repeat("x", 11))
	if _, err := c.CreateTask(ctx, &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: big}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("CreateTask(big) = %v, want the hook's InvalidArgument", err)
	}
	if _, err := c.CreateTask(ctx, &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: httpTask("", "")}); err != nil {
		t.Errorf("CreateTask(small) = %v, want it allowed", err)
	}
	if _, err := c.GetTask(ctx, &cloudtaskspb.GetTaskRequest{Name: existing}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("GetTask = %v, want PermissionDenied", err)
	}
	mu.Lock()
	defer mu.Unlock()
	// GetTask was refused by IAM, so the hook never saw it.
	if diff := cmp.Diff([]string{tasksPrefix + "CreateTask", tasksPrefix + "CreateTask"}, seen); diff != "" {
		t.Errorf("hook calls mismatch (-want +got):\n%s", diff)
	}
}

func TestStartRefusesBadConfig(t *testing.T) {
	policy := mustPolicy(t, nil)
	for name, cfg := range map[string]Config{
		"no member":        {Policy: policy},
		"no policy":        {Member: member},
		"unknown upstream": {Member: member, Policy: policy, Upstreams: map[string]string{"storage": "127.0.0.1:1"}},
	} {
		if p, err := Start(t.Context(), cfg); err == nil {
			p.Close()
			t.Errorf("Start(%s) = nil error, want one", name)
		}
	}
}

func TestCloseWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p, err := Start(ctx, Config{Disabled: true, Log: discard})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-p.served
	if _, err := net.Dial("tcp", p.Addr()); err == nil {
		t.Errorf("dialling %s after ctx ended = nil error, want the port closed", p.Addr())
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close() after ctx ended = %v", err)
	}
}

// TestHTTPSide checks what the HTTP/1.1 side of the port serves besides BigQuery: the Cloud
// Tasks server's public keys, unchecked, and "Ok" at / as the emulators answer.
func TestHTTPSide(t *testing.T) {
	srv := tasksEnv(t)
	proxy := startProxy(t, nil, map[string]string{CloudTasks: srv.Addr()})
	if err := gcloudemu.Ping(t.Context(), proxy.Addr()); err != nil {
		t.Errorf("Ping(proxy) = %v, want Ok", err)
	}
	resp, err := http.Get("http://" + proxy.Addr() + "/oauth2/v3/certs")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"keys"`) {
		t.Errorf("GET /oauth2/v3/certs = %s %s, want the upstream's JWKS", resp.Status, body)
	}
	resp, err = http.Get("http://" + proxy.Addr() + "/bigquery/v2/projects/p/datasets")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("BigQuery REST with no bigquery upstream = %s, want 503", resp.Status)
	}
	if len(proxy.Decisions()) != 0 {
		t.Errorf("Decisions() = %v, want none", proxy.Decisions())
	}
}

func TestStartWithEndedContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, err := Start(ctx, Config{Disabled: true, Log: discard})
	if err != nil {
		t.Fatal(err)
	}
	<-p.served
	if err := p.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
}
