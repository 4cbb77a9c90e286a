package publish

import (
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestSettingsValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Settings)
		wantErr string
	}{
		{name: "defaults", edit: func(*Settings) {}},
		{name: "client defaults", edit: func(s *Settings) { *s = ClientSettings() }},
		{name: "count over the request limit", edit: func(s *Settings) { s.CountThreshold = 1001 }, wantErr: "count threshold 1001 outside 0..1000"},
		{name: "bytes over the request limit", edit: func(s *Settings) { s.ByteThreshold = 11 << 20 }, wantErr: "byte threshold 11534336 outside 0..10000000"},
		{name: "negative delay", edit: func(s *Settings) { s.DelayThreshold = -time.Millisecond }, wantErr: "negative delay threshold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DefaultSettings()
			tt.edit(&s)
			err := s.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if (tt.wantErr == "") != (got == "") || !strings.HasPrefix(got, tt.wantErr) {
				t.Errorf("Validate() = %q, want %q", got, tt.wantErr)
			}
		})
	}
}

func TestPublishSettingsConversion(t *testing.T) {
	tests := []struct {
		name string
		in   Settings
		want pubsub.PublishSettings
	}{
		{
			name: "client defaults round-trip",
			in:   ClientSettings(),
			want: pubsub.DefaultPublishSettings,
		},
		{
			name: "defaults block on the limit",
			in:   DefaultSettings(),
			want: func() pubsub.PublishSettings {
				ps := pubsub.DefaultPublishSettings
				ps.DelayThreshold = 5 * time.Millisecond
				ps.CountThreshold = 100
				ps.ByteThreshold = 1 << 20
				ps.FlowControlSettings = pubsub.FlowControlSettings{
					MaxOutstandingMessages: 10_000,
					MaxOutstandingBytes:    64 << 20,
					LimitExceededBehavior:  pubsub.FlowControlBlock,
				}
				return ps
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.in.publishSettings(), cmpopts.IgnoreUnexported(pubsub.PublishSettings{})); diff != "" {
				t.Errorf("publishSettings() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
