package event

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pipelinekit/pipelinekit/terraform/schemas"
)

// column is the part of a schema field that must agree between Go and the schema file.
type column struct {
	Name     string
	Type     string
	Repeated bool
	Fields   []column
}

type schemaField struct {
	Name   string        `json:"name"`
	Type   string        `json:"type"`
	Mode   string        `json:"mode"`
	Desc   string        `json:"description"`
	Fields []schemaField `json:"fields"`
}

func fromFile(fields []schemaField) []column {
	var out []column
	for _, f := range fields {
		out = append(out, column{Name: f.Name, Type: f.Type, Repeated: f.Mode == "REPEATED", Fields: fromFile(f.Fields)})
	}
	return out
}

func fromGo(t reflect.Type) []column {
	var out []column
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			out = append(out, fromGo(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("bigquery"), ",")
		c := column{Name: name}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() != reflect.Uint8 {
			c.Repeated = true
			ft = ft.Elem()
		}
		switch {
		case ft == reflect.TypeFor[time.Time]():
			c.Type = "TIMESTAMP"
		case ft.Kind() == reflect.String:
			c.Type = "STRING"
		case ft.Kind() == reflect.Int64:
			c.Type = "INTEGER"
		case ft.Kind() == reflect.Slice:
			c.Type = "BYTES"
		case ft.Kind() == reflect.Struct:
			c.Type = "RECORD"
			c.Fields = fromGo(ft)
		default:
			c.Type = "unmapped Go type " + ft.String()
		}
		out = append(out, c)
	}
	return out
}

// TestSchemaFilesMatchRows fails when a column is added, renamed or retyped in a schema file
// under terraform/schemas and not in the row struct, or the other way round.
func TestSchemaFilesMatchRows(t *testing.T) {
	rows := map[string]any{
		TableTweets:       TweetRow{},
		TableStreamEvents: StreamEventRow{},
		TableAppEvents:    AppEventRow{},
		TableDeadLetters:  DeadLetterRow{},
	}
	for _, table := range Tables {
		b, err := schemas.Table(table)
		if err != nil {
			t.Fatal(err)
		}
		var fields []schemaField
		if err := json.Unmarshal(b, &fields); err != nil {
			t.Fatalf("schema %s: %v", table, err)
		}
		for _, f := range fields {
			if f.Desc == "" {
				t.Errorf("schema %s: column %s has no description", table, f.Name)
			}
		}
		if diff := cmp.Diff(fromFile(fields), fromGo(reflect.TypeOf(rows[table]))); diff != "" {
			t.Errorf("schema file %s.json and Go row disagree (-file +go):\n%s", table, diff)
		}
	}
}

// TestRequiredColumnsAlwaysSet decodes one message of each family and checks that every
// REQUIRED column of the schema file is present in the row values.
func TestRequiredColumnsAlwaysSet(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	msgs := []string{v1TweetJSON, v2Note, `{"limit":{"track":1}}`, v2Error, `{"kind":"search","query":"shoes"}`, `{"kind":"signup"}`}
	for i, data := range msgs {
		rec, err := Decode(Message{ID: "m" + string(rune('0'+i)), PublishTime: now, Data: []byte(data)}, now)
		if err != nil {
			t.Fatalf("Decode(%s): %v", data, err)
		}
		checkRequired(t, rec.Table, Values(rec.Row))
	}
	dl := NewDeadLetter(Message{Data: []byte("x")}, StageDecode, "not JSON", "", now)
	checkRequired(t, TableDeadLetters, Values(dl))
}

func checkRequired(t *testing.T, table string, vals map[string]any) {
	t.Helper()
	b, err := schemas.Table(table)
	if err != nil {
		t.Fatal(err)
	}
	var fields []schemaField
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	for _, f := range fields {
		if _, ok := vals[f.Name]; f.Mode == "REQUIRED" && !ok {
			t.Errorf("%s row %v: REQUIRED column %s is missing", table, vals, f.Name)
		}
	}
}

func TestViewsOrderedByDependency(t *testing.T) {
	views, err := schemas.Views("p", "d")
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, v := range views {
		pos[v.Name] = i
		if strings.Contains(v.Query, "${") {
			t.Errorf("view %s still has a placeholder: %s", v.Name, v.Query)
		}
	}
	if pos["tweets_dedup"] > pos["tweets_current"] {
		t.Errorf("Views() order = %v, want tweets_dedup before tweets_current", views)
	}
	for _, name := range []string{"tweets_dedup", "tweets_current", "stream_events_dedup", "app_events_dedup"} {
		if _, ok := pos[name]; !ok {
			t.Errorf("Views() has no %s", name)
		}
	}
}

// TestAppEventsDedupViewIsPerApp: the dedup view keys on the app and the event id, reading a
// row without an app (loaded before apps existed) as DefaultApp's, as the loader names it.
func TestAppEventsDedupViewIsPerApp(t *testing.T) {
	views, err := schemas.Views("p", "d")
	if err != nil {
		t.Fatal(err)
	}
	want := "PARTITION BY COALESCE(app, '" + DefaultApp + "'), event_id "
	for _, v := range views {
		if v.Name == "app_events_dedup" && !strings.Contains(v.Query, want) {
			t.Errorf("app_events_dedup = %s\nwant it to contain %q", v.Query, want)
		}
	}
}
