package firestorelimits

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
)

// checkCase is one request and the refusal Check gives it ("" for none).
type checkCase struct {
	name string
	req  *firestorepb.CommitRequest
	want string
}

// limitCases are each limit at its value and one past it. The emulator test sends the same
// requests to the emulator. They are large (two of 10 MiB): tests that only read them share
// sharedLimitCases.
func limitCases() []checkCase {
	long := func(n int) string { return strings.Repeat("n", n) }
	id := func(c string) string { return strings.Repeat(c, MaxIDBytes) }
	// A document name of 4 IDs of 1,500 bytes is 4 × 1,501 + 16 = 6,020 bytes; two more IDs of
	// 1 and 121 bytes (2 + 122) make it 6,144.
	name6144 := "a" + id("a") + "/" + id("b") + "/" + id("c") + "/" + id("d") + "/e/" + long(121)
	name6144 = name6144[1:]
	// c/d: 2 + 2 + 16 = 20 bytes of name; "s": 2 + 1,001; "t": 2 + w + 1; and 32.
	docOf := func(total int) fields {
		w := total - 20 - 1003 - 3 - 32
		return fields{"s": str(strings.Repeat("s", 1000)), "t": str(strings.Repeat("t", w))}
	}
	// An entry for field "f" of a document 3 IDs deep under IDs of 1,500 bytes: name 4,525,
	// parent 3,022, "f" 2, 32: 7,581 bytes and the value's.
	deep := "a/" + id("x") + "/b/" + id("y") + "/c/" + id("z")
	// 913 integer fields f0000... of a document of name 3,022 and parent 1,519 bytes spend
	// 2 × (3,022 + 1,519 + 6 + 8 + 32) = 9,174 bytes each, 8,375,862 in all; a field of a
	// 300-byte name and a 1,498-byte string spends 2 × (4,573 + 301 + 1,499) = 12,746: 8,388,608.
	wide := "c/" + id("x") + "/d/" + id("y")
	sum := func(l int) fields {
		f := fields{long(300): str(strings.Repeat("v", l))}
		for i := range 913 {
			f[fmt.Sprintf("f%04d", i)] = integer(1)
		}
		return f
	}
	return []checkCase{
		{"request of 10 MiB", sized(MaxRequestBytes), ""},
		{"request of 10 MiB + 1", sized(MaxRequestBytes + 1), refusal("Request payload size exceeds the limit: 10485760 bytes.")},

		{"501 writes in one commit", commit(manyWrites(501)...), ""},

		{"500 transforms on one document", commit(increments("c/t", 0, 500)), ""},
		{"501 transforms on one document", commit(increments("c/t", 0, 501)),
			refusal("cannot have more than 500 field transforms on a single document")},
		{"300 + 201 transforms on one document in two writes", commit(increments("c/t", 0, 300), increments("c/t", 300, 201)),
			refusal("cannot have more than 500 field transforms on a single document")},
		{"500 transforms on each of two documents", commit(increments("c/t1", 0, 500), increments("c/t2", 0, 500)), ""},

		{"document ID of 1,500 bytes", commit(set("c/"+id("i"), fields{"a": integer(1)})), ""},
		{"document ID of 1,501 bytes", commit(set("c/"+long(1501), fields{"a": integer(1)})),
			refusal("The key path element name is longer than 1500 bytes.")},
		{"collection ID of 1,501 bytes", commit(set(long(1501)+"/d", fields{"a": integer(1)})),
			refusal("The key path element kind is longer than 1500 bytes.")},

		// No fields: an index entry of a field would be over 7.5 KiB with such names.
		{"document name of 6,144 bytes", commit(set(name6144, nil)), ""},
		{"document name of 6,145 bytes", commit(set(name6144+"x", nil)),
			refusal("firestorelimits: the name of document '" + docName(name6144+"x") + "' is 6,145 bytes, over Firestore's documented maximum of 6,144 bytes (6 KiB)")},

		{"field name of 1,500 bytes", commit(set("c/d", fields{long(1500): integer(1)})), ""},
		{"field name of 1,501 bytes", commit(set("c/d", fields{long(1501): integer(1)})),
			refusal("The property.name is longer than 1500 bytes.")},
		{"field name of 1,501 bytes in a map", commit(set("c/d", fields{"m": mp(fields{long(1501): integer(1)})})),
			refusal("Property m contains an invalid nested entity.")},
		{"field name of 1,501 bytes in a map in an array", commit(set("c/d", fields{"a": arr(mp(fields{long(1501): integer(1)}))})),
			refusal("Property a contains an invalid nested entity.")},

		{"implied field path of 1,500 bytes", commit(set("c/d", fields{"aaa": mp(fields{long(1496): integer(1)})})), ""},
		{"implied field path of 1,501 bytes", commit(set("c/d", fields{"aaa": mp(fields{long(1497): integer(1)})})),
			refusal("Property aaa contains an invalid nested entity.")},
		{"update mask path of 1,499 bytes", commit(update("c/d", fields{long(1499): integer(1)}, long(1499))), ""},
		{"update mask path of 1,500 bytes", commit(update("c/d", fields{long(1500): integer(1)}, long(1500))),
			refusal("property path is longer than 1500 bytes.")},
		{"transform path of 1,499 bytes", commit(transformAt("c/d", long(1499))), ""},
		{"transform path of 1,500 bytes", commit(transformAt("c/d", long(1500))), refusal("property path is longer than 1500 bytes.")},

		{"string of 1,048,487 bytes", commit(set("c/d", fields{"s": str(strings.Repeat("v", MaxFieldValueBytes))})), ""},
		{"string of 1,048,488 bytes", commit(set("c/d", fields{"s": str(strings.Repeat("v", MaxFieldValueBytes+1))})),
			refusal(`The value of property "s" is longer than 1048487 bytes.`)},
		{"bytes of 1,048,488", commit(set("c/d", fields{"b": bytesOf(MaxFieldValueBytes + 1)})),
			refusal(`The value of property "b" is longer than 1048487 bytes.`)},
		{"string of 1,048,488 bytes in an array", commit(set("c/d", fields{"a": arr(str(strings.Repeat("v", MaxFieldValueBytes+1)))})),
			refusal(`The value of property "a" is longer than 1048487 bytes.`)},
		{"string of 1,048,488 bytes in a map", commit(set("c/d", fields{"m": mp(fields{"x": str(strings.Repeat("v", MaxFieldValueBytes+1))})})),
			refusal("Property m contains an invalid nested entity.")},

		{"20 levels of maps", commit(set("c/d", fields{"f": nestedMaps(20)})), ""},
		{"21 levels of maps", commit(set("c/d", fields{"f": nestedMaps(21)})), refusal("Property f contains an invalid nested entity.")},
		{"21 levels of arrays and maps", commit(set("c/d", fields{"f": arr(nestedMaps(20))})), refusal("Property f contains an invalid nested entity.")},

		{"document of 1,048,576 bytes", commit(set("c/d", docOf(MaxDocumentBytes))), ""},
		{"document of 1,048,577 bytes", commit(set("c/d", docOf(MaxDocumentBytes+1))),
			refusal("Document '" + docName("c/d") + "' cannot be written because its size (1,048,577 bytes) exceeds the maximum allowed size of 1,048,576 bytes.")},

		// A map of n fields has 2 entries and its fields 2 each.
		{"40,000 index entries (a map of 19,999 fields)", commit(set("c/idx", fields{"m": mp(manyFields(19999))})), ""},
		{"40,002 index entries (a map of 20,000 fields)", commit(set("c/idx", fields{"m": mp(manyFields(20000))})),
			refusal("too many index entries for entity /c/idx")},
		// An array has 2 entries and one per distinct element.
		{"40,000 index entries (an array of 39,998 elements)", commit(set("c/idx", fields{"a": distinctInts(39998)})), ""},
		{"40,001 index entries (an array of 39,999 elements)", commit(set("c/idx", fields{"a": distinctInts(39999)})),
			refusal("too many index entries for entity /c/idx")},
		{"an array of 50,000 equal elements (3 entries)", commit(set("c/idx", fields{"a": arr(repeat(integer(7), 50000)...)})), ""},

		{"index entry of 7,680 bytes", commit(set(deep, fields{"f": str(strings.Repeat("v", 98))})), ""},
		{"index entry of 7,681 bytes", commit(set(deep, fields{"f": str(strings.Repeat("v", 99))})),
			refusal("firestorelimits: an index entry of document '" + docName(deep) + "' for f is 7,681 bytes, over Firestore's documented maximum of 7,680 bytes (7.5 KiB)")},

		{"index entries of 8,388,608 bytes", commit(set(wide, sum(1498))), ""},
		{"index entries of 8,388,610 bytes", commit(set(wide, sum(1499))),
			refusal("firestorelimits: the index entries of document '" + docName(wide) + "' add up to 8,388,610 bytes, over Firestore's documented maximum of 8,388,608 bytes (8 MiB)")},
	}
}

