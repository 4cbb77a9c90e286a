package event

import "time"

// Attributes a redrive (scripts/redrive) adds to a dead letter's original attributes when it
// publishes the message again. The loader reads the first two so that a redriven message makes
// the row its first delivery would have made: the dedup views key on the message id (directly,
// or through an app event's "msg:<message id>" id) and the publish time fills event_time when
// the payload has none, and a republished message gets a new id and time from Pub/Sub.
const (
	// AttrRedriveOf is the Pub/Sub message id of the message's first delivery.
	AttrRedriveOf = "redrive_of"
	// AttrRedrivePublishTime is the first delivery's publish time, RFC 3339 with nanoseconds.
	AttrRedrivePublishTime = "redrive_publish_time"
	// AttrRedriveID names the redrive that sent the message (derived from its selection).
	AttrRedriveID = "redrive_id"
)

// RedriveAttributes lists the attributes a redrive adds, in a stable order.
var RedriveAttributes = []string{AttrRedriveOf, AttrRedrivePublishTime, AttrRedriveID}

// FirstDelivery returns the message id and publish time of m's first delivery: those a redrive
// carried in its attributes, else m's own. A message with one of the two attributes and not
// the other, or a publish time that is not RFC 3339, is invalid: it was not sent by a redrive.
func FirstDelivery(m Message) (id string, published time.Time, err error) {
	of, hasOf := m.Attributes[AttrRedriveOf]
	pt, hasPT := m.Attributes[AttrRedrivePublishTime]
	switch {
	case !hasOf && !hasPT:
		return m.ID, m.PublishTime, nil
	case of == "":
		return "", time.Time{}, invalid("attributes", "%s is empty or missing beside %s", AttrRedriveOf, AttrRedrivePublishTime)
	case !hasPT:
		return "", time.Time{}, invalid("attributes", "%s is missing beside %s", AttrRedrivePublishTime, AttrRedriveOf)
	}
	t, perr := time.Parse(time.RFC3339Nano, pt)
	if perr != nil || t.IsZero() {
		return "", time.Time{}, invalid("attributes", "%s %q is not an RFC 3339 time", AttrRedrivePublishTime, pt)
	}
	return of, t, nil
}
