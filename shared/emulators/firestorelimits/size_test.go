package firestorelimits

import (
	"strings"
	"testing"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"github.com/google/go-cmp/cmp"
)

// The worked examples of https://cloud.google.com/firestore/docs/storage-size (read 2026-12-06).

// taskFields is the page's example document users/jeff/tasks/my_task_id.
func taskFields() fields {
	return fields{
		"type":        str("Personal"),
		"done":        boolean(false),
		"priority":    integer(1),
		"description": str("Learn Cloud Firestore"),
	}
}

func TestStorageSizePageExamples(t *testing.T) {
	for _, c := range []struct {
		what string
		got  int
		want int
	}{
		// "The collection ID tasks uses 5 bytes + 1 byte, for a total of 6 bytes."
		{"a collection ID (tasks)", ValueSize(str("tasks")), 6},
		// "The field name description uses 11 bytes + 1 byte, for a total of 12 bytes."
		{"a field name (description)", ValueSize(str("description")), 12},
		// "the document name size is 6 + 5 + 6 + 11 + 16 = 44 bytes"
		{"the name users/jeff/tasks/my_task_id", DocumentNameSize("users/jeff/tasks/my_task_id"), 44},
		{"the same name in full", DocumentNameSize(docName("users/jeff/tasks/my_task_id")), 44},
		// "27 bytes for the parent document's document name users/jeff"
		{"the parent name users/jeff", DocumentNameSize("users/jeff"), 27},
		// "a boolean field named done would use 6 bytes"
		{"the field done: false", fieldsSize(fields{"done": boolean(false)}), 6},
		// "The total size of the fields is 71 bytes" (14 + 6 + 17 + 34)
		{"the fields", fieldsSize(taskFields()), 71},
		{`"type": "Personal"`, fieldsSize(fields{"type": str("Personal")}), 14},
		{`"priority": 1`, fieldsSize(fields{"priority": integer(1)}), 17},
		{`"description": "Learn Cloud Firestore"`, fieldsSize(fields{"description": str("Learn Cloud Firestore")}), 34},
		// "So the document size is 44 + 71 + 32 = 147 bytes"
		{"the document", DocumentSize(&firestorepb.Document{Name: docName("users/jeff/tasks/my_task_id"), Fields: taskFields()}), 147},
	} {
		if c.got != c.want {
			t.Errorf("%s: size %d, want %d", c.what, c.got, c.want)
		}
	}
}

// The index entry sizes of the page's examples: "For a single-field index with collection scope
// that indexes the done field, the total size of the entry in this index is 109 bytes" (44 + 27
// + 5 + 1 + 32); for a composite index of done and priority, 112 bytes with collection scope (44
// + 27 + 1 + 8 + 32) and 85 with collection group scope (44 + 1 + 8 + 32).
func TestStorageSizePageIndexEntryExamples(t *testing.T) {
	doc := &firestorepb.Document{Name: docName("users/jeff/tasks/my_task_id"), Fields: taskFields()}
	onlyDone := []Exemption{
		{CollectionGroup: "tasks", FieldPath: "*"},
		{CollectionGroup: "tasks", FieldPath: "done", Keep: []IndexMode{Ascending}},
	}
	doneAndPriority := []IndexField{{FieldPath: "done", Mode: Ascending}, {FieldPath: "priority", Mode: Ascending}}
	for _, c := range []struct {
		name string
		cfg  Config
		want IndexUsage
	}{
		{"single-field, collection scope", Config{Exemptions: onlyDone},
			IndexUsage{Entries: 1, Bytes: 109, LargestEntry: 109, LargestEntryFor: "done"}},
		{"composite, collection scope", Config{
			Exemptions:       []Exemption{{CollectionGroup: "tasks", FieldPath: "*"}},
			CompositeIndexes: []CompositeIndex{{CollectionGroup: "tasks", Fields: doneAndPriority}},
		}, IndexUsage{Entries: 1, Bytes: 112, LargestEntry: 112, LargestEntryFor: "the composite index (done, priority)"}},
		{"composite, collection group scope", Config{
			Exemptions:       []Exemption{{CollectionGroup: "tasks", FieldPath: "*"}},
			CompositeIndexes: []CompositeIndex{{CollectionGroup: "tasks", Fields: doneAndPriority, CollectionGroupScope: true}},
		}, IndexUsage{Entries: 1, Bytes: 85, LargestEntry: 85, LargestEntryFor: "the composite index (done, priority)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ck, err := New(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, ck.IndexUsage(doc)); diff != "" {
				t.Errorf("IndexUsage (-want +got):\n%s", diff)
			}
		})
	}
}

