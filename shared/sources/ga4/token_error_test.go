package ga4_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/sources"
	"github.com/pipelinekit/pipelinekit/shared/sources/ga4"
	"github.com/pipelinekit/pipelinekit/shared/sources/ga4/ga4fake"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube/youtubefake"
)

// A revoked grant fails a GA4 report as AuthRevoked, and the message names the GA4 token's
// refresh (the token errors are classified by the shared sources.ClassifyTokenError, which once
// said "youtube" for every API).
func TestRevokedGrantNamesGA4(t *testing.T) {
	tokens := youtubefake.NewYouTubeServer()
	t.Cleanup(tokens.Close)
	srv := ga4fake.NewGA4Server(ga4fake.WithGA4TokenCheck(tokens.ValidToken))
	t.Cleanup(srv.Close)
	g, err := ga4.NewGA4(context.Background(), ga4.GA4Config{
		ClientID: sourcestest.DefaultClientID, ClientSecret: sourcestest.DefaultClientSecret,
		RefreshToken: sourcestest.DefaultRefreshToken, TokenURL: tokens.TokenURL(),
		BaseURL: srv.URL(), HTTPTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("NewGA4() error = %v", err)
	}
	tokens.RevokeRefreshToken()
	_, err = g.Report(context.Background(), ga4Query(0))
	var se *sources.Error
	if !errors.As(err, &se) || se.Kind != sources.AuthRevoked || se.Reason != "invalid_grant" {
		t.Fatalf("Report() error = %v; want AuthRevoked invalid_grant", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "refreshing ga4 access token") || strings.Contains(msg, "youtube") {
		t.Errorf("Report() error = %q; want it to name the ga4 token's refresh, not youtube", msg)
	}
}
