package tasksemulator

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestPauseResumePurge(t *testing.T) {
	srv, client, _ := newFakeServer(t)
	target := newTarget(t, statusResponder())
	mustCreateQueue(t, client, "prp", nil)
	q := pausedQueue(t, srv, "prp")
	ctx := context.Background()
	got, err := client.GetQueue(ctx, &cloudtaskspb.GetQueueRequest{Name: q})
	if err != nil || got.GetState() != cloudtaskspb.Queue_PAUSED {
		t.Fatalf("GetQueue() state = %v, %v; want PAUSED", got.GetState(), err)
	}
	purged := httpTask(target.URL)
	purged.Name = q + "/tasks/purged"
	mustCreateTask(t, client, q, purged)
	mustCreateTask(t, client, q, httpTask(target.URL))
	pq, err := client.PurgeQueue(ctx, &cloudtaskspb.PurgeQueueRequest{Name: q})
	if err != nil {
		t.Fatalf("PurgeQueue() error = %v", err)
	}
	if !pq.GetPurgeTime().AsTime().Equal(epoch) {
		t.Errorf("PurgeQueue() purge_time = %v, want %v", pq.GetPurgeTime().AsTime(), epoch)
	}
	if n := len(srv.Tasks(q)); n != 0 {
		t.Errorf("after PurgeQueue: %d tasks, want 0", n)
	}
	if _, err := client.CreateTask(ctx, &cloudtaskspb.CreateTaskRequest{Parent: q, Task: purged}); status.Code(err) != codes.AlreadyExists {
		t.Errorf("CreateTask(purged name) code = %v, want AlreadyExists", status.Code(err))
	}
	mustCreateTask(t, client, q, httpTask(target.URL))
	if n := len(srv.Dispatched()); n != 0 {
		t.Errorf("paused queue dispatched %d tasks, want 0", n)
	}
	rq, err := client.ResumeQueue(ctx, &cloudtaskspb.ResumeQueueRequest{Name: q})
	if err != nil || rq.GetState() != cloudtaskspb.Queue_RUNNING {
		t.Fatalf("ResumeQueue() state = %v, %v; want RUNNING", rq.GetState(), err)
	}
	if err := srv.WaitIdle(waitCtx(t), q); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Dispatched()); n != 1 {
		t.Errorf("after resume: %d dispatched, want 1", n)
	}
}

func TestRunTask(t *testing.T) {
	srv, client, _ := newFakeServer(t)
	target := newTarget(t, statusResponder(500))
	mustCreateQueue(t, client, "run", &cloudtaskspb.Queue{RetryConfig: fastRetry(10, time.Minute, time.Minute, 1)})
	q := pausedQueue(t, srv, "run")
	tk := mustCreateTask(t, client, q, httpTask(target.URL))
	ctx := context.Background()
	// Paused queue: RunTask dispatches anyway. The first attempt fails (500)...
	ran, err := client.RunTask(ctx, &cloudtaskspb.RunTaskRequest{Name: tk.GetName()})
	if err != nil {
		t.Fatalf("RunTask() error = %v", err)
	}
	if ran.GetDispatchCount() != 1 || ran.GetFirstAttempt().GetDispatchTime() == nil {
		t.Errorf("RunTask() dispatch_count = %d first_attempt = %v, want 1 and a dispatch time", ran.GetDispatchCount(), ran.GetFirstAttempt())
	}
	if _, err := srv.WaitDispatched(waitCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if got := srv.Tasks(q)[0].GetScheduleTime().AsTime(); !got.Equal(epoch.Add(time.Minute)) {
		t.Errorf("after a failed RunTask: schedule_time = %v, want now + min_backoff", got)
	}
	// ...and the second, forced before its retry time, succeeds and deletes the task.
	if _, err := client.RunTask(ctx, &cloudtaskspb.RunTaskRequest{Name: tk.GetName()}); err != nil {
		t.Fatalf("RunTask() error = %v", err)
	}
	if err := srv.WaitIdle(waitCtx(t), q); err != nil {
		t.Fatal(err)
	}
	recs := srv.Dispatched()
	if len(recs) != 2 || !recs[1].RunTask || recs[1].StatusCode != 200 {
		t.Errorf("records = %+v, want two RunTask attempts, the second 200", recs)
	}
	if _, err := client.RunTask(ctx, &cloudtaskspb.RunTaskRequest{Name: tk.GetName()}); status.Code(err) != codes.NotFound {
		t.Errorf("RunTask(executed) code = %v, want NotFound", status.Code(err))
	}
}

func TestOIDCToken(t *testing.T) {
	srv, client, _ := newFakeServer(t)
	target := newTarget(t, statusResponder())
	mustCreateQueue(t, client, "oidc", nil)
	q := queueName("oidc")
	tests := []struct {
		name, audience, wantAud string
	}{
		{"audience given", "https://my-service.run.app", "https://my-service.run.app"},
		{"audience defaults to the URL", "", target.URL + "/handler"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := httpTask(target.URL + "/handler")
			tk.GetHttpRequest().Headers = map[string]string{"Authorization": "Bearer forged"}
			tk.GetHttpRequest().AuthorizationHeader = &cloudtaskspb.HttpRequest_OidcToken{OidcToken: &cloudtaskspb.OidcToken{
				ServiceAccountEmail: "tasks@test-project.iam.gserviceaccount.com", Audience: tt.audience,
			}}
			mustCreateTask(t, client, q, tk)
			a := target.next(t)
			token, ok := strings.CutPrefix(a.header.Get("Authorization"), "Bearer ")
			if !ok {
				t.Fatalf("Authorization = %q, want a bearer token", a.header.Get("Authorization"))
			}
			verifyWithJWKS(t, srv.JWKSURL(), token)
			claims, err := srv.VerifyOIDC(token, tt.wantAud)
			if err != nil {
				t.Fatalf("VerifyOIDC() error = %v", err)
			}
			if claims.Issuer != "https://accounts.google.com" || claims.Email != "tasks@test-project.iam.gserviceaccount.com" ||
				!claims.EmailVerified || claims.Subject == "" || claims.Expiry-claims.IssuedAt != 3600 || claims.IssuedAt != epoch.Unix() {
				t.Errorf("VerifyOIDC() claims = %+v", claims)
			}
			if _, err := srv.VerifyOIDC(token, "https://other"); err == nil {
				t.Errorf("VerifyOIDC(wrong audience) error = nil, want an error")
			}
		})
	}
}

