package httpjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// pager computes the URL of each page for one pagination type.
type pager struct {
	p    Pagination
	base string
	page int
	seen map[string]bool // cursors or links already followed: a loop is an error
}

// newPager validates req's pagination.
func newPager(req HTTPJSONRequest) (*pager, error) {
	pg := &pager{p: req.Pagination, base: req.URL, seen: map[string]bool{}}
	switch req.Pagination.Type {
	case PaginationNone:
	case PaginationNextLink:
		if req.Pagination.NextPath == "" {
			return nil, errors.New("next_link pagination needs NextPath")
		}
	case PaginationCursor:
		if req.Pagination.CursorPath == "" || req.Pagination.CursorParam == "" {
			return nil, errors.New("cursor pagination needs CursorPath and CursorParam")
		}
	case PaginationPage:
		if req.Pagination.PageParam == "" {
			return nil, errors.New("page pagination needs PageParam")
		}
		pg.page = req.Pagination.StartPage
		if pg.page == 0 {
			pg.page = 1
		}
	default:
		return nil, fmt.Errorf("unknown pagination type %q (want \"\", next_link, cursor or page)", req.Pagination.Type)
	}
	return pg, nil
}

// first returns the first page's URL.
func (pg *pager) first() string {
	if pg.p.Type == PaginationPage {
		u, err := setQuery(pg.base, pg.p.PageParam, strconv.Itoa(pg.page))
		if err != nil {
			return pg.base // CheckURL already parsed it; cannot happen
		}
		return u
	}
	pg.seen[pg.base] = true
	return pg.base
}

// next returns the URL after current, or "" at the end.
func (pg *pager) next(current string, doc any, records int) (string, error) {
	switch pg.p.Type {
	case PaginationNextLink:
		link, err := stringAt(doc, pg.p.NextPath)
		if err != nil || link == "" {
			return "", err
		}
		cur, err := url.Parse(current)
		if err != nil {
			return "", fmt.Errorf("parsing %s: %w", current, err)
		}
		ref, err := url.Parse(link)
		if err != nil {
			return "", fmt.Errorf("parsing next link %q: %w", link, err)
		}
		abs := cur.ResolveReference(ref).String()
		if pg.seen[abs] {
			return "", fmt.Errorf("next link %s repeats an earlier page", abs)
		}
		pg.seen[abs] = true
		return abs, nil
	case PaginationCursor:
		cursor, err := stringAt(doc, pg.p.CursorPath)
		if err != nil || cursor == "" {
			return "", err
		}
		if pg.seen[cursor] {
			return "", fmt.Errorf("cursor %q repeats an earlier page", cursor)
		}
		pg.seen[cursor] = true
		return setQuery(pg.base, pg.p.CursorParam, cursor)
	case PaginationPage:
		if records == 0 {
			return "", nil
		}
		pg.page++
		return setQuery(pg.base, pg.p.PageParam, strconv.Itoa(pg.page))
	default:
		return "", nil
	}
}

// lookup follows a dot path ("data.items", "links.0.href") through decoded
// JSON; found is false when a segment is missing.
func lookup(doc any, path string) (v any, found bool) {
	if path == "" {
		return doc, true
	}
	v = doc
	for _, seg := range strings.Split(path, ".") {
		switch t := v.(type) {
		case map[string]any:
			v, found = t[seg]
			if !found {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			v = t[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// stringAt reads a string (or number, for numeric cursors) at path; missing
// or null is "".
func stringAt(doc any, path string) (string, error) {
	v, ok := lookup(doc, path)
	if !ok || v == nil {
		return "", nil
	}
	switch t := v.(type) {
	case string:
		return t, nil
	case json.Number:
		return t.String(), nil
	default:
		return "", fmt.Errorf("value at %q is %T, not a string", path, v)
	}
}

// extractRecords returns the objects of the array at path. A missing or null
// array is zero records (last pages often omit it); anything else that is not
// an array of objects is an error, so a wrong path is not silently empty
// when the body has a different shape.
func extractRecords(doc any, path string) ([]map[string]any, error) {
	v, ok := lookup(doc, path)
	if !ok || v == nil {
		if path == "" {
			return nil, errors.New("body is not an array")
		}
		return nil, nil
	}
	arr, isArr := v.([]any)
	if !isArr {
		where := "body"
		if path != "" {
			where = strconv.Quote(path)
		}
		return nil, fmt.Errorf("%s is %s, not an array", where, jsonKind(v))
	}
	out := make([]map[string]any, 0, len(arr))
	for i, e := range arr {
		m, isObj := e.(map[string]any)
		if !isObj {
			return nil, fmt.Errorf("record %d is %s, not an object", i, jsonKind(e))
		}
		out = append(out, sources.Normalize(m).(map[string]any))
	}
	return out, nil
}

// jsonKind names a decoded JSON value's type for error messages.
func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	default:
		return fmt.Sprintf("%T", v)
	}
}
