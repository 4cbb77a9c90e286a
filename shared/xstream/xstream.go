// Package xstream moves raw X (Twitter) stream messages: it replays archived
// v1.1/v2 stream captures (ReadCapture), keeps v2 filtered-stream rules in
// sync (Client.SyncRules) and consumes GET /2/tweets/search/stream with X's
// documented reconnect policy (Client.Stream).
//
// The package never interprets a tweet: every message is handed out as the
// raw JSON bytes X sent, one message each, so ids above 2^53 stay intact.
// Classifying messages is done by the caller (shared/event).
//
// Reference: docs/x-stream.md.
package xstream

// MaxLineBytes is the longest message line accepted; a tweet with extended
// entities is about 20 KB, so 10 MiB only rejects garbage, never a tweet.
const MaxLineBytes = 10 << 20

// rejectedPrefixBytes bounds how much of an over-long line is kept in a
// Rejected record: enough to identify it, not 10 MiB of memory.
const rejectedPrefixBytes = 4 << 10

// Record is one JSON message read from a capture.
type Record struct {
	// Line is the 1-based line where the message starts in the capture.
	Line int
	// Data is the message exactly as captured, without framing or
	// surrounding whitespace.
	Data []byte
}

// Rejected is a line that could not be handed out as a message; it is kept so
// that nothing is dropped silently.
type Rejected struct {
	// Line is the 1-based line of the rejected data (0 when not line-based).
	Line int
	// Reason says why the line was rejected, e.g. "truncated last line".
	Reason string
	// Data is the rejected bytes (only a prefix for over-long lines).
	Data []byte
}
