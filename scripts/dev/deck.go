package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/localstack"
)

// deckCheck is the demo's check of the deck: ServeRankings' page at the deck's URL.
type deckCheck struct {
	URL    string `json:"url"`
	Status int    `json:"status"`
	Bytes  int    `json:"bytes"`
	Page   bool   `json:"page"` // the body is the deck's HTML page
}

// deckURL is where a browser opens the deck: ServeRankings' root, with its slash.
func deckURL(s *localstack.Stack) string { return s.Rankings.URL + "/" }

// deckLink is deckURL with a recent-views token for the demo's first user in its fragment, as
// an app would link a signed-in user to the deck: the page keeps the token for the tab and
// opens that user's column. The token lasts viewtoken.MaxLifetime.
func deckLink(s *localstack.Stack) string {
	tok, err := s.ViewToken(rankingUsers[0], time.Now())
	if err != nil {
		return deckURL(s)
	}
	return deckURL(s) + "#view_token=" + tok
}

// checkDeck GETs the deck's page and records a problem unless it is the HTML page with 200.
func checkDeck(ctx context.Context, s *localstack.Stack, out io.Writer, sum *demoSummary) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c := &deckCheck{URL: deckURL(s)}
	sum.Deck = c
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		sum.Problems = append(sum.Problems, fmt.Sprintf("the deck at %s: %v", c.URL, err))
		return nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		sum.Problems = append(sum.Problems, fmt.Sprintf("reading the deck at %s: %v", c.URL, err))
		return nil
	}
	c.Status, c.Bytes = resp.StatusCode, len(b)
	c.Page = strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") && strings.Contains(string(b), `id="deck-config"`)
	fmt.Fprintf(out, "   GET %s = %d, %d bytes of %s (the deck's page: %v)\n", c.URL, c.Status, c.Bytes, resp.Header.Get("Content-Type"), c.Page)
	if c.Status != http.StatusOK || !c.Page {
		sum.Problems = append(sum.Problems, fmt.Sprintf("the deck at %s answered %d, not its HTML page", c.URL, c.Status))
	}
	return nil
}
