package firestorelimits

import (
	"strings"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
)

// checkWrites applies the per-document limits to each write, in order, and counts field
// transforms per document over all of them.
func (c *Checker) checkWrites(ws []*firestorepb.Write) error {
	transforms := map[string]int{}
	for _, w := range ws {
		var name string
		var doc *firestorepb.Document
		var fts []*firestorepb.DocumentTransform_FieldTransform
		switch op := w.GetOperation().(type) {
		case *firestorepb.Write_Update:
			doc, name, fts = op.Update, op.Update.GetName(), w.GetUpdateTransforms()
		case *firestorepb.Write_Delete:
			name = op.Delete
		case *firestorepb.Write_Transform:
			name, fts = op.Transform.GetDocument(), op.Transform.GetFieldTransforms()
		}
		rel := relativeName(name)
		if err := checkName(name, rel); err != nil {
			return err
		}
		fields := doc.GetFields()
		if mask := w.GetUpdateMask(); mask != nil {
			for _, p := range mask.GetFieldPaths() {
				if err := checkWrittenPath(p); err != nil {
					return err
				}
			}
			// Only the masked fields are written; the rest of the document is ignored (the
			// emulator does not even look at them).
			fields = project(fields, mask.GetFieldPaths())
		}
		if err := checkFields(fields); err != nil {
			return err
		}
		for _, ft := range fts {
			if err := checkWrittenPath(ft.GetFieldPath()); err != nil {
				return err
			}
		}
		transforms[rel] += len(fts)
		if transforms[rel] > MaxTransformsPerDocument {
			return transformsPerDocument.errorf()
		}
		if doc != nil {
			if err := c.checkStored(name, rel, fields); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkName applies the limits on a document's name.
func checkName(name, rel string) error {
	if rel == "" {
		return nil
	}
	for i, id := range strings.Split(rel, "/") {
		if len(id) > MaxIDBytes {
			// Datastore's words, which Firestore's backend keeps: a collection is a kind.
			if i%2 == 0 {
				return idSize.errorf("kind")
			}
			return idSize.errorf("name")
		}
	}
	if n := DocumentNameSize(rel); n > MaxDocumentNameBytes {
		return documentNameSize.errorf(name, commas(n))
	}
	return nil
}

// checkWrittenPath applies the field path limit to a path written out as a string: Firestore
// refuses one of exactly 1,500 bytes, though its message says "longer than".
func checkWrittenPath(p string) error {
	if len(p) >= MaxFieldPathBytes {
		return fieldPathSize.errorf()
	}
	return nil
}

// checkStored applies the limits on a document as stored (or, for a masked update, on the part
// the write sets, which the stored document holds at least): its size and its index entries.
func (c *Checker) checkStored(name, rel string, fields map[string]*firestorepb.Value) error {
	if n := DocumentNameSize(rel) + fieldsSize(fields) + 32; n > MaxDocumentBytes {
		return documentSize.errorf(name, commas(n))
	}
	u := c.indexUsage(rel, fields)
	switch {
	case u.Entries > MaxIndexEntriesPerDocument:
		return indexEntries.errorf(rel)
	case u.LargestEntry > MaxIndexEntryBytes:
		return indexEntrySize.errorf(name, u.LargestEntryFor, commas(u.LargestEntry))
	case u.Bytes > MaxIndexEntriesBytes:
		return indexEntriesSize.errorf(name, commas(u.Bytes))
	}
	return nil
}

// checkFields applies the limits on field names, paths, values and depth, field by field in
// name order.
func checkFields(fields map[string]*firestorepb.Value) error {
	for _, name := range sortedNames(fields) {
		if len(name) > MaxFieldNameBytes {
			return fieldNameSize.errorf()
		}
		switch nested(fields[name], 0, len(name), false) {
		case valueTooLong:
			return fieldValueSize.errorf(name)
		case nestedEntity:
			return depth.errorf(name)
		}
	}
	return nil
}

// problem is what nested finds wrong below a top-level field.
type problem int

const (
	fine problem = iota
	// valueTooLong: a string or bytes value over the limit, not inside a map.
	valueTooLong
	// nestedEntity: too deep, or a name, path or value over its limit inside a map.
	nestedEntity
)

// nested walks a top-level field's value: level is the number of maps and arrays around v,
// pathLen the bytes of the field path its map keys imply so far, inMap whether a map encloses v.
func nested(v *firestorepb.Value, level, pathLen int, inMap bool) problem {
	switch t := v.GetValueType().(type) {
	case *firestorepb.Value_StringValue:
		return tooLong(len(t.StringValue), inMap)
	case *firestorepb.Value_BytesValue:
		return tooLong(len(t.BytesValue), inMap)
	case *firestorepb.Value_ArrayValue:
		if level+1 > MaxDepth {
			return nestedEntity
		}
		for _, e := range t.ArrayValue.GetValues() {
			if p := nested(e, level+1, pathLen, inMap); p != fine {
				return p
			}
		}
	case *firestorepb.Value_MapValue:
		if level+1 > MaxDepth {
			return nestedEntity
		}
		// Everything below a map is reported as the same nested-entity problem, so the
		// order of the walk does not change the answer.
		for name, e := range t.MapValue.GetFields() {
			path := pathLen + 1 + len(name)
			if len(name) > MaxFieldNameBytes || path > MaxFieldPathBytes {
				return nestedEntity
			}
			if p := nested(e, level+1, path, true); p != fine {
				return p
			}
		}
	}
	return fine
}

func tooLong(n int, inMap bool) problem {
	switch {
	case n <= MaxFieldValueBytes:
		return fine
	case inMap:
		return nestedEntity
	}
	return valueTooLong
}

// project returns the fields an update mask selects, nested as in fields, sharing the values but
// never changing fields' maps. Paths that do not parse or name nothing select nothing.
func project(fields map[string]*firestorepb.Value, paths []string) map[string]*firestorepb.Value {
	out := map[string]*firestorepb.Value{}
	for _, p := range paths {
		segs, err := splitFieldPath(p)
		if err != nil {
			continue
		}
		v, ok := lookup(fields, segs)
		if !ok {
			continue
		}
		dst := out
		for _, s := range segs[:len(segs)-1] {
			// A copy of the map on the way down, so that no map of fields is written to.
			m := &firestorepb.MapValue{Fields: map[string]*firestorepb.Value{}}
			if old, ok := dst[s].GetValueType().(*firestorepb.Value_MapValue); ok {
				for k, e := range old.MapValue.GetFields() {
					m.Fields[k] = e
				}
			}
			dst[s] = &firestorepb.Value{ValueType: &firestorepb.Value_MapValue{MapValue: m}}
			dst = m.Fields
		}
		dst[segs[len(segs)-1]] = v
	}
	return out
}
