package sources

import "time"

// Quota is what an API says of its own quota after one task, in one shape for every source, so
// that the job's status and the CLI show it without knowing the source: named figures, in the
// order the source finds most telling first, and when the API's window resets, if it says.
type Quota struct {
	Figures []NamedFigure `json:"figures" firestore:"figures"`
	// ResetAt is when the API's current window ends (X's x-rate-limit-reset); zero when the API
	// does not say.
	ResetAt time.Time `json:"reset_at,omitzero" firestore:"reset_at,omitempty"`
}

// NamedFigure is one quota figure: what the task used and what is left of it.
type NamedFigure struct {
	// Name is the API's name of the quota, e.g. "tokens_per_hour" or "requests_per_15m".
	Name      string `json:"name" firestore:"name"`
	Consumed  int64  `json:"consumed" firestore:"consumed"`
	Remaining int64  `json:"remaining" firestore:"remaining"`
}
