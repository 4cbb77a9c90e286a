package warehouse

import (
	"fmt"
	"math"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Encode serializes one row for the Storage Write API. Values are Go values as event.Values
// returns them: string, int64, float64, bool, []byte, time.Time (TIMESTAMP, sent as
// microseconds since the epoch), []any for REPEATED columns and map[string]any for RECORDs.
// A column the table does not have, or a value of the wrong type, is an error naming the column.
func Encode(md protoreflect.MessageDescriptor, row map[string]any) ([]byte, error) {
	m, err := message(md, row, "")
	if err != nil {
		return nil, err
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("serializing row: %w", err)
	}
	return b, nil
}

func message(md protoreflect.MessageDescriptor, row map[string]any, path string) (*dynamicpb.Message, error) {
	m := dynamicpb.NewMessage(md)
	// Sorted, so that the error for a row with several bad columns is always the same one.
	names := make([]string, 0, len(row))
	for n := range row {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		v := row[name]
		if v == nil {
			continue
		}
		col := path + name
		fd := md.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			return nil, fmt.Errorf("column %s: no such column in the table", col)
		}
		if fd.IsList() {
			items, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("column %s: REPEATED column needs a list, got %T", col, v)
			}
			list := m.Mutable(fd).List()
			for i, item := range items {
				pv, err := fieldValue(fd, item, fmt.Sprintf("%s[%d]", col, i))
				if err != nil {
					return nil, err
				}
				list.Append(pv)
			}
			continue
		}
		pv, err := fieldValue(fd, v, col)
		if err != nil {
			return nil, err
		}
		m.Set(fd, pv)
	}
	return m, nil
}

func fieldValue(fd protoreflect.FieldDescriptor, v any, col string) (protoreflect.Value, error) {
	bad := func() (protoreflect.Value, error) {
		return protoreflect.Value{}, fmt.Errorf("column %s: cannot write a %T to a %s field", col, v, fd.Kind())
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		if s, ok := v.(string); ok {
			return protoreflect.ValueOfString(s), nil
		}
	case protoreflect.BytesKind:
		if b, ok := v.([]byte); ok {
			return protoreflect.ValueOfBytes(b), nil
		}
	case protoreflect.BoolKind:
		if b, ok := v.(bool); ok {
			return protoreflect.ValueOfBool(b), nil
		}
	case protoreflect.DoubleKind:
		switch n := v.(type) {
		case float64:
			return protoreflect.ValueOfFloat64(n), nil
		case int64:
			return protoreflect.ValueOfFloat64(float64(n)), nil
		}
	case protoreflect.Int64Kind:
		switch n := v.(type) {
		case int64:
			return protoreflect.ValueOfInt64(n), nil
		case int:
			return protoreflect.ValueOfInt64(int64(n)), nil
		case time.Time: // TIMESTAMP columns travel as microseconds since the epoch.
			return protoreflect.ValueOfInt64(n.UnixMicro()), nil
		case float64:
			if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
				return protoreflect.ValueOfInt64(int64(n)), nil
			}
		}
	case protoreflect.Int32Kind: // DATE columns: days since the epoch.
		if t, ok := v.(time.Time); ok {
			return protoreflect.ValueOfInt32(int32(t.Unix() / 86400)), nil
		}
	case protoreflect.MessageKind:
		rec, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		sub, err := message(fd.Message(), rec, col+".")
		if err != nil {
			return protoreflect.Value{}, err
		}
		return protoreflect.ValueOfMessage(sub), nil
	}
	return bad()
}
