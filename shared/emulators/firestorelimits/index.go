package firestorelimits

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/protobuf/proto"
)

// IndexMode is one kind of index on a field.
type IndexMode int

// The index modes of single-field and composite indexes.
const (
	// Ascending orders by the field's value, smallest first.
	Ascending IndexMode = iota + 1
	// Descending orders by the field's value, largest first.
	Descending
	// ArrayContains has one entry per distinct element of an array field.
	ArrayContains
)

// Exemption is a single-field index exemption: what a Terraform google_firestore_field resource
// with an index_config block sets for one field of one collection group. Subfields of a map
// inherit it unless a longer path has its own.
type Exemption struct {
	// CollectionGroup is the collection ID the documents are in (the resource's collection).
	CollectionGroup string
	// FieldPath is the field (the resource's field), as a field path; "*" exempts every field of
	// the group.
	FieldPath string
	// Keep lists the collection-scope single-field indexes the field keeps; empty keeps none,
	// which is what `index_config {}` says.
	Keep []IndexMode
}

// CompositeIndex is a composite index: what a Terraform google_firestore_index resource declares.
type CompositeIndex struct {
	// CollectionGroup is the collection ID of the indexed documents.
	CollectionGroup string
	// Fields are the indexed fields in order; at most one may be ArrayContains.
	Fields []IndexField
	// CollectionGroupScope is true for query_scope COLLECTION_GROUP (the default is COLLECTION).
	CollectionGroupScope bool
}

// IndexField is one field of a composite index.
type IndexField struct {
	// FieldPath is the indexed field, as a field path.
	FieldPath string
	// Mode is Ascending, Descending or ArrayContains.
	Mode IndexMode
}

// IndexUsage is what one document spends of the index limits.
type IndexUsage struct {
	// Entries is the number of index entries, single-field and composite.
	Entries int
	// Bytes is the sum of their sizes.
	Bytes int
	// LargestEntry is the size of the largest entry.
	LargestEntry int
	// LargestEntryFor names the field path, or the composite index's fields, of the largest entry.
	LargestEntryFor string
}

// add counts count entries of size bytes, and reports whether they are the largest so far (for
// the caller to name them: building the name for every entry would cost more than the count).
func (u *IndexUsage) add(size, count int) (largest bool) {
	u.Entries += count
	u.Bytes += size * count
	if count > 0 && size > u.LargestEntry {
		u.LargestEntry = size
		return true
	}
	return false
}

// exemption is an Exemption parsed for matching.
type exemption struct {
	path []string // nil for "*"
	keep map[IndexMode]bool
}

// composite is a CompositeIndex parsed for matching.
type composite struct {
	fields []compositeField
	group  bool // collection group scope
	what   string
}

type compositeField struct {
	path []string
	mode IndexMode
}