func manyWrites(n int) []*firestorepb.Write {
	ws := make([]*firestorepb.Write, n)
	for i := range ws {
		ws[i] = set(fmt.Sprintf("many/%d", i), fields{"a": integer(1)})
	}
	return ws
}

func repeat(v *firestorepb.Value, n int) []*firestorepb.Value {
	vs := make([]*firestorepb.Value, n)
	for i := range vs {
		vs[i] = v
	}
	return vs
}

var sharedLimitCases = sync.OnceValue(limitCases)

func TestCheckLimits(t *testing.T) {
	for _, c := range sharedLimitCases() {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, statusOf(Check(MethodCommit, c.req))); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
		})
	}
}

// The same limits through BatchWrite, CreateDocument and UpdateDocument.
func TestCheckOtherMethods(t *testing.T) {
	longName := strings.Repeat("n", 1501)
	for _, c := range []struct {
		name   string
		method string
		req    proto.Message
		want   string
	}{
		{"BatchWrite, field name of 1,501 bytes", MethodBatchWrite,
			&firestorepb.BatchWriteRequest{Database: testDB, Writes: []*firestorepb.Write{set("c/d", fields{longName: integer(1)})}},
			refusal("The property.name is longer than 1500 bytes.")},
		{"BatchWrite, 501 transforms", MethodBatchWrite,
			&firestorepb.BatchWriteRequest{Database: testDB, Writes: []*firestorepb.Write{increments("c/d", 0, 501)}},
			refusal("cannot have more than 500 field transforms on a single document")},
		{"BatchWrite over 10 MiB", MethodBatchWrite,
			&firestorepb.BatchWriteRequest{Database: testDB, Writes: sized(MaxRequestBytes + 1).Writes},
			refusal("Request payload size exceeds the limit: 10485760 bytes.")},
		{"CreateDocument, field name of 1,501 bytes", MethodCreateDocument,
			&firestorepb.CreateDocumentRequest{Parent: testDB + "/documents", CollectionId: "c", DocumentId: "d",
				Document: &firestorepb.Document{Fields: fields{longName: integer(1)}}},
			refusal("The property.name is longer than 1500 bytes.")},
		{"CreateDocument of a document ID of 1,501 bytes", MethodCreateDocument,
			&firestorepb.CreateDocumentRequest{Parent: testDB + "/documents", CollectionId: "c", DocumentId: longName,
				Document: &firestorepb.Document{}},
			refusal("The key path element name is longer than 1500 bytes.")},
		{"CreateDocument with an ID the server picks", MethodCreateDocument,
			&firestorepb.CreateDocumentRequest{Parent: testDB + "/documents/a/b", CollectionId: "c",
				Document: &firestorepb.Document{Fields: fields{"m": mp(manyFields(20000))}}},
			refusal("too many index entries for entity /a/b/c/xxxxxxxxxxxxxxxxxxxx")},
		{"UpdateDocument over 1 MiB", MethodUpdateDocument,
			&firestorepb.UpdateDocumentRequest{Document: &firestorepb.Document{Name: docName("c/d"), Fields: fields{
				"a": str(strings.Repeat("a", 600000)), "b": str(strings.Repeat("b", 600000))}}},
			refusal("Document '" + docName("c/d") + "' cannot be written because its size (1,200,058 bytes) exceeds the maximum allowed size of 1,048,576 bytes.")},
		{"UpdateDocument of one masked field", MethodUpdateDocument,
			&firestorepb.UpdateDocumentRequest{Document: &firestorepb.Document{Name: docName("c/d"), Fields: fields{
				"a": str(strings.Repeat("a", 600000)), "b": str(strings.Repeat("b", 600000))}},
				UpdateMask: &firestorepb.DocumentMask{FieldPaths: []string{"a"}}},
			""},
		{"a method that writes nothing", "/google.firestore.v1.Firestore/GetDocument",
			&firestorepb.GetDocumentRequest{Name: docName(longName + "/d")}, ""},
		{"a request of another method's type", MethodCommit,
			&firestorepb.BatchWriteRequest{Writes: []*firestorepb.Write{set("c/d", fields{longName: integer(1)})}}, ""},
		{"no request", MethodCommit, nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, statusOf(Check(c.method, c.req))); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
		})
	}
}