// verifyWithJWKS checks the token's signature the way a handler would: with
// the key set fetched from the JWKS endpoint.
func verifyWithJWKS(t *testing.T, jwksURL, token string) {
	t.Helper()
	resp, err := http.Get(jwksURL)
	if err != nil {
		t.Fatalf("GET %s error = %v", jwksURL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var set struct {
		Keys []struct{ Kid, N, E, Alg string }
	}
	if err := json.Unmarshal(body, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS %s = %s (%v), want one key", jwksURL, body, err)
	}
	k := set.Keys[0]
	n, _ := base64.RawURLEncoding.DecodeString(k.N)
	e, _ := base64.RawURLEncoding.DecodeString(k.E)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	parts := strings.Split(token, ".")
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var h struct{ Kid, Alg string }
	json.Unmarshal(header, &h)
	if h.Kid != k.Kid || h.Alg != "RS256" || k.Alg != "RS256" {
		t.Errorf("token header %s, JWKS key kid %q alg %q: want matching RS256 kid", header, k.Kid, k.Alg)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("token signature does not verify against the JWKS: %v", err)
	}
}

func TestQueueHTTPTargetOverrides(t *testing.T) {
	srv, client, _ := newFakeServer(t)
	target := newTarget(t, statusResponder())
	host := strings.TrimPrefix(target.URL, "http://")
	mustCreateQueue(t, client, "ovr", &cloudtaskspb.Queue{HttpTarget: &cloudtaskspb.HttpTarget{
		HttpMethod:      cloudtaskspb.HttpMethod_PUT,
		HeaderOverrides: []*cloudtaskspb.HttpTarget_HeaderOverride{{Header: &cloudtaskspb.HttpTarget_Header{Key: "X-Env", Value: "local"}}},
		UriOverride: &cloudtaskspb.UriOverride{
			Host:         ptr(strings.Split(host, ":")[0]),
			Port:         ptr(mustPort(t, host)),
			PathOverride: &cloudtaskspb.PathOverride{Path: "/overridden"},
		},
	}})
	q := queueName("ovr")
	tk := httpTask("http://example.invalid/original")
	tk.GetHttpRequest().Headers = map[string]string{"x-env": "prod"}
	mustCreateTask(t, client, q, tk)
	a := target.next(t)
	if err := srv.WaitIdle(waitCtx(t), q); err != nil {
		t.Fatal(err)
	}
	rec := srv.Dispatched()[0]
	if rec.Method != "PUT" || rec.URL != target.URL+"/overridden" || a.header.Get("X-Env") != "local" {
		t.Errorf("dispatch = %s %s X-Env %q, want PUT %s/overridden X-Env local", rec.Method, rec.URL, a.header.Get("X-Env"), target.URL)
	}
}

func ptr[T any](v T) *T { return &v }

func mustPort(t *testing.T, hostport string) int64 {
	t.Helper()
	var p int64
	for _, c := range hostport[strings.LastIndex(hostport, ":")+1:] {
		p = p*10 + int64(c-'0')
	}
	return p
}

func TestCloseWithTasksInFlight(t *testing.T) {
	before := runtime.NumGoroutine()
	srv, err := NewServer(WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	target := newTarget(t, func(n int, w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx := context.Background()
	if _, err := srv.CreateQueue(ctx, &cloudtaskspb.CreateQueueRequest{Parent: testLocation, Queue: &cloudtaskspb.Queue{Name: queueName("c")}}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := srv.CreateTask(ctx, &cloudtaskspb.CreateTaskRequest{Parent: queueName("c"), Task: httpTask(target.URL)}); err != nil {
			t.Fatal(err)
		}
	}
	var arrivals []arrival
	for range 3 {
		arrivals = append(arrivals, target.next(t))
	}
	done := make(chan struct{})
	go func() {
		srv.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close() did not return with dispatches in flight")
	}
	// The target notices the closed connection on its own schedule; wait for it.
	for i, a := range arrivals {
		select {
		case <-a.ctx.Done():
		case <-time.After(10 * time.Second):
			t.Errorf("in-flight request %d not cancelled by Close", i)
		}
	}
	if n := srv.InFlight(queueName("c")); n != 0 {
		t.Errorf("InFlight after Close = %d, want 0", n)
	}
	target.Close()
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond) // polling a counter that has no channel to wait on
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<16)
		t.Errorf("goroutines: %d before, %d after Close; stacks:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}
