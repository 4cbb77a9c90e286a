package firestorelimits

import (
	"strings"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
)

// Sizes as https://cloud.google.com/firestore/docs/storage-size counts them. Where the page
// leaves a reading open (what "calculated the same way as document size" adds for a map), the
// emulator settled it: it refuses a document at exactly the byte these functions count past
// 1 MiB, for every value type (see TestEmulatorCountsSizesAsDocumentSize).

// DocumentSize returns the storage size of doc: its name's size (DocumentNameSize), each field's
// name as a string (UTF-8 bytes + 1) and value, and 32 bytes. A document over MaxDocumentBytes
// cannot be written. A nil doc has size 0.
func DocumentSize(doc *firestorepb.Document) int {
	if doc == nil {
		return 0
	}
	return DocumentNameSize(doc.GetName()) + fieldsSize(doc.GetFields()) + 32
}

// DocumentNameSize returns the storage size of a document name: each collection ID and document
// ID of the path below /documents/ as a string (UTF-8 bytes + 1), plus 16. name may be the full
// resource name (projects/P/databases/D/documents/users/jeff) or the path alone (users/jeff).
func DocumentNameSize(name string) int {
	n := 16
	rel := relativeName(name)
	if rel == "" {
		return n
	}
	for _, id := range strings.Split(rel, "/") {
		n += len(id) + 1
	}
	return n
}

// ValueSize returns the storage size of one field value: 1 for null and booleans, 8 for
// integers, doubles and timestamps, 16 for geographical points, UTF-8 bytes + 1 for strings, the
// length of bytes, the document name size of a reference, 8 per dimension of a vector, the sum of
// its values' sizes for an array, and for a map the sum of its field names' string sizes and its
// values' sizes (no name and no 32 bytes: those are the document's). A nil value counts as null.
func ValueSize(v *firestorepb.Value) int {
	switch t := v.GetValueType().(type) {
	case *firestorepb.Value_BooleanValue:
		return 1
	case *firestorepb.Value_IntegerValue, *firestorepb.Value_DoubleValue, *firestorepb.Value_TimestampValue:
		return 8
	case *firestorepb.Value_GeoPointValue:
		return 16
	case *firestorepb.Value_StringValue:
		return len(t.StringValue) + 1
	case *firestorepb.Value_BytesValue:
		return len(t.BytesValue)
	case *firestorepb.Value_ReferenceValue:
		return DocumentNameSize(t.ReferenceValue)
	case *firestorepb.Value_ArrayValue:
		n := 0
		for _, e := range t.ArrayValue.GetValues() {
			n += ValueSize(e)
		}
		return n
	case *firestorepb.Value_MapValue:
		if dims, ok := vectorDimensions(t.MapValue); ok {
			return 8 * dims
		}
		return fieldsSize(t.MapValue.GetFields())
	case *firestorepb.Value_NullValue, nil:
		return 1
	}
	// Pipeline expressions (field references, functions) are not values a document can hold.
	return 0
}

// fieldsSize is the size of a document's or a map's fields: names as strings, and values.
func fieldsSize(fields map[string]*firestorepb.Value) int {
	n := 0
	for name, v := range fields {
		n += len(name) + 1 + ValueSize(v)
	}
	return n
}

// vectorDimensions reports whether m is how the API writes a vector ({"__type__": "__vector__",
// "value": [doubles]}) and how many dimensions it has.
func vectorDimensions(m *firestorepb.MapValue) (int, bool) {
	f := m.GetFields()
	if len(f) != 2 || f["__type__"].GetStringValue() != "__vector__" {
		return 0, false
	}
	a, ok := f["value"].GetValueType().(*firestorepb.Value_ArrayValue)
	if !ok {
		return 0, false
	}
	return len(a.ArrayValue.GetValues()), true
}

// relativeName returns the path of a document below /documents/ (users/jeff/tasks/t1), given its
// full resource name or the path itself.
func relativeName(name string) string {
	const marker = "/documents/"
	if i := strings.Index(name, marker); i >= 0 {
		return name[i+len(marker):]
	}
	return name
}

// parentName returns the path of a document's parent document (users/jeff for
// users/jeff/tasks/t1), or "" for a document of a top-level collection.
func parentName(rel string) string {
	segs := strings.Split(rel, "/")
	if len(segs) < 4 {
		return ""
	}
	return strings.Join(segs[:len(segs)-2], "/")
}

// collectionGroup returns the ID of the collection a document is in: what a single-field index
// exemption or a composite index names.
func collectionGroup(rel string) string {
	segs := strings.Split(rel, "/")
	if len(segs) < 2 {
		return ""
	}
	return segs[len(segs)-2]
}