// The index entry count example of
// https://cloud.google.com/firestore/docs/concepts/index-overview#index_entries: the document
// cities/SF with two composite indexes has 13 automatic entries and 6 manual ones.
func TestIndexOverviewEntryCountExample(t *testing.T) {
	sf := &firestorepb.Document{Name: docName("cities/SF"), Fields: fields{
		"city_name":     str("San Francisco"),
		"temperatures":  mp(fields{"summer": integer(67), "winter": integer(55)}),
		"neighborhoods": arr(str("Mission"), str("Downtown"), str("Marina")),
	}}
	automatic, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := automatic.IndexUsage(sf).Entries; got != 13 {
		t.Errorf("automatic index entries of cities/SF = %d, want 13", got)
	}
	withComposites, err := New(Config{CompositeIndexes: []CompositeIndex{
		{CollectionGroup: "cities", Fields: []IndexField{{FieldPath: "city_name", Mode: Ascending}, {FieldPath: "neighborhoods", Mode: ArrayContains}}},
		{CollectionGroup: "cities", Fields: []IndexField{{FieldPath: "city_name", Mode: Descending}, {FieldPath: "neighborhoods", Mode: ArrayContains}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := withComposites.IndexUsage(sf).Entries; got != 19 {
		t.Errorf("index entries of cities/SF with the two composite indexes = %d, want 19", got)
	}
}

func TestValueSizes(t *testing.T) {
	for _, c := range []struct {
		name string
		v    *firestorepb.Value
		want int
	}{
		{"null", null(), 1},
		{"unset value (as null)", &firestorepb.Value{}, 1},
		{"nil value (as null)", nil, 1},
		{"boolean", boolean(true), 1},
		{"integer", integer(1 << 60), 8},
		{"double", double(0.5), 8},
		{"timestamp", timestamp(), 8},
		{"geographical point", geo(), 16},
		{"string: UTF-8 bytes + 1", str("é"), 3},
		{"bytes: their length", bytesOf(7), 7},
		{"reference: its document name size", ref(docName("x/y")), 20},
		{"array: the sum of its values", arr(integer(1), str("ab")), 11},
		{"empty array", arr(), 0},
		{"map: names and values, nothing more", mp(fields{"a": integer(1), "bc": boolean(true)}), 2 + 8 + 3 + 1},
		{"empty map", mp(nil), 0},
		{"vector: 8 bytes per dimension", vector(3), 24},
		{"a map that only looks like a vector", mp(fields{"__type__": str("__vector__"), "value": integer(1)}), 9 + 11 + 6 + 8},
	} {
		if got := ValueSize(c.v); got != c.want {
			t.Errorf("ValueSize(%s) = %d, want %d", c.name, got, c.want)
		}
	}
	if got := DocumentSize(nil); got != 0 {
		t.Errorf("DocumentSize(nil) = %d, want 0", got)
	}
	if got, want := DocumentSize(&firestorepb.Document{}), 16+32; got != want {
		t.Errorf("DocumentSize of a document without name or fields = %d, want %d", got, want)
	}
}

func TestNames(t *testing.T) {
	for _, c := range []struct{ rel, parent, group string }{
		{"users/jeff", "", "users"},
		{"users/jeff/tasks/t1", "users/jeff", "tasks"},
		{"a/b/c/d/e/f", "a/b/c/d", "e"},
		{"", "", ""},
	} {
		if got := parentName(c.rel); got != c.parent {
			t.Errorf("parentName(%q) = %q, want %q", c.rel, got, c.parent)
		}
		if got := collectionGroup(c.rel); got != c.group {
			t.Errorf("collectionGroup(%q) = %q, want %q", c.rel, got, c.group)
		}
	}
	if got, want := relativeName(docName("a/b")), "a/b"; got != want {
		t.Errorf("relativeName = %q, want %q", got, want)
	}
	if got, want := DocumentNameSize(strings.Repeat("x", 10)+"/y"), 11+2+16; got != want {
		t.Errorf("DocumentNameSize = %d, want %d", got, want)
	}
}
