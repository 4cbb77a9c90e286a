package streamtweets

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/pipelinekit/pipelinekit/shared/functest"
	"github.com/pipelinekit/pipelinekit/shared/lazy"
	"github.com/pipelinekit/pipelinekit/shared/logging"
	"github.com/pipelinekit/pipelinekit/shared/xstream/xstreamtest"
)

// TestEntryPointRegistered serves the test binary's registered functions through the Functions
// Framework and checks that exactly one, StreamTweets, is registered and reaches this package's
// handler.
func TestEntryPointRegistered(t *testing.T) {
	names, base := functest.RegisteredEntryPoints(t, "GOOGLE_CLOUD_PROJECT", "EVENTS_TOPIC")
	if diff := cmp.Diff([]string{EntryPoint}, names); diff != "" {
		t.Errorf("registered functions mismatch (-want +got):\n%s", diff)
	}
	if EntryPoint != "StreamTweets" {
		t.Errorf("EntryPoint = %q, want StreamTweets (Terraform's entry_point)", EntryPoint)
	}
	// No configuration in the child: the handler answers why, which shows it is this package's.
	if code, body := functest.Request(t, http.MethodPost, base+"/"+EntryPoint, ""); code != http.StatusInternalServerError || !strings.Contains(body, "GOOGLE_CLOUD_PROJECT: required") {
		t.Errorf("POST /%s = %d %s, want 500 naming GOOGLE_CLOUD_PROJECT", EntryPoint, code, body)
	}
}

func TestLazyHandlerAnswersConfigError(t *testing.T) {
	t.Setenv("GOOGLE_CLOUD_PROJECT", "")
	t.Setenv("EVENTS_TOPIC", "")
	h := lazy.FromEnv(EntryPoint, newTestEnvLogger(), LoadConfig, build(newTestEnvLogger()))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "GOOGLE_CLOUD_PROJECT: required") {
		t.Errorf("answer = %d %s, want 500 naming GOOGLE_CLOUD_PROJECT", rec.Code, rec.Body.String())
	}
}

// fakeSecrets is a Secret Manager that serves one secret version over loopback gRPC.
type fakeSecrets struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer
	mu    sync.Mutex
	name  string
	value string
	calls int
}

func (f *fakeSecrets) AccessSecretVersion(_ context.Context, req *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if req.GetName() != f.name {
		return nil, status.Errorf(codes.NotFound, "Secret Version [%s] not found.", req.GetName())
	}
	return &secretmanagerpb.AccessSecretVersionResponse{Name: f.name, Payload: &secretmanagerpb.SecretPayload{Data: []byte(f.value)}}, nil
}

func (f *fakeSecrets) set(value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.value = value
}

func (f *fakeSecrets) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// startFakeSecrets serves f and returns the client options that reach it.
func startFakeSecrets(t *testing.T, f *fakeSecrets) []option.ClientOption {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	secretmanagerpb.RegisterSecretManagerServiceServer(srv, f)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return []option.ClientOption{
		option.WithEndpoint(lis.Addr().String()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

func TestNewHandlerWithSecretToken(t *testing.T) {
	e := newTestEnv(t, true, xstreamtest.WithScript(xstreamtest.Messages(tweetEN)...))
	// The secret starts with a token X refuses, as after a bad rotation.
	secrets := &fakeSecrets{name: "projects/p/secrets/x-bearer-token/versions/latest", value: "wrong-token"}
	params, err := parseParams(DefaultStreamParams)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Project: e.project, Topic: testTopic, TokenSecret: secrets.name, BaseURL: e.x.URL(),
		// Long enough that a slow lease acquisition on a loaded machine still leaves time to connect.
		Params: params, Duration: 4 * time.Second, LeaseTTL: 30 * time.Second, LeaseDoc: testLeaseDoc,
	}
	h, shutdown, err := NewHandler(context.Background(), cfg, e.log, HandlerOptions{
		Settings:      Settings{Margin: 100 * time.Millisecond, RenewEvery: 100 * time.Millisecond},
		SecretManager: startFakeSecrets(t, secrets),
	})
	if err != nil {
		t.Fatalf("NewHandler() error = %v", err)
	}
	t.Cleanup(func() {
		if err := shutdown(); err != nil {
			t.Errorf("shutdown() = %v", err)
		}
	})

	if code, got, body := call(t, h); code != http.StatusInternalServerError || got.XError == nil || got.XError.Status != 401 {
		t.Fatalf("run with a refused token: %d %s, want 500 with X's 401", code, body)
	}
	// The secret is fixed (a trailing newline, as `echo` writes it); the refused token was
	// forgotten, so the next run reads the secret again.
	secrets.set(e.x.Token() + "\n")
	code, got, body := call(t, h)
	if code != http.StatusOK || got.Published != 1 {
		t.Fatalf("run after the fix: %d %s, want 200 with 1 published", code, body)
	}
	if diff := cmp.Diff([]received{{tweetEN, attrs("tweet", "en", "1600000000000000010")}}, e.pull(1)); diff != "" {
		t.Errorf("published messages mismatch (-want +got):\n%s", diff)
	}
	queries := e.x.StreamQueries()
	if diff := cmp.Diff(params, queries[len(queries)-1]); diff != "" {
		t.Errorf("stream query mismatch (-want +got):\n%s", diff)
	}
	if code, _, body := call(t, h); code != http.StatusOK {
		t.Fatalf("third run: %d %s, want 200", code, body)
	}
	if n := secrets.count(); n != 2 {
		t.Errorf("secret read %d times over three runs, want 2 (once, again after the 401, then cached)", n)
	}
}

// newTestEnvLogger is a logger for tests that need no world.
func newTestEnvLogger() *slog.Logger { return logging.New(io.Discard, slog.LevelDebug) }