// compileIndexes parses the exemptions and composite indexes by collection group.
func compileIndexes(exs []Exemption, cis []CompositeIndex) (map[string][]exemption, map[string][]composite, error) {
	byGroup := map[string][]exemption{}
	for _, e := range exs {
		if e.CollectionGroup == "" {
			return nil, nil, fmt.Errorf("exemption of field %q: no collection group", e.FieldPath)
		}
		c := exemption{keep: map[IndexMode]bool{}}
		for _, m := range e.Keep {
			if m < Ascending || m > ArrayContains {
				return nil, nil, fmt.Errorf("exemption %s/%s: unknown index mode %d", e.CollectionGroup, e.FieldPath, m)
			}
			c.keep[m] = true
		}
		if e.FieldPath != "*" {
			p, err := splitFieldPath(e.FieldPath)
			if err != nil {
				return nil, nil, fmt.Errorf("exemption in %s: %w", e.CollectionGroup, err)
			}
			c.path = p
		}
		byGroup[e.CollectionGroup] = append(byGroup[e.CollectionGroup], c)
	}
	comps := map[string][]composite{}
	for _, ci := range cis {
		if ci.CollectionGroup == "" || len(ci.Fields) == 0 {
			return nil, nil, fmt.Errorf("composite index %+v: want a collection group and fields", ci)
		}
		c := composite{group: ci.CollectionGroupScope}
		var names []string
		contains := 0
		for _, f := range ci.Fields {
			p, err := splitFieldPath(f.FieldPath)
			if err != nil {
				return nil, nil, fmt.Errorf("composite index in %s: %w", ci.CollectionGroup, err)
			}
			if f.Mode < Ascending || f.Mode > ArrayContains {
				return nil, nil, fmt.Errorf("composite index in %s: field %s: unknown index mode %d", ci.CollectionGroup, f.FieldPath, f.Mode)
			}
			if f.Mode == ArrayContains {
				contains++
			}
			c.fields = append(c.fields, compositeField{path: p, mode: f.Mode})
			names = append(names, f.FieldPath)
		}
		if contains > 1 {
			return nil, nil, fmt.Errorf("composite index in %s: more than one array-contains field", ci.CollectionGroup)
		}
		c.what = "the composite index (" + strings.Join(names, ", ") + ")"
		comps[ci.CollectionGroup] = append(comps[ci.CollectionGroup], c)
	}
	return byGroup, comps, nil
}

// modes returns the single-field indexes a field keeps: the most specific exemption that covers
// it decides, and with none it has all three (Firestore's automatic indexing).
func modes(exs []exemption, path []string) (asc, desc, contains bool) {
	best, bestLen := (*exemption)(nil), -1
	for i := range exs {
		e := &exs[i]
		if len(e.path) > len(path) || len(e.path) <= bestLen {
			continue
		}
		match := true
		for j, s := range e.path {
			if path[j] != s {
				match = false
				break
			}
		}
		if match {
			best, bestLen = e, len(e.path)
		}
	}
	if best == nil {
		return true, true, true
	}
	return best.keep[Ascending], best.keep[Descending], best.keep[ArrayContains]
}

// IndexUsage counts the index entries of doc as it would be stored, with the Checker's
// exemptions and composite indexes. Entry sizes follow the storage-size page: for a single-field
// (collection scope) entry, the document name + the parent document's name (0 for a top-level
// collection, which the page leaves open) + the field path as a string + the value (at most
// MaxIndexedValueBytes) + 32; for a composite entry, the names + the values + 32.
func (c *Checker) IndexUsage(doc *firestorepb.Document) IndexUsage {
	return c.indexUsage(relativeName(doc.GetName()), doc.GetFields())
}

func (c *Checker) indexUsage(rel string, fields map[string]*firestorepb.Value) IndexUsage {
	var u IndexUsage
	name := DocumentNameSize(rel)
	parent := 0
	if p := parentName(rel); p != "" {
		parent = DocumentNameSize(p)
	}
	group := collectionGroup(rel)
	singleField(&u, c.exemptions[group], name+parent+32, fields, nil, 0)
	for _, ix := range c.composites[group] {
		compositeEntries(&u, ix, name, parent, fields)
	}
	return u
}

// singleField adds the automatic single-field entries of fields. path holds the names down to
// them and pathLen the length of the path they join into; path's backing array is reused from
// one field to the next, which is safe because nothing keeps it.
func singleField(u *IndexUsage, exs []exemption, base int, fields map[string]*firestorepb.Value, path []string, pathLen int) {
	for _, name := range sortedNames(fields) {
		v := fields[name]
		path := append(path, name)
		n := len(name)
		if pathLen > 0 {
			n += pathLen + 1
		}
		entry := base + n + 1 // the path as a string
		asc, desc, contains := modes(exs, path)
		size := entry + indexedSize(v)
		for _, keep := range []bool{asc, desc} {
			if keep && u.add(size, 1) {
				u.LargestEntryFor = strings.Join(path, ".")
			}
		}
		switch t := v.GetValueType().(type) {
		case *firestorepb.Value_ArrayValue:
			if contains {
				for _, e := range distinct(t.ArrayValue.GetValues()) {
					if u.add(entry+indexedSize(e), 1) {
						u.LargestEntryFor = strings.Join(path, ".")
					}
				}
			}
		case *firestorepb.Value_MapValue:
			if _, vector := vectorDimensions(t.MapValue); !vector {
				singleField(u, exs, base, t.MapValue.GetFields(), path, n)
			}
		}
	}
}

