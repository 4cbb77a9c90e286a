package httpjson

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// Pagination types of an http_json fetch.
const (
	PageNone     = ""
	PageNextLink = "next_link"
	PageCursor   = "cursor"
	PageNumber   = "page"
)

// MaxPagesLimit caps pagination.max_pages; zero means the sources package's DefaultMaxPages.
const MaxPagesLimit = 100_000

var (
	placeholderPattern = regexp.MustCompile(`\{([^{}]*)\}`)
	paramNamePattern   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	jsonPathPattern    = regexp.MustCompile(`^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$`)
	headerNamePattern  = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

func (h *HTTPJSONSpec) validate(hosts sources.HostPolicy) *backfill.FieldError {
	const p = Name + "."
	if h.URL == "" {
		return backfill.FieldErrorf(p+"url", "missing")
	}
	if _, rest, ok := strings.Cut(h.URL, "://"); ok {
		if authority, _, _ := strings.Cut(rest, "/"); strings.ContainsAny(authority, "{}") {
			return backfill.FieldErrorf(p+"url", "the host may not contain placeholders")
		}
	}
	u, err := url.Parse(h.URL)
	if err != nil || u.Host == "" {
		return backfill.FieldErrorf(p+"url", "%q is not an absolute URL", h.URL)
	}
	if fe := checkURLCredentials(u, p+"url"); fe != nil {
		return fe
	}
	// The URL with placeholders filled by a harmless value is what the allow-list judges.
	probe := placeholderPattern.ReplaceAllString(h.URL, "x")
	if err := hosts.CheckURL(probe); err != nil {
		return backfill.FieldErrorf(p+"url", "refused by the host allow-list: %v", err)
	}

	placeholders := map[string]bool{}
	for _, m := range placeholderPattern.FindAllStringSubmatch(h.URL, -1) {
		name := m[1]
		if !paramNamePattern.MatchString(name) {
			return backfill.FieldErrorf(p+"url", "placeholder {%s} is not a name ([A-Za-z_][A-Za-z0-9_]*)", name)
		}
		if _, ok := h.Params[name]; !ok {
			return backfill.FieldErrorf(p+"params", "the URL has placeholder {%s} and params has no %q", name, name)
		}
		placeholders[name] = true
	}
	for _, name := range sortedKeys(h.Params) {
		values := h.Params[name]
		f := p + "params." + name
		if !placeholders[name] {
			return backfill.FieldErrorf(f, "the URL has no placeholder {%s}", name)
		}
		if len(values) == 0 {
			return backfill.FieldErrorf(f, "is empty")
		}
		if fe := checkParamCredentials(name, values); fe != nil {
			return fe
		}
		sorted, dup := backfill.SortedUnique(values)
		if dup >= 0 {
			return backfill.FieldErrorf(fmt.Sprintf("%s[%d]", f, dup), "%q is listed twice", values[dup])
		}
		h.Params[name] = sorted
	}
	if h.Params != nil && len(h.Params) == 0 {
		h.Params = nil
	}

	if h.RecordsPath != "" && !jsonPathPattern.MatchString(h.RecordsPath) {
		return backfill.FieldErrorf(p+"records_path", "%q is not a dotted path such as data.items", h.RecordsPath)
	}
	if err := h.validatePagination(); err != nil {
		return err
	}

	headers := map[string]string{}
	for _, name := range sortedKeys(h.Headers) {
		f := p + "headers." + name
		value := h.Headers[name]
		if !headerNamePattern.MatchString(name) {
			return backfill.FieldErrorf(f, "%q is not a header name", name)
		}
		canon := http.CanonicalHeaderKey(name)
		if looksLikeCredentialName(canon) || canon == "Proxy-Authorization" {
			return backfill.FieldErrorf(f, "header %s carries credentials; secrets never travel in specs: name it in secrets as {\"header\": %q, \"secret\": \"projects/.../secrets/...\"}", canon, canon)
		}
		if looksLikeCredentialValue(value) {
			return backfill.FieldErrorf(f, "the value looks like a credential; secrets never travel in specs")
		}
		if strings.ContainsAny(value, "\r\n") {
			return backfill.FieldErrorf(f, "the value has a line break")
		}
		if _, ok := headers[canon]; ok {
			return backfill.FieldErrorf(f, "header %s is given twice", canon)
		}
		headers[canon] = value
	}
	if len(headers) == 0 {
		headers = nil
	}
	h.Headers = headers
	return h.validateSecrets(u)
}

func (h *HTTPJSONSpec) validatePagination() *backfill.FieldError {
	pg := h.Pagination
	if pg == nil {
		return nil
	}
	const p = Name + ".pagination."
	// Each field belongs to one type; a field the type does not use is a mistake in the spec.
	used := map[string]bool{}
	switch pg.Type {
	case PageNone:
	case PageNextLink:
		used["next_path"] = true
	case PageCursor:
		used["cursor_path"], used["cursor_param"] = true, true
	case PageNumber:
		used["page_param"], used["start_page"] = true, true
	default:
		return backfill.FieldErrorf(p+"type", "unknown pagination type %q: want next_link, cursor, page or empty", pg.Type)
	}
	fields := []struct {
		name string
		set  bool
	}{
		{"next_path", pg.NextPath != ""}, {"cursor_path", pg.CursorPath != ""}, {"cursor_param", pg.CursorParam != ""},
		{"page_param", pg.PageParam != ""}, {"start_page", pg.StartPage != 0},
	}
	for _, f := range fields {
		if f.set && !used[f.name] {
			return backfill.FieldErrorf(p+f.name, "not used by pagination type %q", pg.Type)
		}
		if !f.set && used[f.name] && f.name != "start_page" {
			return backfill.FieldErrorf(p+f.name, "missing: pagination type %q needs it", pg.Type)
		}
	}
	for _, path := range []struct{ name, v string }{{"next_path", pg.NextPath}, {"cursor_path", pg.CursorPath}} {
		if path.v != "" && !jsonPathPattern.MatchString(path.v) {
			return backfill.FieldErrorf(p+path.name, "%q is not a dotted path such as links.next", path.v)
		}
	}
	for _, param := range []struct{ name, v string }{{"cursor_param", pg.CursorParam}, {"page_param", pg.PageParam}} {
		if param.v != "" && !paramNamePattern.MatchString(param.v) {
			return backfill.FieldErrorf(p+param.name, "%q is not a query parameter name", param.v)
		}
	}
	if pg.StartPage < 0 {
		return backfill.FieldErrorf(p+"start_page", "is negative")
	}
	if pg.MaxPages < 0 || pg.MaxPages > MaxPagesLimit {
		return backfill.FieldErrorf(p+"max_pages", "%d is outside 0..%d (0 means %d)", pg.MaxPages, MaxPagesLimit, DefaultMaxPages)
	}
	if pg.Type == PageNone {
		if pg.MaxPages != 0 {
			return backfill.FieldErrorf(p+"max_pages", "not used without a pagination type")
		}
		h.Pagination = nil
		return nil
	}
	if pg.Type == PageNumber && pg.StartPage == 0 {
		pg.StartPage = 1
	}
	return nil
}

// sortedKeys returns m's keys in order, so that checks and plans walk params the same way on
// every run.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
