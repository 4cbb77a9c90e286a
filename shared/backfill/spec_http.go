package backfill

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// Pagination types of an http_json fetch.
const (
	PageNone     = ""
	PageNextLink = "next_link"
	PageCursor   = "cursor"
	PageNumber   = "page"
)

// maxPagesLimit caps pagination.max_pages; zero means the sources package's DefaultMaxPages.
const maxPagesLimit = 100_000

var (
	placeholderPattern = regexp.MustCompile(`\{([^{}]*)\}`)
	paramNamePattern   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	jsonPathPattern    = regexp.MustCompile(`^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$`)
	headerNamePattern  = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

func (h *HTTPJSONSpec) validate(hosts sources.HostPolicy) *FieldError {
	const p = SourceHTTPJSON + "."
	if h.URL == "" {
		return fieldErr(p+"url", "missing")
	}
	if _, rest, ok := strings.Cut(h.URL, "://"); ok {
		if authority, _, _ := strings.Cut(rest, "/"); strings.ContainsAny(authority, "{}") {
			return fieldErr(p+"url", "the host may not contain placeholders")
		}
	}
	u, err := url.Parse(h.URL)
	if err != nil || u.Host == "" {
		return fieldErr(p+"url", "%q is not an absolute URL", h.URL)
	}
	if fe := checkURLCredentials(u, p+"url"); fe != nil {
		return fe
	}
	// The URL with placeholders filled by a harmless value is what the allow-list judges.
	probe := placeholderPattern.ReplaceAllString(h.URL, "x")
	if err := hosts.CheckURL(probe); err != nil {
		return fieldErr(p+"url", "refused by the host allow-list: %v", err)
	}

	placeholders := map[string]bool{}
	for _, m := range placeholderPattern.FindAllStringSubmatch(h.URL, -1) {
		name := m[1]
		if !paramNamePattern.MatchString(name) {
			return fieldErr(p+"url", "placeholder {%s} is not a name ([A-Za-z_][A-Za-z0-9_]*)", name)
		}
		if _, ok := h.Params[name]; !ok {
			return fieldErr(p+"params", "the URL has placeholder {%s} and params has no %q", name, name)
		}
		placeholders[name] = true
	}
	for _, name := range sortedKeys(h.Params) {
		values := h.Params[name]
		f := p + "params." + name
		if !placeholders[name] {
			return fieldErr(f, "the URL has no placeholder {%s}", name)
		}
		if len(values) == 0 {
			return fieldErr(f, "is empty")
		}
		if fe := checkParamCredentials(name, values); fe != nil {
			return fe
		}
		sorted, dup := sortedUnique(values)
		if dup >= 0 {
			return fieldErr(fmt.Sprintf("%s[%d]", f, dup), "%q is listed twice", values[dup])
		}
		h.Params[name] = sorted
	}
	if h.Params != nil && len(h.Params) == 0 {
		h.Params = nil
	}

	if h.RecordsPath != "" && !jsonPathPattern.MatchString(h.RecordsPath) {
		return fieldErr(p+"records_path", "%q is not a dotted path such as data.items", h.RecordsPath)
	}
	if err := h.validatePagination(); err != nil {
		return err
	}

	headers := map[string]string{}
	for _, name := range sortedKeys(h.Headers) {
		f := p + "headers." + name
		value := h.Headers[name]
		if !headerNamePattern.MatchString(name) {
			return fieldErr(f, "%q is not a header name", name)
		}
		canon := http.CanonicalHeaderKey(name)
		if looksLikeCredentialName(canon) || canon == "Proxy-Authorization" {
			return fieldErr(f, "header %s carries credentials; secrets never travel in specs: name it in secrets as {\"header\": %q, \"secret\": \"projects/.../secrets/...\"}", canon, canon)
		}
		if looksLikeCredentialValue(value) {
			return fieldErr(f, "the value looks like a credential; secrets never travel in specs")
		}
		if strings.ContainsAny(value, "\r\n") {
			return fieldErr(f, "the value has a line break")
		}
		if _, ok := headers[canon]; ok {
			return fieldErr(f, "header %s is given twice", canon)
		}
		headers[canon] = value
	}
	if len(headers) == 0 {
		headers = nil
	}
	h.Headers = headers
	return h.validateSecrets(u)
}

func (h *HTTPJSONSpec) validatePagination() *FieldError {
	pg := h.Pagination
	if pg == nil {
		return nil
	}
	const p = SourceHTTPJSON + ".pagination."
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
		return fieldErr(p+"type", "unknown pagination type %q: want next_link, cursor, page or empty", pg.Type)
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
			return fieldErr(p+f.name, "not used by pagination type %q", pg.Type)
		}
		if !f.set && used[f.name] && f.name != "start_page" {
			return fieldErr(p+f.name, "missing: pagination type %q needs it", pg.Type)
		}
	}
	for _, path := range []struct{ name, v string }{{"next_path", pg.NextPath}, {"cursor_path", pg.CursorPath}} {
		if path.v != "" && !jsonPathPattern.MatchString(path.v) {
			return fieldErr(p+path.name, "%q is not a dotted path such as links.next", path.v)
		}
	}
	for _, param := range []struct{ name, v string }{{"cursor_param", pg.CursorParam}, {"page_param", pg.PageParam}} {
		if param.v != "" && !paramNamePattern.MatchString(param.v) {
			return fieldErr(p+param.name, "%q is not a query parameter name", param.v)
		}
	}
	if pg.StartPage < 0 {
		return fieldErr(p+"start_page", "is negative")
	}
	if pg.MaxPages < 0 || pg.MaxPages > maxPagesLimit {
		return fieldErr(p+"max_pages", "%d is outside 0..%d (0 means %d)", pg.MaxPages, maxPagesLimit, sources.DefaultMaxPages)
	}
	if pg.Type == PageNone {
		if pg.MaxPages != 0 {
			return fieldErr(p+"max_pages", "not used without a pagination type")
		}
		h.Pagination = nil
		return nil
	}
	if pg.Type == PageNumber && pg.StartPage == 0 {
		pg.StartPage = 1
	}
	return nil
}
