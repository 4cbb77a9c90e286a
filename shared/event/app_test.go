package event

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestParseAppEventApp: the app field is optional, bounded to MaxAppLen characters of a small
// alphabet, and a bad one is refused naming the field.
func TestParseAppEventApp(t *testing.T) {
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	longest := "a" + strings.Repeat("b", MaxAppLen-1)
	tests := []struct {
		name, app string
		wantApp   string // AppName(); "" when refused
		wantErr   string // the reason's beginning
	}{
		{name: "absent is the default app", app: "", wantApp: DefaultApp},
		{name: "explicit default", app: `"default"`, wantApp: DefaultApp},
		{name: "digits, _ and -", app: `"shop-2_eu"`, wantApp: "shop-2_eu"},
		{name: "at the bound", app: `"` + longest + `"`, wantApp: longest},
		{name: "one past the bound", app: `"` + longest + `c"`, wantErr: "longer than 63 characters"},
		{name: "upper case", app: `"Shop"`, wantErr: "must match"},
		{name: "starts with a digit", app: `"1shop"`, wantErr: "must match"},
		{name: "a colon", app: `"shop:eu"`, wantErr: "must match"},
		{name: "a dot", app: `"shop.eu"`, wantErr: "must match"},
		{name: "a slash", app: `"shop/eu"`, wantErr: "must match"},
		{name: "empty string", app: `""`, wantApp: DefaultApp},
		{name: "not a string", app: `7`, wantErr: "must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := `{"kind":"search","query":"q"}`
			if tt.app != "" {
				data = `{"app":` + tt.app + `,"kind":"search","query":"q"}`
			}
			e, err := ParseAppEvent([]byte(data), now)
			if tt.wantErr != "" {
				var inv *InvalidError
				if !errors.As(err, &inv) || inv.Field != "app" || !strings.HasPrefix(inv.Reason, tt.wantErr) {
					t.Fatalf("ParseAppEvent(%s) error = %v, want app: %s...", data, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAppEvent(%s) error = %v", data, err)
			}
			if got := e.AppName(); got != tt.wantApp {
				t.Errorf("AppName() = %q, want %q", got, tt.wantApp)
			}
		})
	}
}

// TestDecodeAppEventApp: a row's app is the event's own, else the collector's app attribute,
// else the default app (messages published before apps existed have neither).
func TestDecodeAppEventApp(t *testing.T) {
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name, data, attr string
		want             string
		wantErr          string
	}{
		{name: "neither: the default app", data: `{"id":"e1","kind":"search","query":"q"}`, want: DefaultApp},
		{name: "the event's", data: `{"app":"shop","id":"e1","kind":"search","query":"q"}`, want: "shop"},
		{name: "the attribute's", data: `{"id":"e1","kind":"search","query":"q"}`, attr: "shop", want: "shop"},
		{name: "both, agreeing", data: `{"app":"shop","id":"e1","kind":"search","query":"q"}`, attr: "shop", want: "shop"},
		{name: "both, differing", data: `{"app":"shop","id":"e1","kind":"search","query":"q"}`, attr: "blog", wantErr: `the event says "shop"`},
		{name: "a bad attribute", data: `{"id":"e1","kind":"search","query":"q"}`, attr: "Blog!", wantErr: "attribute app: must match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Message{ID: "m1", PublishTime: now, Data: []byte(tt.data), Attributes: map[string]string{}}
			if tt.attr != "" {
				m.Attributes[AttrApp] = tt.attr
			}
			rec, err := Decode(m, now)
			if tt.wantErr != "" {
				var inv *InvalidError
				if !errors.As(err, &inv) || inv.Field != "app" || !strings.Contains(inv.Reason, tt.wantErr) {
					t.Fatalf("Decode() error = %v, want app: ...%s...", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode() error = %v", err)
			}
			if got := rec.Row.(*AppEventRow).App; got != tt.want {
				t.Errorf("row app = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAppAttributes(t *testing.T) {
	tests := []struct {
		e    AppEvent
		want map[string]string
	}{
		{AppEvent{Kind: "search", ID: "s1"}, map[string]string{"kind": "search", "source": "app", "schema_version": SchemaVersion, "event_id": "s1", "app": DefaultApp}},
		{AppEvent{App: "shop", Kind: "cart_add"}, map[string]string{"kind": "other", "source": "app", "schema_version": SchemaVersion, "app": "shop"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, AppAttributes(&tt.e)); diff != "" {
			t.Errorf("AppAttributes(%+v) mismatch (-want +got):\n%s", tt.e, diff)
		}
	}
}
