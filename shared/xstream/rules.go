package xstream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
)

// Rule is a filtered-stream rule as the pipeline wants it.
type Rule struct {
	// Value is the rule in X's filter language, e.g. "cat has:images".
	Value string `json:"value"`
	// Tag labels tweets matched by the rule (in matching_rules[].tag).
	Tag string `json:"tag,omitempty"`
}

// StoredRule is a rule as X holds it, with the id X assigned.
type StoredRule struct {
	// ID is X's rule id, a decimal string above 2^53.
	ID string `json:"id"`
	// Value is the rule in X's filter language.
	Value string `json:"value"`
	// Tag is the rule's tag, "" when none.
	Tag string `json:"tag,omitempty"`
}

// Rule returns the rule without its id.
func (r StoredRule) Rule() Rule { return Rule{Value: r.Value, Tag: r.Tag} }

// InvalidRule is a rule X refused, with X's reasons.
type InvalidRule struct {
	// Rule is the refused rule.
	Rule Rule
	// Title is X's problem title, e.g. "UnprocessableEntity" or "DuplicateRule".
	Title string
	// Type is X's problem URI, e.g. "https://api.twitter.com/2/problems/invalid-rules".
	Type string
	// Details are X's messages, e.g. "... exceeds the maximum length of a rule ...".
	Details []string
	// ID is the existing rule's id when Title is "DuplicateRule".
	ID string
}

// AddSummary is meta.summary of an add-rules response.
type AddSummary struct {
	Created    int `json:"created"`
	NotCreated int `json:"not_created"`
	Valid      int `json:"valid"`
	Invalid    int `json:"invalid"`
}

// AddResult is the outcome of AddRules.
type AddResult struct {
	// Rules are the created rules (or, on a dry run, the ones that would be).
	Rules []StoredRule
	// Invalid are the rules X refused.
	Invalid []InvalidRule
	// Summary is X's meta.summary.
	Summary AddSummary
}

// DeleteSummary is meta.summary of a delete-rules response.
type DeleteSummary struct {
	Deleted    int `json:"deleted"`
	NotDeleted int `json:"not_deleted"`
}

// RulesReport is what SyncRules changed.
type RulesReport struct {
	// Added are the wanted rules that were missing and are now stored.
	Added []StoredRule
	// Deleted are the stored rules that were not wanted and are now gone.
	Deleted []StoredRule
	// Unchanged are the wanted rules that were already stored.
	Unchanged []StoredRule
	// Invalid are the wanted rules X refused; they were not added.
	Invalid []InvalidRule
}

// flexID decodes an id sent as a JSON string or number without going
// through float64 (the 2021 stream capture has numeric rule ids).
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		*f = flexID(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("decoding id %s: %w", b, err)
	}
	*f = flexID(s)
	return nil
}

type wireRule struct {
	ID    flexID `json:"id"`
	Value string `json:"value"`
	Tag   string `json:"tag"`
}

func (w wireRule) stored() StoredRule {
	return StoredRule{ID: string(w.ID), Value: w.Value, Tag: w.Tag}
}

type wireRuleError struct {
	Value   string   `json:"value"`
	ID      flexID   `json:"id"`
	Title   string   `json:"title"`
	Type    string   `json:"type"`
	Detail  string   `json:"detail"`
	Details []string `json:"details"`
}

// Rules returns the rules currently stored for the app, following
// pagination if X splits them.
func (c *Client) Rules(ctx context.Context) ([]StoredRule, error) {
	var all []StoredRule
	q := url.Values{}
	for {
		var resp struct {
			Data []wireRule `json:"data"`
			Meta struct {
				NextToken string `json:"next_token"`
			} `json:"meta"`
		}
		if _, err := c.doJSON(ctx, "GET", RulesPath, q, nil, &resp); err != nil {
			return nil, fmt.Errorf("listing stream rules: %w", err)
		}
		for _, w := range resp.Data {
			all = append(all, w.stored())
		}
		if resp.Meta.NextToken == "" {
			return all, nil
		}
		q.Set("pagination_token", resp.Meta.NextToken)
	}
}

// AddRules adds rules; with dryRun X only validates them. Rules X refuses
// come back in AddResult.Invalid, not as an error: the error is for requests
// X rejects as a whole (*APIError).
func (c *Client) AddRules(ctx context.Context, rules []Rule, dryRun bool) (AddResult, error) {
	var q url.Values
	if dryRun {
		q = url.Values{"dry_run": {"true"}}
	}
	var resp struct {
		Data []wireRule `json:"data"`
		Meta struct {
			Summary AddSummary `json:"summary"`
		} `json:"meta"`
		Errors []wireRuleError `json:"errors"`
	}
	body := map[string][]Rule{"add": rules}
	if _, err := c.doJSON(ctx, "POST", RulesPath, q, body, &resp); err != nil {
		return AddResult{}, fmt.Errorf("adding %d stream rules (dry_run=%t): %w", len(rules), dryRun, err)
	}
	res := AddResult{Summary: resp.Meta.Summary}
	for _, w := range resp.Data {
		res.Rules = append(res.Rules, w.stored())
	}
	tags := make(map[string]string, len(rules))
	for _, r := range rules {
		tags[r.Value] = r.Tag
	}
	for _, e := range resp.Errors {
		details := e.Details
		if len(details) == 0 && e.Detail != "" {
			details = []string{e.Detail}
		}
		res.Invalid = append(res.Invalid, InvalidRule{
			Rule:    Rule{Value: e.Value, Tag: tags[e.Value]},
			Title:   e.Title,
			Type:    e.Type,
			Details: details,
			ID:      string(e.ID),
		})
	}
	return res, nil
}