// compositeEntries adds a composite index's entries: one, or one per distinct element of its
// array-contains field, if the document has every indexed field (an array for array-contains).
func compositeEntries(u *IndexUsage, ix composite, name, parent int, fields map[string]*firestorepb.Value) {
	size := name + 32
	if !ix.group {
		size += parent
	}
	var elems []*firestorepb.Value
	hasArray := false
	for _, f := range ix.fields {
		v, ok := lookup(fields, f.path)
		if !ok {
			return
		}
		if f.mode != ArrayContains {
			size += indexedSize(v)
			continue
		}
		a, ok := v.GetValueType().(*firestorepb.Value_ArrayValue)
		if !ok {
			return
		}
		hasArray, elems = true, distinct(a.ArrayValue.GetValues())
	}
	if !hasArray {
		if u.add(size, 1) {
			u.LargestEntryFor = ix.what
		}
		return
	}
	for _, e := range elems {
		if u.add(size+indexedSize(e), 1) {
			u.LargestEntryFor = ix.what
		}
	}
}

// indexedSize is a value's size in an index entry, where values are truncated.
func indexedSize(v *firestorepb.Value) int {
	return min(ValueSize(v), MaxIndexedValueBytes)
}

// distinct returns the values once each: equal elements share one array-contains entry.
func distinct(vals []*firestorepb.Value) []*firestorepb.Value {
	if len(vals) < 2 {
		return vals
	}
	seen := make(map[elementKey]bool, len(vals))
	out := make([]*firestorepb.Value, 0, len(vals))
	for _, v := range vals {
		k := keyOf(v)
		if !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	return out
}

// elementKey identifies an array element's value: scalars by their value, the rest by their
// deterministic encoding.
type elementKey struct {
	kind int
	bits uint64
	s    string
}

func keyOf(v *firestorepb.Value) elementKey {
	switch t := v.GetValueType().(type) {
	case *firestorepb.Value_IntegerValue:
		return elementKey{kind: 1, bits: uint64(t.IntegerValue)}
	case *firestorepb.Value_DoubleValue:
		return elementKey{kind: 2, bits: math.Float64bits(t.DoubleValue)}
	case *firestorepb.Value_StringValue:
		return elementKey{kind: 3, s: t.StringValue}
	case *firestorepb.Value_BooleanValue:
		if t.BooleanValue {
			return elementKey{kind: 4, bits: 1}
		}
		return elementKey{kind: 4}
	case *firestorepb.Value_NullValue:
		return elementKey{kind: 5}
	case *firestorepb.Value_ReferenceValue:
		return elementKey{kind: 6, s: t.ReferenceValue}
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(v)
	if err != nil {
		return elementKey{kind: 7, s: fmt.Sprintf("%p", v)} // unequal to every other
	}
	return elementKey{kind: 8, s: string(b)}
}

// lookup returns the value at a field path, through maps.
func lookup(fields map[string]*firestorepb.Value, path []string) (*firestorepb.Value, bool) {
	for i, s := range path {
		v, ok := fields[s]
		if !ok {
			return nil, false
		}
		if i == len(path)-1 {
			return v, true
		}
		m, ok := v.GetValueType().(*firestorepb.Value_MapValue)
		if !ok {
			return nil, false
		}
		fields = m.MapValue.GetFields()
	}
	return nil, false
}

func sortedNames(fields map[string]*firestorepb.Value) []string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
