package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// XEvent is one classified message from the X stream (v1.1 or v2), with the fields the rows need.
// Exactly one of Tweet and Control is set.
type XEvent struct {
	Kind       Kind
	APIVersion string // "1.1" or "2"
	Lang       string // the tweet's language, "" for control messages
	Tweet      *TweetFields
	Control    *ControlFields
}

// TweetFields are a tweet's fields, the same whatever the API version.
type TweetFields struct {
	ID                string
	CreatedAt         time.Time // zero when the payload does not carry it
	AuthorID          string
	AuthorHandle      string
	Text              string
	Lang              string
	ReferencedTweetID string // the reference the kind is named for (retweeted, quoted, replied-to)
	// Every reference the tweet has, whatever its kind: a reply that quotes keeps both.
	RepliedToTweetID string
	RepliedToUserID  string
	QuotedTweetID    string
	RetweetedTweetID string
	Hashtags         []string
	Mentions         []string
	URLs             []string
	MatchingRules    []MatchingRule
}

// MatchingRule is a v2 filtered-stream rule that matched a tweet.
type MatchingRule struct {
	ID  string `bigquery:"id"`
	Tag string `bigquery:"tag"`
}

// ControlFields are the fields of a stream control message or v2 stream error.
type ControlFields struct {
	Time                time.Time // timestamp_ms when the message carries it
	TweetID             string
	UserID              string
	UpToTweetID         string
	TrackLimit          int64
	Code                string
	Reason              string
	StreamName          string
	WithheldInCountries []string
}

// ErrNotX reports a JSON payload that is none of the X stream's message shapes.
var ErrNotX = errors.New("not an X stream message")

// UnmodelledError reports an X stream message of a type the event contract does not model,
// such as the user stream's friends list, direct messages and events (follow, favorite...).
// It is not ErrNotX: the message is X's, and its type is named.
type UnmodelledError struct {
	// Type is the message's type: its top-level key ("friends", "direct_message"), with the
	// event's name for user-stream events ("event:follow").
	Type string
}

// Error implements error.
func (e *UnmodelledError) Error() string {
	return fmt.Sprintf("unmodelled X message type %q", e.Type)
}

// unmodelledKeys are the top-level keys of X stream messages that the contract does not model
// (v1.1 user and site streams), as documented on X's "Streaming message types" page.
var unmodelledKeys = []string{"friends", "friends_str", "direct_message", "event", "for_user", "control"}

// unmodelledType returns the type of an X message the contract does not model, "" if top is
// not one.
func unmodelledType(top map[string]json.RawMessage) string {
	for _, k := range unmodelledKeys {
		raw, ok := top[k]
		if !ok {
			continue
		}
		switch k {
		case "friends_str":
			return "friends"
		case "event":
			var name string
			if json.Unmarshal(raw, &name) != nil || name == "" {
				continue // not X's event shape
			}
			return "event:" + name
		}
		return k
	}
	if raw, ok := top["delete"]; ok {
		// A deleted direct message: {"delete":{"direct_message":{...}}}.
		var d map[string]json.RawMessage
		if json.Unmarshal(raw, &d) == nil {
			if _, ok := d["direct_message"]; ok {
				if _, ok := d["status"]; !ok {
					return "delete:direct_message"
				}
			}
		}
	}
	return ""
}

// ParseX classifies one X stream message, v1.1 or v2, tweet or control message. Ids are kept
// as strings: they exceed 2^53 and must never pass through float64.
func ParseX(data []byte) (*XEvent, error) {
	var top map[string]json.RawMessage
	if err := decodeJSON(data, &top); err != nil {
		return nil, err
	}
	if raw, ok := top["data"]; ok {
		return parseV2Tweet(raw, top)
	}
	if raw, ok := top["errors"]; ok {
		return parseV2Error(raw)
	}
	if typ := unmodelledType(top); typ != "" {
		return nil, &UnmodelledError{Type: typ}
	}
	if _, ok := top["id_str"]; ok {
		return parseV1Tweet(data)
	}
	if _, ok := top["text"]; ok {
		if _, ok := top["id"]; ok { // 2009-era tweets have no id_str
			return parseV1Tweet(data)
		}
	}
	for _, k := range []Kind{KindDelete, KindScrubGeo, KindLimit, KindDisconnect, KindWarning, KindStatusWithheld, KindUserWithheld} {
		if raw, ok := top[string(k)]; ok {
			c, err := parseV1Control(k, raw)
			if err != nil {
				return nil, fmt.Errorf("parsing %s message: %w", k, err)
			}
			return &XEvent{Kind: k, APIVersion: "1.1", Control: c}, nil
		}
	}
	return nil, ErrNotX
}

