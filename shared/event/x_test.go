package event

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Fixtures modelled on real captures (twitter4s, sferik, Twitter4J for v1.1; twarc for v2).
const (
	v1TweetJSON  = `{"created_at":"Mon Oct 26 09:35:18 +0000 2015","id":658224858933927940,"id_str":"658224858933927940","text":"Big news &gt; #golang #gcp @gopher https://t.co/x","truncated":false,"lang":"en","user":{"id":14090452,"id_str":"14090452","screen_name":"alice"},"entities":{"hashtags":[{"text":"golang"},{"text":"gcp"}],"user_mentions":[{"screen_name":"gopher"}],"urls":[{"url":"https://t.co/x","expanded_url":"https://go.dev/"}]},"in_reply_to_status_id":null,"in_reply_to_status_id_str":null,"is_quote_status":false}`
	v1Extended   = `{"created_at":"Mon Oct 26 09:35:18 +0000 2015","id_str":"9007199254740993","text":"A long one that is cut…","truncated":true,"lang":"en","user":{"id_str":"1","screen_name":"bob"},"entities":{"hashtags":[]},"extended_tweet":{"full_text":"A long one that is cut here but not in full #long","entities":{"hashtags":[{"text":"long"}]}}}`
	v1Retweet    = `{"created_at":"Mon Oct 26 09:35:19 +0000 2015","id_str":"658224863154003968","text":"RT @alice: Big news &gt; #golang…","lang":"en","user":{"id_str":"2","screen_name":"carol"},"entities":{"hashtags":[{"text":"golang"}]},"retweeted_status":{"id_str":"658224858933927940","text":"Big news &gt; #golang #gcp @gopher https://t.co/x","user":{"id_str":"14090452","screen_name":"alice"}}}`
	v1Reply      = `{"created_at":"Mon Oct 26 09:40:00 +0000 2015","id":658226000000000000,"id_str":"658226000000000000","text":"@alice yes","lang":"und","user":{"id_str":"3","screen_name":"dave"},"in_reply_to_status_id":658223568560484352,"in_reply_to_status_id_str":"658223568560484352"}`
	v1Quote      = `{"created_at":"Mon Oct 26 09:41:00 +0000 2015","id_str":"658226000000000001","text":"this","lang":"en","user":{"id_str":"4","screen_name":"erin"},"is_quote_status":true,"quoted_status_id_str":"658224858933927940","quoted_status":{"id_str":"658224858933927940","text":"x"}}`
	v1ReplyQuote = `{"created_at":"Mon Oct 26 09:42:00 +0000 2015","id_str":"658226000000000002","text":"@alice see this","lang":"en","user":{"id_str":"5","screen_name":"frank"},"in_reply_to_status_id":658223568560484352,"in_reply_to_status_id_str":"658223568560484352","in_reply_to_user_id":14090452,"in_reply_to_user_id_str":"14090452","is_quote_status":true,"quoted_status_id":658224858933927940,"quoted_status_id_str":"658224858933927940"}`
	v2ReplyQuote = `{"data":{"id":"1600000000000000003","author_id":"7","text":"@x look","lang":"en","in_reply_to_user_id":"6","referenced_tweets":[{"type":"replied_to","id":"1600000000000000000"},{"type":"quoted","id":"1600000000000000010"}]}}`
	v1Old2009    = `{"text":"hello from 2009","id":2405233817,"created_at":"Sat Jun 27 20:39:19 +0000 2009","user":{"id":2,"screen_name":"old"}} `
	v2Quote      = `{"data":{"author_id":"4602771083","id":"1377650090978992134","created_at":"2021-04-01T15:52:31.000Z","text":"Fury https://t.co/a","referenced_tweets":[{"type":"quoted","id":"1377640162566496258"}],"entities":{"urls":[{"url":"https://t.co/a","expanded_url":"https://twitter.com/x/status/1"}],"hashtags":[{"tag":"Fury"}],"mentions":[{"username":"Manie_DS"}]},"lang":"en"},"includes":{"users":[{"id":"4602771083","username":"blackheart_265"}]},"matching_rules":[{"id":1377649934414049282,"tag":null}]}`
	v2Note       = `{"data":{"id":"1600000000000000001","text":"short…","note_tweet":{"text":"the whole long post"},"lang":"de","referenced_tweets":[{"type":"replied_to","id":"1600000000000000000"}]},"matching_rules":[{"id":"1600","tag":"german"}]}`
	v2Retweet    = `{"data":{"id":"1600000000000000002","text":"RT @x: hi","referenced_tweets":[{"type":"retweeted","id":"1600000000000000000"},{"type":"quoted","id":"15"}]}}`
	v2Error      = `{"errors": [{"title": "operational-disconnect", "disconnect_type": "OperationalDisconnect", "detail": "This stream has been disconnected for operational reasons.", "type": "https://api.twitter.com/2/problems/operational-disconnect"}]}`
)

