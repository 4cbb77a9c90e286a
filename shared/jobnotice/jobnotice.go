// Package jobnotice is the message the Backfill function publishes on the job events topic
// (JOB_EVENTS_TOPIC, Terraform's backfill_job_events_topic) when a backfill job ends: its JSON
// schema, its attributes, the decoder consumers use, and the publisher.
//
// Delivery is at least once per end. A job's end is decided once (backfill.Store.MarkEnded) and
// its notice stays pending in the job document until published; a process that dies after
// publishing and before recording it leaves it pending, and the scheduled sweep publishes it
// again. Such a duplicate carries the same notice_id (job id and end sequence number) and the
// same body, but Pub/Sub gives it a new message id: publishes are distinct messages to Pub/Sub
// even with exactly-once delivery on the subscription
// (https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.subscriptions,
// enableExactlyOnceDelivery: "messages published multiple times by a publisher client ... are
// considered distinct by Pub/Sub and have distinct messageId values"). Consumers dedup on
// notice_id. A :retry that reopens an ended job and a second end give a new notice with end_seq 2.
//
// Reference: docs/backfills.md#job-notices.
package jobnotice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/publish"
)

// SchemaVersion is the version of the notice's JSON schema. Fields may be added within a
// version; a field removed or changing meaning makes a new version.
const SchemaVersion = 1

// Attribute names of a notice message, for subscription filters such as
// `attributes.state = "done_with_failures"` and for dedup without decoding the body.
const (
	AttrSchemaVersion = "schema_version"
	AttrNoticeID      = "notice_id"
	AttrJobID         = "job_id"
	AttrState         = "state"
	AttrEndSeq        = "end_seq"
)

// MaxNoticeBytes bounds the body Decode accepts. A notice the function publishes is about 500
// bytes (ids, a state, eight counts, two times); 16 KiB leaves room for fields added within a
// version and refuses anything that is not a notice before it is parsed.
const MaxNoticeBytes = 16 << 10

// Notice is the body of a job notice (JSON).
type Notice struct {
	SchemaVersion int `json:"schema_version"`
	// NoticeID is "<job_id>/<end_seq>": the same for every publish of one end, the dedup key.
	NoticeID string `json:"notice_id"`
	JobID    string `json:"job_id"`
	// EndSeq numbers the job's ends from 1; a :retry that reopens the job and a second end give 2.
	EndSeq int `json:"end_seq"`
	// Generation is the job's retry count when it ended (0: no :retry ran failed tasks again).
	Generation int `json:"generation"`
	// State is done, done_with_failures or cancelled.
	State     string          `json:"state"`
	Source    string          `json:"source"`
	Counts    backfill.Counts `json:"counts"`
	CreatedAt time.Time       `json:"created_at"`
	EndedAt   time.Time       `json:"ended_at"`
}

// NoticeID is the dedup key of the seq-th end of job.
func NoticeID(job string, seq int) string { return job + "/" + strconv.Itoa(seq) }

// FromEnd is the notice of an end as the store recorded it.
func FromEnd(e backfill.End) Notice {
	return Notice{
		SchemaVersion: SchemaVersion, NoticeID: NoticeID(e.JobID, e.Seq), JobID: e.JobID, EndSeq: e.Seq,
		Generation: e.Generation, State: e.State, Source: e.Source, Counts: e.Counts,
		CreatedAt: e.CreatedAt.UTC(), EndedAt: e.EndedAt.UTC(),
	}
}

// Message is the Pub/Sub message of n: its JSON body and its attributes. Every attribute value
// is far under Pub/Sub's 1,024 bytes per value (https://cloud.google.com/pubsub/quotas#resource_limits):
// a job id is 19 characters.
func (n Notice) Message() (publish.Message, error) {
	data, err := json.Marshal(n)
	if err != nil {
		return publish.Message{}, fmt.Errorf("encoding the notice of %s: %w", n.NoticeID, err)
	}
	return publish.Message{Data: data, Attributes: map[string]string{
		AttrSchemaVersion: strconv.Itoa(n.SchemaVersion),
		AttrNoticeID:      n.NoticeID,
		AttrJobID:         n.JobID,
		AttrState:         n.State,
		AttrEndSeq:        strconv.Itoa(n.EndSeq),
	}}, nil
}

// ErrInvalid is wrapped by every error Decode returns for bytes that are not a notice.
var ErrInvalid = errors.New("not a backfill job notice")

// Decode parses a notice body, as a consumer receives it. It refuses a body over
// MaxNoticeBytes, one that is not a JSON object of this schema version, one that lacks job_id,
// end_seq or a final state, and one whose notice_id is not job_id/end_seq. Unknown fields are
// ignored (fields may be added within a version).
func Decode(data []byte) (Notice, error) {
	if len(data) > MaxNoticeBytes {
		return Notice{}, fmt.Errorf("%w: %d bytes, over the %d a notice may have", ErrInvalid, len(data), MaxNoticeBytes)
	}
	var n Notice
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&n); err != nil {
		return Notice{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return Notice{}, fmt.Errorf("%w: data after the JSON object", ErrInvalid)
	}
	switch {
	case n.SchemaVersion != SchemaVersion:
		return Notice{}, fmt.Errorf("%w: schema_version %d, want %d", ErrInvalid, n.SchemaVersion, SchemaVersion)
	case n.JobID == "":
		return Notice{}, fmt.Errorf("%w: no job_id", ErrInvalid)
	case n.EndSeq < 1:
		return Notice{}, fmt.Errorf("%w: end_seq %d, want at least 1", ErrInvalid, n.EndSeq)
	case !backfill.Ended(n.State):
		return Notice{}, fmt.Errorf("%w: state %q is not done, done_with_failures or cancelled", ErrInvalid, n.State)
	case n.NoticeID != NoticeID(n.JobID, n.EndSeq):
		return Notice{}, fmt.Errorf("%w: notice_id %q, want %q", ErrInvalid, n.NoticeID, NoticeID(n.JobID, n.EndSeq))
	}
	return n, nil
}