// decodeJSON decodes one JSON value with numbers kept as json.Number, and refuses trailing data.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding JSON: %w", err)
	}
	if dec.More() {
		return errors.New("decoding JSON: more than one value")
	}
	return nil
}

// idString is an id that X sends as a string or, in older payloads, as a number.
type idString string

func (s *idString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = idString(v)
		return nil
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		return fmt.Errorf("id %s is neither a string nor a number", b)
	}
	*s = idString(n.String())
	return nil
}

type v1User struct {
	ID         idString `json:"id"`
	IDStr      idString `json:"id_str"`
	ScreenName string   `json:"screen_name"`
}

type v1Entities struct {
	Hashtags []struct {
		Text string `json:"text"`
	} `json:"hashtags"`
	UserMentions []struct {
		ScreenName string `json:"screen_name"`
	} `json:"user_mentions"`
	URLs []struct {
		URL         string `json:"url"`
		ExpandedURL string `json:"expanded_url"`
	} `json:"urls"`
}

type v1Tweet struct {
	ID                   idString    `json:"id"`
	IDStr                idString    `json:"id_str"`
	CreatedAt            string      `json:"created_at"`
	Text                 string      `json:"text"`
	FullText             string      `json:"full_text"`
	Truncated            bool        `json:"truncated"`
	Lang                 string      `json:"lang"`
	User                 *v1User     `json:"user"`
	Entities             *v1Entities `json:"entities"`
	InReplyToStatusID    idString    `json:"in_reply_to_status_id"`
	InReplyToStatusIDStr idString    `json:"in_reply_to_status_id_str"`
	InReplyToUserID      idString    `json:"in_reply_to_user_id"`
	InReplyToUserIDStr   idString    `json:"in_reply_to_user_id_str"`
	IsQuoteStatus        bool        `json:"is_quote_status"`
	QuotedStatusID       idString    `json:"quoted_status_id"`
	QuotedStatusIDStr    idString    `json:"quoted_status_id_str"`
	QuotedStatus         *v1Tweet    `json:"quoted_status"`
	RetweetedStatus      *v1Tweet    `json:"retweeted_status"`
	ExtendedTweet        *struct {
		FullText string      `json:"full_text"`
		Entities *v1Entities `json:"entities"`
	} `json:"extended_tweet"`
}

func first(vals ...idString) string {
	for _, v := range vals {
		if v != "" {
			return string(v)
		}
	}
	return ""
}

func (t *v1Tweet) id() string { return first(t.IDStr, t.ID) }

// fullText returns the untruncated text: extended_tweet.full_text in compatibility mode,
// full_text in extended mode, text otherwise.
func (t *v1Tweet) fullText() string {
	switch {
	case t.ExtendedTweet != nil && t.ExtendedTweet.FullText != "":
		return t.ExtendedTweet.FullText
	case t.FullText != "":
		return t.FullText
	}
	return t.Text
}

func parseV1Tweet(data []byte) (*XEvent, error) {
	var t v1Tweet
	if err := decodeJSON(data, &t); err != nil {
		return nil, err
	}
	f := &TweetFields{ID: t.id(), Lang: t.Lang, Text: t.fullText()}
	if f.ID == "" {
		return nil, errors.New("tweet has no id")
	}
	if t.CreatedAt != "" {
		ts, err := time.Parse(time.RubyDate, t.CreatedAt)
		if err != nil {
			return nil, fmt.Errorf("parsing created_at %q: %w", t.CreatedAt, err)
		}
		f.CreatedAt = ts.UTC()
	}
	if t.User != nil {
		f.AuthorID = first(t.User.IDStr, t.User.ID)
		f.AuthorHandle = t.User.ScreenName
	}
	kind := KindTweet
	// Every reference the payload has, whatever the kind; a retweet's own reply and quote
	// fields are null unless X filled them.
	if t.RetweetedStatus != nil {
		f.RetweetedTweetID = t.RetweetedStatus.id()
	}
	f.RepliedToTweetID = first(t.InReplyToStatusIDStr, t.InReplyToStatusID)
	if f.RepliedToTweetID != "" {
		f.RepliedToUserID = first(t.InReplyToUserIDStr, t.InReplyToUserID)
	}
	if t.QuotedStatus != nil || t.IsQuoteStatus {
		f.QuotedTweetID = first(t.QuotedStatusIDStr, t.QuotedStatusID)
		if f.QuotedTweetID == "" && t.QuotedStatus != nil {
			f.QuotedTweetID = t.QuotedStatus.id()
		}
	}
	switch {
	case t.RetweetedStatus != nil:
		kind = KindRetweet
		f.ReferencedTweetID = t.RetweetedStatus.id()
		// A retweet's own text is cut at 140 characters; rebuild it from the original.
		if rt := t.RetweetedStatus; rt.User != nil && strings.HasPrefix(f.Text, "RT @") {
			f.Text = "RT @" + rt.User.ScreenName + ": " + rt.fullText()
		}
	case t.QuotedStatus != nil || t.IsQuoteStatus && first(t.QuotedStatusIDStr, t.QuotedStatusID) != "":
		kind = KindQuote
		f.ReferencedTweetID = first(t.QuotedStatusIDStr, t.QuotedStatusID)
		if f.ReferencedTweetID == "" && t.QuotedStatus != nil {
			f.ReferencedTweetID = t.QuotedStatus.id()
		}
	case first(t.InReplyToStatusIDStr, t.InReplyToStatusID) != "":
		kind = KindReply
		f.ReferencedTweetID = first(t.InReplyToStatusIDStr, t.InReplyToStatusID)
	}
	ents := t.Entities
	if t.ExtendedTweet != nil && t.ExtendedTweet.Entities != nil {
		ents = t.ExtendedTweet.Entities
	}
	if ents != nil {
		for _, h := range ents.Hashtags {
			f.Hashtags = append(f.Hashtags, h.Text)
		}
		for _, m := range ents.UserMentions {
			f.Mentions = append(f.Mentions, m.ScreenName)
		}
		for _, u := range ents.URLs {
			f.URLs = append(f.URLs, firstString(u.ExpandedURL, u.URL))
		}
	}
	return &XEvent{Kind: kind, APIVersion: "1.1", Lang: t.Lang, Tweet: f}, nil
}