// An update writes only its masked fields: the size and index limits apply to them (a lower
// bound of the stored document), and fields outside the mask are not looked at.
func TestCheckMaskedUpdates(t *testing.T) {
	big := func(c string) *firestorepb.Value { return str(strings.Repeat(c, 600000)) }
	tooBig := refusal("Document '" + docName("c/d") + "' cannot be written because its size (1,200,058 bytes) exceeds the maximum allowed size of 1,048,576 bytes.")
	for _, c := range []checkCase{
		{"the masked fields alone over 1 MiB", commit(update("c/d", fields{"a": big("a"), "b": big("b")}, "a", "b")), tooBig},
		{"a big field outside the mask", commit(update("c/d", fields{"a": big("a"), "b": big("b")}, "a")), ""},
		{"a long name outside the mask", commit(update("c/d", fields{"a": integer(1), strings.Repeat("n", 1501): integer(1)}, "a")), ""},
		{"a long name inside the mask", commit(update("c/d", fields{"m": mp(fields{strings.Repeat("n", 1501): integer(1)})}, "m")),
			refusal("Property m contains an invalid nested entity.")},
		// m: 2; a: 2 + 600,001 and b the same: 1,200,008 of fields, 1,200,060 in all.
		{"two subfields", commit(update("c/d", fields{"m": mp(fields{"a": big("a"), "b": big("b"), "c": big("c")})}, "m.a", "m.b")),
			refusal("Document '" + docName("c/d") + "' cannot be written because its size (1,200,060 bytes) exceeds the maximum allowed size of 1,048,576 bytes.")},
		{"one subfield", commit(update("c/d", fields{"m": mp(fields{"a": big("a"), "b": big("b")})}, "m.a")), ""},
		{"a map and its own subfield", commit(update("c/d", fields{"m": mp(fields{"a": big("a"), "b": big("b")})}, "m", "m.a")),
			refusal("Document '" + docName("c/d") + "' cannot be written because its size (1,200,060 bytes) exceeds the maximum allowed size of 1,048,576 bytes.")},
		{"quoted paths", commit(update("c/d", fields{"a-b": mp(fields{"c": big("c"), "d": big("d")})}, "`a-b`.c", "`a-b`.d")),
			refusal("Document '" + docName("c/d") + "' cannot be written because its size (1,200,062 bytes) exceeds the maximum allowed size of 1,048,576 bytes.")},
		{"a path that names nothing", commit(update("c/d", fields{"a": integer(1)}, "b.c")), ""},
		{"a path that does not parse", commit(update("c/d", fields{"a": integer(1)}, "`a")), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := proto.Clone(c.req)
			if diff := cmp.Diff(c.want, statusOf(Check(MethodCommit, c.req))); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
			if !proto.Equal(before, c.req) {
				t.Errorf("Check changed the request")
			}
		})
	}
}

