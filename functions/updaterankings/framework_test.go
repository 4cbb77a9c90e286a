package updaterankings

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/pushdelivery"
	"github.com/pipelinekit/pipelinekit/shared/rankings"
)

// serveAsDeployed serves this package's registration (init) through the Functions Framework
// with FUNCTION_TARGET set, as Cloud Functions runs it: UpdateRankings alone, at "/". The
// framework's server cannot be stopped; it ends with the test binary.
func serveAsDeployed(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	t.Setenv("FUNCTION_TARGET", EntryPoint)
	served := make(chan error, 1)
	go func() { served <- funcframework.StartHostPort("127.0.0.1", strconv.Itoa(l.Addr().(*net.TCPAddr).Port)) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
			return "http://" + addr
		}
		select {
		case err := <-served:
			t.Fatalf("the Functions Framework stopped: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Functions Framework did not serve on %s: %v", addr, err)
		}
	}
}

// TestDeliveriesThroughFunctionsFramework: what production sends reaches the store. Terraform's
// subscription is a plain push subscription (a JSON body, no ce-* headers, posted to
// /projects/P/topics/T); Eventarc posts a binary CloudEvent to "/"; a structured CloudEvent is
// the binding's other mode. Each is counted once; a GET or a broken CloudEvent is refused.
func TestDeliveriesThroughFunctionsFramework(t *testing.T) {
	project := gcloudemu.NewProjectID(t)
	t.Setenv("GOOGLE_CLOUD_PROJECT", project)
	base := serveAsDeployed(t)
	// The function writes the rankings' own database (RANKINGS_DATABASE's default).
	fs, err := firestore.NewClientWithDatabase(t.Context(), project, rankings.DefaultDatabase)
	if err != nil {
		t.Fatal(err)
	}
	store := rankings.NewStore(fs, rankings.Options{})
	t.Cleanup(func() { store.Close(); fs.Close() })

	published := time.Now().UTC()
	search := func(id, query string) pushdelivery.PushBody {
		attempt := 1
		return pushdelivery.PushBody{
			Message: pushdelivery.PushMessage{
				Data:        fmt.Appendf(nil, `{"kind":"search","id":%q,"query":%q}`, id, query),
				Attributes:  event.Attributes(event.KindSearch, event.SourceApp, "", id),
				MessageID:   "m-" + id,
				PublishTime: published.Format(time.RFC3339Nano),
			},
			Subscription:    "projects/" + project + "/subscriptions/events-rankings",
			DeliveryAttempt: &attempt,
		}
	}
	topic := "projects/" + project + "/topics/events"
	get, _ := http.NewRequest(http.MethodGet, base+"/", nil)
	broken, _ := http.NewRequest(http.MethodPost, base+"/", strings.NewReader(`{"specversion":"1.0"}`))
	broken.Header.Set("Content-Type", "application/cloudevents+json")
	for _, tc := range []struct {
		name string
		req  func() (*http.Request, error)
		want int // a status, or 2 for any 2xx (an acknowledgement)
	}{
		{"push subscription", func() (*http.Request, error) {
			return pushdelivery.PushRequest(t.Context(), base+"/"+topic, search("s-push", "pushed"), "token")
		}, 2},
		{"push subscription redelivered", func() (*http.Request, error) {
			return pushdelivery.PushRequest(t.Context(), base+"/"+topic, search("s-push", "pushed"), "token")
		}, 2},
		{"Eventarc binary CloudEvent", func() (*http.Request, error) {
			return pushdelivery.BinaryCloudEventRequest(t.Context(), base+"/", topic, search("s-binary", "binary"), "token")
		}, 2},
		{"structured CloudEvent", func() (*http.Request, error) {
			return pushdelivery.StructuredCloudEventRequest(t.Context(), base+"/", topic, search("s-structured", "structured"), "")
		}, 2},
		{"GET", func() (*http.Request, error) { return get, nil }, http.StatusMethodNotAllowed},
		{"CloudEvent without id or type", func() (*http.Request, error) { return broken, nil }, http.StatusBadRequest},
	} {
		req, err := tc.req()
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantText := strconv.Itoa(tc.want)
		if tc.want == 2 {
			wantText = "2xx"
		}
		if got := resp.StatusCode; got != tc.want && !(tc.want == 2 && got/100 == 2) {
			t.Errorf("%s: UpdateRankings answered %d %q, want %s", tc.name, got, strings.TrimSpace(string(body)), wantText)
		}
	}

	win, _ := rankings.WindowNamed("15m")
	got, err := store.Top(t.Context(), rankings.SearchTerms, win, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := []rankings.Item{{Key: "binary", Count: 1}, {Key: "pushed", Count: 1}, {Key: "structured", Count: 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("search terms counted (-want +got):\n%s", diff)
	}
}