func firstString(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

type v2Tweet struct {
	ID               idString `json:"id"`
	Text             string   `json:"text"`
	AuthorID         idString `json:"author_id"`
	CreatedAt        string   `json:"created_at"`
	Lang             string   `json:"lang"`
	InReplyToUserID  idString `json:"in_reply_to_user_id"`
	ReferencedTweets []struct {
		Type string   `json:"type"`
		ID   idString `json:"id"`
	} `json:"referenced_tweets"`
	NoteTweet *struct {
		Text string `json:"text"`
	} `json:"note_tweet"`
	Entities *struct {
		Hashtags []struct {
			Tag string `json:"tag"`
		} `json:"hashtags"`
		Mentions []struct {
			Username string `json:"username"`
		} `json:"mentions"`
		URLs []struct {
			URL         string `json:"url"`
			ExpandedURL string `json:"expanded_url"`
		} `json:"urls"`
	} `json:"entities"`
}

func parseV2Tweet(raw json.RawMessage, top map[string]json.RawMessage) (*XEvent, error) {
	var t v2Tweet
	if err := decodeJSON(raw, &t); err != nil {
		return nil, fmt.Errorf("parsing data: %w", err)
	}
	f := &TweetFields{ID: string(t.ID), AuthorID: string(t.AuthorID), Text: t.Text, Lang: t.Lang}
	if f.ID == "" {
		return nil, errors.New("tweet has no id")
	}
	if t.NoteTweet != nil && t.NoteTweet.Text != "" {
		f.Text = t.NoteTweet.Text // long posts: text holds only the first 280 characters
	}
	if t.CreatedAt != "" {
		ts, err := time.Parse(time.RFC3339, t.CreatedAt)
		if err != nil {
			return nil, fmt.Errorf("parsing created_at %q: %w", t.CreatedAt, err)
		}
		f.CreatedAt = ts.UTC()
	}
	refs := map[string]string{}
	for _, r := range t.ReferencedTweets {
		refs[r.Type] = string(r.ID)
	}
	f.RepliedToTweetID, f.QuotedTweetID, f.RetweetedTweetID = refs["replied_to"], refs["quoted"], refs["retweeted"]
	if f.RepliedToTweetID != "" {
		f.RepliedToUserID = string(t.InReplyToUserID)
	}
	kind := KindTweet
	// The same precedence as v1.1: a retweet, then a quote, then a reply.
	for _, c := range []struct {
		typ  string
		kind Kind
	}{{"retweeted", KindRetweet}, {"quoted", KindQuote}, {"replied_to", KindReply}} {
		if id, ok := refs[c.typ]; ok {
			kind, f.ReferencedTweetID = c.kind, id
			break
		}
	}
	if t.Entities != nil {
		for _, h := range t.Entities.Hashtags {
			f.Hashtags = append(f.Hashtags, h.Tag)
		}
		for _, m := range t.Entities.Mentions {
			f.Mentions = append(f.Mentions, m.Username)
		}
		for _, u := range t.Entities.URLs {
			f.URLs = append(f.URLs, firstString(u.ExpandedURL, u.URL))
		}
	}
	if raw, ok := top["includes"]; ok && f.AuthorID != "" {
		var inc struct {
			Users []struct {
				ID       idString `json:"id"`
				Username string   `json:"username"`
			} `json:"users"`
		}
		if err := decodeJSON(raw, &inc); err != nil {
			return nil, fmt.Errorf("parsing includes: %w", err)
		}
		for _, u := range inc.Users {
			if string(u.ID) == f.AuthorID {
				f.AuthorHandle = u.Username
				break
			}
		}
	}
	if raw, ok := top["matching_rules"]; ok {
		var rules []struct {
			ID  idString `json:"id"` // a number in 2021 captures, a string today
			Tag *string  `json:"tag"`
		}
		if err := decodeJSON(raw, &rules); err != nil {
			return nil, fmt.Errorf("parsing matching_rules: %w", err)
		}
		for _, r := range rules {
			mr := MatchingRule{ID: string(r.ID)}
			if r.Tag != nil {
				mr.Tag = *r.Tag
			}
			f.MatchingRules = append(f.MatchingRules, mr)
		}
	}
	return &XEvent{Kind: kind, APIVersion: "2", Lang: t.Lang, Tweet: f}, nil
}

func parseV2Error(raw json.RawMessage) (*XEvent, error) {
	var errs []struct {
		Title          string `json:"title"`
		Detail         string `json:"detail"`
		DisconnectType string `json:"disconnect_type"`
		Type           string `json:"type"`
	}
	if err := decodeJSON(raw, &errs); err != nil {
		return nil, fmt.Errorf("parsing errors: %w", err)
	}
	if len(errs) == 0 {
		return nil, errors.New("stream error object with no errors")
	}
	e := errs[0]
	return &XEvent{Kind: KindStreamError, APIVersion: "2", Control: &ControlFields{
		Code:   firstString(e.Title, e.DisconnectType, e.Type),
		Reason: firstString(e.Detail, e.DisconnectType),
	}}, nil
}

type v1Control struct {
	Status *struct {
		ID        idString `json:"id"`
		IDStr     idString `json:"id_str"`
		UserID    idString `json:"user_id"`
		UserIDStr idString `json:"user_id_str"`
	} `json:"status"`
	ID                  idString        `json:"id"`
	UserID              idString        `json:"user_id"`
	UserIDStr           idString        `json:"user_id_str"`
	UpToStatusID        idString        `json:"up_to_status_id"`
	UpToStatusIDStr     idString        `json:"up_to_status_id_str"`
	Track               json.Number     `json:"track"`
	RawCode             json.RawMessage `json:"code"`
	Reason              string          `json:"reason"`
	Message             string          `json:"message"`
	StreamName          string          `json:"stream_name"`
	WithheldInCountries []string        `json:"withheld_in_countries"`
	TimestampMS         idString        `json:"timestamp_ms"`
}

func parseV1Control(k Kind, raw json.RawMessage) (*ControlFields, error) {
	var m v1Control
	if err := decodeJSON(raw, &m); err != nil {
		return nil, err
	}
	c := &ControlFields{
		UserID:              first(m.UserIDStr, m.UserID),
		UpToTweetID:         first(m.UpToStatusIDStr, m.UpToStatusID),
		Reason:              firstString(m.Reason, m.Message),
		StreamName:          m.StreamName,
		WithheldInCountries: m.WithheldInCountries,
	}
	if len(m.RawCode) > 0 {
		var code idString // "code" is a number for disconnect and a string for warning
		if err := code.UnmarshalJSON(m.RawCode); err != nil {
			return nil, fmt.Errorf("parsing code: %w", err)
		}
		c.Code = string(code)
	}
	if m.Track != "" {
		n, err := m.Track.Int64()
		if err != nil {
			return nil, fmt.Errorf("parsing track %q: %w", m.Track, err)
		}
		c.TrackLimit = n
	}
	if m.TimestampMS != "" {
		var ms json.Number = json.Number(m.TimestampMS)
		n, err := ms.Int64()
		if err != nil {
			return nil, fmt.Errorf("parsing timestamp_ms %q: %w", m.TimestampMS, err)
		}
		c.Time = time.UnixMilli(n).UTC()
	}
	switch k {
	case KindDelete:
		if m.Status == nil {
			return nil, errors.New("delete notice has no status")
		}
		c.TweetID = first(m.Status.IDStr, m.Status.ID)
		c.UserID = first(m.Status.UserIDStr, m.Status.UserID)
		if c.TweetID == "" {
			return nil, errors.New("delete notice has no status id")
		}
	case KindStatusWithheld:
		c.TweetID = string(m.ID)
	case KindUserWithheld:
		c.UserID = string(m.ID)
	}
	return c, nil
}