func TestParseXTweets(t *testing.T) {
	created := time.Date(2015, 10, 26, 9, 35, 18, 0, time.UTC)
	tests := []struct {
		name string
		in   string
		want *XEvent
	}{
		{"v1.1 tweet", v1TweetJSON, &XEvent{Kind: KindTweet, APIVersion: "1.1", Lang: "en", Tweet: &TweetFields{
			ID: "658224858933927940", CreatedAt: created, AuthorID: "14090452", AuthorHandle: "alice",
			Text: "Big news &gt; #golang #gcp @gopher https://t.co/x", Lang: "en",
			Hashtags: []string{"golang", "gcp"}, Mentions: []string{"gopher"}, URLs: []string{"https://go.dev/"}}}},
		{"v1.1 extended tweet keeps full text and its entities", v1Extended, &XEvent{Kind: KindTweet, APIVersion: "1.1", Lang: "en", Tweet: &TweetFields{
			ID: "9007199254740993", CreatedAt: created, AuthorID: "1", AuthorHandle: "bob",
			Text: "A long one that is cut here but not in full #long", Lang: "en", Hashtags: []string{"long"}}}},
		{"v1.1 retweet rebuilds the cut text", v1Retweet, &XEvent{Kind: KindRetweet, APIVersion: "1.1", Lang: "en", Tweet: &TweetFields{
			ID: "658224863154003968", CreatedAt: created.Add(time.Second), AuthorID: "2", AuthorHandle: "carol",
			Text: "RT @alice: Big news &gt; #golang #gcp @gopher https://t.co/x", Lang: "en",
			ReferencedTweetID: "658224858933927940", RetweetedTweetID: "658224858933927940", Hashtags: []string{"golang"}}}},
		{"v1.1 reply", v1Reply, &XEvent{Kind: KindReply, APIVersion: "1.1", Lang: "und", Tweet: &TweetFields{
			ID: "658226000000000000", CreatedAt: time.Date(2015, 10, 26, 9, 40, 0, 0, time.UTC), AuthorID: "3", AuthorHandle: "dave",
			Text: "@alice yes", Lang: "und", ReferencedTweetID: "658223568560484352", RepliedToTweetID: "658223568560484352"}}},
		{"v1.1 quote", v1Quote, &XEvent{Kind: KindQuote, APIVersion: "1.1", Lang: "en", Tweet: &TweetFields{
			ID: "658226000000000001", CreatedAt: time.Date(2015, 10, 26, 9, 41, 0, 0, time.UTC), AuthorID: "4", AuthorHandle: "erin",
			Text: "this", Lang: "en", ReferencedTweetID: "658224858933927940", QuotedTweetID: "658224858933927940"}}},
		{"v1.1 reply that quotes keeps both links", v1ReplyQuote, &XEvent{Kind: KindQuote, APIVersion: "1.1", Lang: "en", Tweet: &TweetFields{
			ID: "658226000000000002", CreatedAt: time.Date(2015, 10, 26, 9, 42, 0, 0, time.UTC), AuthorID: "5", AuthorHandle: "frank",
			Text: "@alice see this", Lang: "en", ReferencedTweetID: "658224858933927940",
			RepliedToTweetID: "658223568560484352", RepliedToUserID: "14090452", QuotedTweetID: "658224858933927940"}}},
		{"v2 reply that quotes keeps both links", v2ReplyQuote, &XEvent{Kind: KindQuote, APIVersion: "2", Lang: "en", Tweet: &TweetFields{
			ID: "1600000000000000003", AuthorID: "7", Text: "@x look", Lang: "en", ReferencedTweetID: "1600000000000000010",
			RepliedToTweetID: "1600000000000000000", RepliedToUserID: "6", QuotedTweetID: "1600000000000000010"}}},
		{"2009 tweet without id_str", v1Old2009, &XEvent{Kind: KindTweet, APIVersion: "1.1", Tweet: &TweetFields{
			ID: "2405233817", CreatedAt: time.Date(2009, 6, 27, 20, 39, 19, 0, time.UTC), AuthorID: "2", AuthorHandle: "old", Text: "hello from 2009"}}},
		{"v2 quote with numeric rule id above 2^53", v2Quote, &XEvent{Kind: KindQuote, APIVersion: "2", Lang: "en", Tweet: &TweetFields{
			ID: "1377650090978992134", CreatedAt: time.Date(2021, 4, 1, 15, 52, 31, 0, time.UTC), AuthorID: "4602771083", AuthorHandle: "blackheart_265",
			Text: "Fury https://t.co/a", Lang: "en", ReferencedTweetID: "1377640162566496258", QuotedTweetID: "1377640162566496258",
			Hashtags: []string{"Fury"}, Mentions: []string{"Manie_DS"}, URLs: []string{"https://twitter.com/x/status/1"},
			MatchingRules: []MatchingRule{{ID: "1377649934414049282"}}}}},
		{"v2 note tweet reply", v2Note, &XEvent{Kind: KindReply, APIVersion: "2", Lang: "de", Tweet: &TweetFields{
			ID: "1600000000000000001", Text: "the whole long post", Lang: "de", ReferencedTweetID: "1600000000000000000", RepliedToTweetID: "1600000000000000000",
			MatchingRules: []MatchingRule{{ID: "1600", Tag: "german"}}}}},
		{"v2 retweet wins over quote", v2Retweet, &XEvent{Kind: KindRetweet, APIVersion: "2", Tweet: &TweetFields{
			ID: "1600000000000000002", Text: "RT @x: hi", ReferencedTweetID: "1600000000000000000",
			RetweetedTweetID: "1600000000000000000", QuotedTweetID: "15"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseX([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseX() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseX() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseXControl(t *testing.T) {
	tests := []struct {
		in   string
		want *XEvent
	}{
		{`{"delete":{"status":{"id":303747490128207873,"id_str":"303747490128207873","user_id":74558989,"user_id_str":"74558989"},"timestamp_ms":"1482242573699"}}`,
			&XEvent{Kind: KindDelete, APIVersion: "1.1", Control: &ControlFields{TweetID: "303747490128207873", UserID: "74558989", Time: time.UnixMilli(1482242573699).UTC()}}},
		{`{"delete":{"status":{"id":1234,"user_id":3}}}`, // 2009: no id_str
			&XEvent{Kind: KindDelete, APIVersion: "1.1", Control: &ControlFields{TweetID: "1234", UserID: "3"}}},
		{`{"scrub_geo":{"user_id":14090452,"user_id_str":"14090452","up_to_status_id":23260136625,"up_to_status_id_str":"23260136625"}}`,
			&XEvent{Kind: KindScrubGeo, APIVersion: "1.1", Control: &ControlFields{UserID: "14090452", UpToTweetID: "23260136625"}}},
		{`{"limit":{"track":121564}} `,
			&XEvent{Kind: KindLimit, APIVersion: "1.1", Control: &ControlFields{TrackLimit: 121564}}},
		{`{"disconnect":{"code": 4,"stream_name":"my-stream-name","reason":"something-went-wrong"}}`,
			&XEvent{Kind: KindDisconnect, APIVersion: "1.1", Control: &ControlFields{Code: "4", StreamName: "my-stream-name", Reason: "something-went-wrong"}}},
		{`{"warning":{"code":"FALLING_BEHIND","message":"queue is 60% full","percent_full": 60}}`,
			&XEvent{Kind: KindWarning, APIVersion: "1.1", Control: &ControlFields{Code: "FALLING_BEHIND", Reason: "queue is 60% full"}}},
		{`{"status_withheld":{"id":1234567890,"user_id":123456,"withheld_in_countries":["DE", "AR"]}}`,
			&XEvent{Kind: KindStatusWithheld, APIVersion: "1.1", Control: &ControlFields{TweetID: "1234567890", UserID: "123456", WithheldInCountries: []string{"DE", "AR"}}}},
		{`{"user_withheld":{"id":123457,"withheld_in_countries":["IT"]}}`,
			&XEvent{Kind: KindUserWithheld, APIVersion: "1.1", Control: &ControlFields{UserID: "123457", WithheldInCountries: []string{"IT"}}}},
		{v2Error, &XEvent{Kind: KindStreamError, APIVersion: "2", Control: &ControlFields{Code: "operational-disconnect", Reason: "This stream has been disconnected for operational reasons."}}},
	}
	for _, tt := range tests {
		got, err := ParseX([]byte(tt.in))
		if err != nil {
			t.Errorf("ParseX(%s) error = %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseX(%s) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseXErrors(t *testing.T) {
	tests := []struct {
		in      string
		wantNot bool // ErrNotX
	}{
		{`{"foo":1}`, true},
		{`{"data":{"text":"no id"}}`, false},
		{`{"delete":{}}`, false},
		{`{"id_str":"1","created_at":"yesterday"}`, false},
		{`{"id_str":"1"`, false},
		{`{"errors":[]}`, false},
		{`{"limit":{"track":"many"}}`, false},
		{`{"friends":[1,2]}`, false},
	}
	for _, tt := range tests {
		_, err := ParseX([]byte(tt.in))
		if err == nil {
			t.Errorf("ParseX(%s) = nil error, want one", tt.in)
			continue
		}
		if got := errors.Is(err, ErrNotX); got != tt.wantNot {
			t.Errorf("ParseX(%s) error %v: is ErrNotX = %v, want %v", tt.in, err, got, tt.wantNot)
		}
	}
}

func TestParseXUnmodelled(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{`{"friends":[1497,169686021]}`, "friends"},
		{`{"friends_str":["1497"]}`, "friends"},
		{`{"direct_message":{"id_str":"1","text":"hi"}}`, "direct_message"},
		{`{"event":"follow","source":{"id_str":"1"},"target":{"id_str":"2"},"created_at":"Sat Sep 4 16:10:54 +0000 2010"}`, "event:follow"},
		{`{"event":"favorite","target_object":{"id_str":"3"}}`, "event:favorite"},
		{`{"for_user":1888,"message":{"friends":[]}}`, "for_user"},
		{`{"control":{"control_uri":"/1.1/site/c/1_1_54e345d655ee3e8df359ac033648530bfbe26c5f"}}`, "control"},
		{`{"delete":{"direct_message":{"id_str":"1","user_id_str":"2"}}}`, "delete:direct_message"},
	}
	for _, tt := range tests {
		_, err := ParseX([]byte(tt.in))
		var u *UnmodelledError
		if !errors.As(err, &u) {
			t.Errorf("ParseX(%s) error = %v, want an *UnmodelledError", tt.in, err)
			continue
		}
		if u.Type != tt.want {
			t.Errorf("ParseX(%s) type = %q, want %q", tt.in, u.Type, tt.want)
		}
		if errors.Is(err, ErrNotX) {
			t.Errorf("ParseX(%s) error is ErrNotX; an unmodelled X message is X's", tt.in)
		}
	}
	// A tweet with an "event" key that is no string is still a tweet.
	if x, err := ParseX([]byte(`{"id_str":"1","text":"t","event":{"a":1}}`)); err != nil || x.Kind != KindTweet {
		t.Errorf("ParseX(tweet with event object) = %v, %v; want a tweet", x, err)
	}
}
