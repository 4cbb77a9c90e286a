package backfill

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// unknownIn returns the JSON path of the first field of v that type t does not have, or "" when
// there is none. encoding/json's DisallowUnknownFields names the field but not where it is, and
// matches names without regard to case; a spec is matched exactly, so "Source" is as unknown as
// "sauce".
func unknownIn(v any, t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				return join(path, k)
			}
			if p := unknownIn(obj[k], ft, join(path, k)); p != "" {
				return p
			}
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		for k, e := range obj {
			if p := unknownIn(e, t.Elem(), join(path, k)); p != "" {
				return p
			}
		}
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			return ""
		}
		for i, e := range list {
			if p := unknownIn(e, t.Elem(), path+"["+strconv.Itoa(i)+"]"); p != "" {
				return p
			}
		}
	}
	return ""
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// DecodeStrict decodes raw (one JSON value) into v, a pointer, the way every part of a spec is
// read: a field v's type does not have is refused by its path under prefix (matched exactly,
// not case-folded), a value of the wrong JSON type names its field, data after the value is
// refused. Sources call it on their section with their name as prefix.
func DecodeStrict(raw []byte, v any, prefix string) *FieldError {
	var tree any
	tdec := json.NewDecoder(bytes.NewReader(raw))
	tdec.UseNumber()
	if err := tdec.Decode(&tree); err == nil {
		if path := unknownIn(tree, reflect.TypeOf(v), prefix); path != "" {
			return FieldErrorf(path, "unknown field")
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return FieldErrorf(join(prefix, te.Field), "is a JSON %s, want %s", te.Value, jsonKind(te.Type.String()))
		}
		return FieldErrorf(prefix, "invalid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return FieldErrorf(prefix, "invalid JSON: data after the object")
	}
	return nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
