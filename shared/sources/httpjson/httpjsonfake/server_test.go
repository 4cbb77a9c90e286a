package httpjsonfake

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
)

func getJSON(t *testing.T, u string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decoding %s: %v", u, err)
	}
	return resp.StatusCode, body
}

func TestJSONAPIPaging(t *testing.T) {
	s := NewJSONAPIServer(sourcestest.WithItems(25), sourcestest.WithPageSize(10))
	defer s.Close()
	tests := []struct {
		path       string
		wantStatus int
		wantPaging map[string]any
		wantItems  int
	}{
		{"/items", 200, map[string]any{"page": 1.0, "cursor": "c10", "next": s.URL() + "/items?cursor=c10"}, 10},
		{"/items?cursor=c20", 200, map[string]any{"page": 3.0, "cursor": nil, "next": nil}, 5},
		{"/items?page=2", 200, map[string]any{"page": 2.0, "cursor": "c20", "next": s.URL() + "/items?page=3"}, 10},
		{"/items?page=4", 200, map[string]any{"page": 4.0, "cursor": nil, "next": nil}, 0},
		{"/items?cursor=zz", 400, nil, 0},
	}
	for _, tt := range tests {
		status, body := getJSON(t, s.URL()+tt.path)
		if status != tt.wantStatus {
			t.Errorf("GET %s = %d, want %d", tt.path, status, tt.wantStatus)
			continue
		}
		if status != 200 {
			continue
		}
		if diff := cmp.Diff(tt.wantPaging, body["paging"]); diff != "" {
			t.Errorf("GET %s paging mismatch (-want +got):\n%s", tt.path, diff)
		}
		if got := len(body["data"].(map[string]any)["items"].([]any)); got != tt.wantItems {
			t.Errorf("GET %s items = %d, want %d", tt.path, got, tt.wantItems)
		}
	}
	status, item := getJSON(t, s.URL()+"/items/7")
	if status != 200 || item["name"] != "item-00007" {
		t.Errorf("GET /items/7 = %d %v, want item-00007", status, item)
	}
	if status, _ := getJSON(t, s.URL()+"/items/26"); status != 404 {
		t.Errorf("GET /items/26 = %d, want 404", status)
	}
	if got := s.Stats().ByStatus[200]; got != 5 {
		t.Errorf("Stats().ByStatus[200] = %d, want 5", got)
	}
}

func TestJSONAPIFaultsAreSeeded(t *testing.T) {
	statuses := func() []int {
		s := NewJSONAPIServer(sourcestest.WithFailRate(0.5), sourcestest.WithSeed(3))
		defer s.Close()
		var out []int
		for range 30 {
			status, _ := getJSON(t, s.URL()+"/items")
			out = append(out, status)
		}
		return out
	}
	a, b := statuses(), statuses()
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("statuses with the same seed differ (-first +second):\n%s", diff)
	}
	if !slices.Contains(a, 503) || !slices.Contains(a, 200) {
		t.Errorf("statuses = %v, want both 200 and 503", a)
	}
}
