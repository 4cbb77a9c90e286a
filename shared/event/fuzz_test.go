package event

import (
	"errors"
	"testing"
	"time"
)

// FuzzDecode: no input makes Decode panic, and every error is an *InvalidError (permanent), so
// the loader always dead-letters instead of retrying forever.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		v1TweetJSON, v1Extended, v1Retweet, v1Reply, v1Quote, v1ReplyQuote, v1Old2009,
		v2Quote, v2Note, v2Retweet, v2ReplyQuote, v2Error,
		`{"friends":[1497]}`, `{"event":"follow"}`, `{"event":7}`, `{"delete":{"direct_message":{}}}`,
		`{"kind":"search","query":"q"}`, `{}`, `[]`, `"x"`, `{"data":`, "\xff",
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := Decode(Message{ID: "m", PublishTime: now, Data: data}, now)
		if err != nil {
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("Decode(%q) error %v is not an *InvalidError", data, err)
			}
			return
		}
		if rec.Table == "" || rec.Row == nil {
			t.Fatalf("Decode(%q) = %+v, want a table and a row", data, rec)
		}
	})
}