// DeleteRules deletes rules by id.
func (c *Client) DeleteRules(ctx context.Context, ids []string) (DeleteSummary, error) {
	var resp struct {
		Meta struct {
			Summary DeleteSummary `json:"summary"`
		} `json:"meta"`
	}
	body := map[string]map[string][]string{"delete": {"ids": ids}}
	if _, err := c.doJSON(ctx, "POST", RulesPath, nil, body, &resp); err != nil {
		return DeleteSummary{}, fmt.Errorf("deleting %d stream rules: %w", len(ids), err)
	}
	return resp.Meta.Summary, nil
}

// titleDuplicateRule is X's problem title for a rule whose value is already
// stored (https://api.twitter.com/2/problems/duplicate-rules).
const titleDuplicateRule = "DuplicateRule"

// SyncRules makes the stored rules equal to want, comparing value and tag.
// Missing rules are validated first with dry_run=true and the ones X refuses
// are reported in RulesReport.Invalid without being added. Rules whose
// value is stored under another tag are re-tagged: X keys rules by value
// (adding the same value again is a DuplicateRule), so those are added after
// the stale rule is deleted; every other missing rule is added before the
// deletes so that the stream's coverage never has a gap for them.
func (c *Client) SyncRules(ctx context.Context, want []Rule) (RulesReport, error) {
	var rep RulesReport
	current, err := c.Rules(ctx)
	if err != nil {
		return rep, fmt.Errorf("syncing stream rules: %w", err)
	}
	wantKeys := make(map[Rule]bool, len(want))
	wantValues := make(map[string]bool, len(want))
	var wanted []Rule
	for _, r := range want {
		switch {
		case wantKeys[r]:
			continue // the same rule twice
		case wantValues[r.Value]:
			rep.Invalid = append(rep.Invalid, InvalidRule{Rule: r, Title: titleDuplicateRule,
				Details: []string{"another wanted rule has the same value; X stores one rule per value"}})
			continue
		}
		wantKeys[r], wantValues[r.Value] = true, true
		wanted = append(wanted, r)
	}
	storedKeys := make(map[Rule]bool, len(current))
	staleValues := make(map[string]bool)
	var stale []StoredRule
	for _, s := range current {
		storedKeys[s.Rule()] = true
		if wantKeys[s.Rule()] {
			rep.Unchanged = append(rep.Unchanged, s)
		} else {
			stale = append(stale, s)
			staleValues[s.Value] = true
		}
	}
	var missing []Rule
	for _, r := range wanted {
		if !storedKeys[r] {
			missing = append(missing, r)
		}
	}

	var direct, retag []Rule
	if len(missing) > 0 {
		dry, err := c.AddRules(ctx, missing, true)
		if err != nil {
			return rep, fmt.Errorf("validating stream rules: %w", err)
		}
		refused := make(map[string]bool)
		for _, inv := range dry.Invalid {
			if inv.Title == titleDuplicateRule && staleValues[inv.Rule.Value] {
				continue // the same value under an old tag: fixed by the re-tag below
			}
			refused[inv.Rule.Value] = true
			rep.Invalid = append(rep.Invalid, inv)
		}
		for _, r := range missing {
			switch {
			case refused[r.Value]:
			case staleValues[r.Value]:
				retag = append(retag, r)
			default:
				direct = append(direct, r)
			}
		}
	}
	if err := c.addForSync(ctx, direct, &rep); err != nil {
		return rep, err
	}
	if len(stale) > 0 {
		ids := make([]string, len(stale))
		for i, s := range stale {
			ids[i] = s.ID
		}
		sum, err := c.DeleteRules(ctx, ids)
		if err != nil {
			return rep, fmt.Errorf("syncing stream rules: %w", err)
		}
		if sum.NotDeleted > 0 {
			c.logger().Warn("some stale stream rules were not deleted", "not_deleted", sum.NotDeleted, "ids", ids)
		}
		rep.Deleted = stale
	}
	if err := c.addForSync(ctx, retag, &rep); err != nil {
		return rep, err
	}
	order := make(map[string]int, len(want))
	for i, r := range want {
		order[r.Value] = i
	}
	slices.SortStableFunc(rep.Added, func(a, b StoredRule) int { return order[a.Value] - order[b.Value] })
	c.logger().Info("stream rules synced", "added", len(rep.Added), "deleted", len(rep.Deleted),
		"unchanged", len(rep.Unchanged), "invalid", len(rep.Invalid))
	return rep, nil
}

func (c *Client) addForSync(ctx context.Context, rules []Rule, rep *RulesReport) error {
	if len(rules) == 0 {
		return nil
	}
	res, err := c.AddRules(ctx, rules, false)
	if err != nil {
		return fmt.Errorf("syncing stream rules: %w", err)
	}
	rep.Added = append(rep.Added, res.Rules...)
	// A rule that passed the dry run can still be refused (a concurrent
	// change); report it rather than lose it.
	rep.Invalid = append(rep.Invalid, res.Invalid...)
	return nil
}