// Exemptions take fields, and the subfields of maps, out of the single-field indexes; the most
// specific exemption decides.
func TestExemptions(t *testing.T) {
	ck, err := New(Config{Exemptions: []Exemption{
		{CollectionGroup: "counts", FieldPath: "c"},
		{CollectionGroup: "counts", FieldPath: "c.kept", Keep: []IndexMode{Ascending, Descending}},
		{CollectionGroup: "counts", FieldPath: "tags", Keep: []IndexMode{ArrayContains}},
		{CollectionGroup: "other", FieldPath: "*"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	three := mp(manyFields(3)) // 2 entries, and 2 for each field: 8
	for _, c := range []struct {
		name    string
		path    string
		f       fields
		entries int
	}{
		{"an exempted map", "counts/b1", fields{"c": three}, 0},
		{"the same map in a subcollection of the group", "x/y/counts/b1", fields{"c": three}, 0},
		{"the same map under another name", "counts/b1", fields{"d": three}, 8},
		{"the same map in another collection", "tweets/t1", fields{"c": three}, 8},
		{"a subfield that keeps its ascending and descending indexes", "counts/b1", fields{"c": mp(fields{"kept": three, "gone": three})}, 8},
		{"an array that keeps array-contains alone", "counts/b1", fields{"tags": arr(str("a"), str("b"), str("a"))}, 2},
		{"a collection exempted whole", "other/o1", fields{"d": three, "e": integer(1)}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ck.IndexUsage(&firestorepb.Document{Name: docName(c.path), Fields: c.f}).Entries; got != c.entries {
				t.Errorf("index entries = %d, want %d", got, c.entries)
			}
		})
	}
	// An exempted map may hold more fields than the limit has entries.
	req := commit(set("counts/b1", fields{"c": mp(manyFields(20000))}))
	if err := ck.Check(context.Background(), MethodCommit, req); err != nil {
		t.Errorf("Check of an exempted map of 20,000 fields = %v", err)
	}
	if diff := cmp.Diff(refusal("too many index entries for entity /counts/b1"), statusOf(Check(MethodCommit, req))); diff != "" {
		t.Errorf("Check without the exemption (-want +got):\n%s", diff)
	}
}

// A composite index adds an entry per document that has its fields, one per distinct element of
// its array-contains field.
func TestCompositeIndexes(t *testing.T) {
	ck, err := New(Config{
		Exemptions: []Exemption{{CollectionGroup: "tweets", FieldPath: "terms"}},
		CompositeIndexes: []CompositeIndex{
			{CollectionGroup: "tweets", Fields: []IndexField{{FieldPath: "terms", Mode: ArrayContains}, {FieldPath: "deleted", Mode: Ascending}}},
			{CollectionGroup: "tweets", Fields: []IndexField{{FieldPath: "m.x", Mode: Ascending}, {FieldPath: "deleted", Mode: Descending}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	terms := arr(str("a"), str("b"), str("c"), str("a"))
	for _, c := range []struct {
		name    string
		f       fields
		entries int
	}{
		// deleted: 2; terms (exempted): none of its own; the first composite: one per term.
		{"every field", fields{"terms": terms, "deleted": boolean(false)}, 2 + 3},
		{"no deleted field", fields{"terms": terms}, 0},
		{"terms not an array", fields{"terms": str("a"), "deleted": boolean(false)}, 2},
		{"an empty array", fields{"terms": arr(), "deleted": boolean(false)}, 2},
		// m: 2, m.x: 2, deleted: 2, the second composite: 1.
		{"a nested field", fields{"m": mp(fields{"x": integer(1)}), "deleted": boolean(true)}, 7},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ck.IndexUsage(&firestorepb.Document{Name: docName("tweets/t"), Fields: c.f}).Entries; got != c.entries {
				t.Errorf("index entries = %d, want %d", got, c.entries)
			}
		})
	}
	req := commit(set("tweets/t", fields{"terms": distinctInts(39999), "deleted": boolean(false)}))
	if diff := cmp.Diff(refusal("too many index entries for entity /tweets/t"), statusOf(ck.Check(context.Background(), MethodCommit, req))); diff != "" {
		t.Errorf("Check of 39,999 terms (-want +got):\n%s", diff)
	}
}

func TestNewRefusesBadIndexes(t *testing.T) {
	for _, cfg := range []Config{
		{Exemptions: []Exemption{{FieldPath: "a"}}},
		{Exemptions: []Exemption{{CollectionGroup: "c", FieldPath: "a..b"}}},
		{Exemptions: []Exemption{{CollectionGroup: "c", FieldPath: "a", Keep: []IndexMode{7}}}},
		{CompositeIndexes: []CompositeIndex{{CollectionGroup: "c"}}},
		{CompositeIndexes: []CompositeIndex{{CollectionGroup: "c", Fields: []IndexField{{FieldPath: "a", Mode: ArrayContains}, {FieldPath: "b", Mode: ArrayContains}}}}},
		{CompositeIndexes: []CompositeIndex{{CollectionGroup: "c", Fields: []IndexField{{FieldPath: "`a", Mode: Ascending}}}}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error, want one", cfg)
		}
	}
}

func TestSplitFieldPath(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"a", []string{"a"}},
		{"a.b.c", []string{"a", "b", "c"}},
		{"`a.b`.c", []string{"a.b", "c"}},
		{"`a\\`b`", []string{"a`b"}},
		{"*", []string{"*"}},
		{"", nil}, {"a.", nil}, {".a", nil}, {"a..b", nil}, {"`a", nil}, {"`a`b", nil}, {"``", nil},
	} {
		got, err := splitFieldPath(c.in)
		if (err != nil) != (c.want == nil) {
			t.Errorf("splitFieldPath(%q) error = %v", c.in, err)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("splitFieldPath(%q) (-want +got):\n%s", c.in, diff)
		}
	}
}
