package pushdelivery

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// Receiver handles one delivered event; a nil error acknowledges it, an error has it redelivered.
type Receiver interface {
	Handle(ctx context.Context, e cloudevents.Event) error
}

// Handler serves the Pub/Sub deliveries of the function name, in any shape EventFromRequest
// reads, to the Receiver that get returns (built on first use, so get may fail). Register it as
// an HTTP function: the Functions Framework's CloudEvent handler converts a push body itself but
// drops its subscription and deliveryAttempt, and its CloudEvents SDK receiver answers
// concurrent requests from each other's goroutines (see functions/updaterankings).
//
// The answer is what Pub/Sub and Eventarc act on, where a success status acknowledges and any
// other has the message redelivered (https://cloud.google.com/pubsub/docs/push): 204 when Handle
// returned nil; 500 when get or Handle failed, since both may pass next time; 400 or 405 for a
// request that is no delivery at all (a broken CloudEvent, a body over MaxRequestBytes, a method
// other than POST).
func Handler[R Receiver](name string, get func(context.Context) (R, error), log *slog.Logger) http.HandlerFunc {
	if log == nil {
		log = slog.Default()
	}
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, name+" takes Pub/Sub deliveries: POST only", http.StatusMethodNotAllowed)
			return
		}
		e, err := EventFromRequest(r, time.Now())
		if err != nil {
			log.WarnContext(ctx, "not a Pub/Sub delivery; refused", "function", name, "error", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rcv, err := get(ctx)
		if err != nil {
			log.ErrorContext(ctx, name+" cannot start; the message is redelivered", "error", err)
			http.Error(w, name+" cannot start: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if err := rcv.Handle(ctx, e); err != nil {
			log.ErrorContext(ctx, name+" failed; the message is redelivered", "event_id", e.ID(), "error", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
