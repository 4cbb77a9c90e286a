package pushdelivery

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// receiver records what it was handed and fails with err.
type receiver struct {
	got []string
	err error
}

func (r *receiver) Handle(_ context.Context, e cloudevents.Event) error {
	r.got = append(r.got, e.ID())
	return r.err
}

// TestHandlerContract: the statuses Pub/Sub and Eventarc act on. 2xx acknowledges; 500 has the
// message redelivered; 400 and 405 refuse what is no delivery, before anything is handled.
func TestHandlerContract(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	push := func() *http.Request {
		r, err := PushRequest(ctx, "http://fn.example/"+topic, testBody(), "")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	binary := func() *http.Request {
		r, err := BinaryCloudEventRequest(ctx, "http://fn.example/", topic, testBody(), "")
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	broken := httptest.NewRequest(http.MethodPost, "http://fn.example/", strings.NewReader(`{"specversion":"1.0"}`))
	broken.Header.Set("Content-Type", "application/cloudevents+json")
	for _, tc := range []struct {
		name       string
		req        *http.Request
		handleErr  error
		getErr     error
		wantStatus int
		wantBody   string
		wantHandle int
	}{
		{name: "push body", req: push(), wantStatus: http.StatusNoContent, wantHandle: 1},
		{name: "binary CloudEvent", req: binary(), wantStatus: http.StatusNoContent, wantHandle: 1},
		{name: "handling fails", req: push(), handleErr: errors.New("store unavailable"), wantStatus: http.StatusInternalServerError, wantBody: "store unavailable", wantHandle: 1},
		{name: "receiver cannot start", req: binary(), getErr: errors.New("no project"), wantStatus: http.StatusInternalServerError, wantBody: "Fn cannot start: no project"},
		{name: "GET", req: httptest.NewRequest(http.MethodGet, "http://fn.example/", nil), wantStatus: http.StatusMethodNotAllowed, wantBody: "POST only"},
		{name: "broken CloudEvent", req: broken, wantStatus: http.StatusBadRequest, wantBody: "reading the CloudEvent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := &receiver{err: tc.handleErr}
			h := Handler("Fn", func(context.Context) (*receiver, error) { return rcv, tc.getErr }, quiet)
			w := httptest.NewRecorder()
			h(w, tc.req)
			if w.Code != tc.wantStatus || !strings.Contains(w.Body.String(), tc.wantBody) {
				t.Errorf("status %d %q, want %d naming %q", w.Code, w.Body, tc.wantStatus, tc.wantBody)
			}
			if len(rcv.got) != tc.wantHandle {
				t.Errorf("Handle called %d times, want %d", len(rcv.got), tc.wantHandle)
			}
		})
	}
}
