package storagewrite

import (
	"fmt"
	"strconv"
	"strings"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// schemaError is a writer schema that cannot be mapped onto the table; the real service fails
// the whole connection with INVALID_ARGUMENT for these.
type schemaError struct{ msg string }

func (e *schemaError) Error() string { return e.msg }

func schemaErrorf(format string, args ...any) error {
	return &schemaError{msg: fmt.Sprintf(format, args...)}
}

// decoder turns serialized rows of one writer schema into canonical row maps for one table
// schema. It is compiled once per connection and schema and used by one goroutine at a time.
type decoder struct {
	msgType protoreflect.MessageType
	root    *msgPlan
}

// msgPlan maps the fields of one proto message onto one record's columns.
type msgPlan struct {
	fields   []fieldPlan
	required []*column // REQUIRED columns, checked after decoding
}

// fieldPlan maps one proto field onto one column.
type fieldPlan struct {
	fd   protoreflect.FieldDescriptor
	col  *column
	conv func(protoreflect.Value) (any, error) // for non-RECORD columns
	sub  *msgPlan                              // for RECORD columns
}

// wellKnownDeps lets a writer schema that was not normalized still refer to the wrapper and
// timestamp types by their global names.
var wellKnownDeps = []string{
	"google/protobuf/wrappers.proto",
	"google/protobuf/timestamp.proto",
	"google/protobuf/duration.proto",
}

// unmarshalOpts allows partial messages so REQUIRED columns can be reported per row, as
// BigQuery does, rather than failing the whole request.
var unmarshalOpts = proto.UnmarshalOptions{AllowPartial: true}

// compileDecoder builds a decoder for the writer schema dp against the table columns rec.
func compileDecoder(dp *descriptorpb.DescriptorProto, rec *record) (*decoder, error) {
	if dp == nil || dp.GetName() == "" {
		return nil, schemaErrorf("writer schema has no proto descriptor")
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name:        proto.String("storagewrite/writer_schema.proto"),
		Syntax:      proto.String("proto2"), // the service reads descriptors with proto2 semantics
		MessageType: []*descriptorpb.DescriptorProto{dp},
		Dependency:  wellKnownDeps,
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		return nil, schemaErrorf("invalid proto descriptor: %v", err)
	}
	md := fd.Messages().Get(0)
	root, err := compileMessage(md, rec, "root")
	if err != nil {
		return nil, err
	}
	return &decoder{msgType: dynamicpb.NewMessageType(md), root: root}, nil
}

func compileMessage(md protoreflect.MessageDescriptor, rec *record, path string) (*msgPlan, error) {
	p := &msgPlan{}
	var extra []string
	for i := range md.Fields().Len() {
		fd := md.Fields().Get(i)
		name := columnName(fd)
		col, ok := rec.byLower[strings.ToLower(name)]
		if !ok {
			extra = append(extra, name)
			continue
		}
		fp, err := compileField(fd, col, path+"."+name)
		if err != nil {
			return nil, err
		}
		p.fields = append(p.fields, fp)
	}
	if len(extra) > 0 {
		return nil, schemaErrorf("Input schema has more fields than BigQuery schema, extra fields: '%s'", strings.Join(extra, ","))
	}
	for _, c := range rec.cols {
		if c.required {
			p.required = append(p.required, c)
		}
	}
	return p, nil
}

// columnName is the column a field writes: its name, or the column_name annotation managedwriter
// adds for column names that are not valid proto identifiers.
func columnName(fd protoreflect.FieldDescriptor) string {
	if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok && opts != nil && proto.HasExtension(opts, storagepb.E_ColumnName) {
		if n, ok := proto.GetExtension(opts, storagepb.E_ColumnName).(string); ok && n != "" {
			return n
		}
	}
	return string(fd.Name())
}

func compileField(fd protoreflect.FieldDescriptor, col *column, path string) (fieldPlan, error) {
	fp := fieldPlan{fd: fd, col: col}
	if fd.IsMap() {
		return fp, schemaErrorf("Proto field %s is a map, which BigQuery does not support", path)
	}
	if fd.IsList() != col.repeated {
		return fp, schemaErrorf("The proto field mismatched with BigQuery field at %s, the proto field is %s, BigQuery field mode is %s",
			path, cardinality(fd), mode(col))
	}
	if col.typ == typeRecord {
		if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
			return fp, mismatch(path, fd, col)
		}
		sub, err := compileMessage(fd.Message(), col.record, path)
		if err != nil {
			return fp, err
		}
		fp.sub = sub
		return fp, nil
	}
	conv, err := scalarConverter(fd, col, path)
	if err != nil {
		return fp, err
	}
	fp.conv = conv
	return fp, nil
}

func cardinality(fd protoreflect.FieldDescriptor) string {
	if fd.IsList() {
		return "repeated"
	}
	return "not repeated"
}

func mode(c *column) string {
	switch {
	case c.repeated:
		return "REPEATED"
	case c.required:
		return "REQUIRED"
	}
	return "NULLABLE"
}

func mismatch(path string, fd protoreflect.FieldDescriptor, col *column) error {
	kind := fd.Kind().String()
	if fd.Message() != nil {
		kind = string(fd.Message().FullName())
	}
	return schemaErrorf("The proto field mismatched with BigQuery field at %s, the proto field type %s, BigQuery field type %s", path, kind, col.typeName)
}

// scalarConverter picks the conversion from a proto field of a given kind to a column type's
// canonical Go value; a kind BigQuery does not accept for the column is a schema error.
func scalarConverter(fd protoreflect.FieldDescriptor, col *column, path string) (func(protoreflect.Value) (any, error), error) {
	if fd.Kind() == protoreflect.MessageKind {
		md := fd.Message()
		// Wrapper types (google.protobuf.Int64Value and friends, inlined or not) carry one "value".
		if md.Fields().Len() == 1 && md.Fields().Get(0).Name() == "value" {
			inner := md.Fields().Get(0)
			conv := kindConverter(inner, col)
			if conv == nil {
				return nil, mismatch(path, inner, col)
			}
			return func(v protoreflect.Value) (any, error) { return conv(v.Message().Get(inner)) }, nil
		}
		if col.typ == typeTimestamp && strings.HasSuffix(string(md.Name()), "Timestamp") {
			secs, nanos := md.Fields().ByName("seconds"), md.Fields().ByName("nanos")
			if secs != nil && nanos != nil {
				return func(v protoreflect.Value) (any, error) {
					m := v.Message()
					return timestampFromMicros(m.Get(secs).Int()*1_000_000 + m.Get(nanos).Int()/1000)
				}, nil
			}
		}
		return nil, mismatch(path, fd, col)
	}
	conv := kindConverter(fd, col)
	if conv == nil {
		return nil, mismatch(path, fd, col)
	}
	return conv, nil
}

// kindClass groups proto kinds the way the supported-data-types table lists them.
type kindClass int

const (
	classOther kindClass = iota
	classSigned
	classUnsigned32
	classUnsigned64
	classFloat
	classBool
	classString
	classBytes
	classEnum
)

func classOf(k protoreflect.Kind) kindClass {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return classSigned
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return classUnsigned32
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return classUnsigned64
	case protoreflect.DoubleKind, protoreflect.FloatKind:
		return classFloat
	case protoreflect.BoolKind:
		return classBool
	case protoreflect.StringKind:
		return classString
	case protoreflect.BytesKind:
		return classBytes
	case protoreflect.EnumKind:
		return classEnum
	}
	return classOther
}

// integer reads any integer-like value as int64, failing for uint64 values that do not fit.
func integer(v protoreflect.Value, c kindClass) (int64, error) {
	switch c {
	case classSigned:
		return v.Int(), nil
	case classUnsigned32:
		return int64(v.Uint()), nil
	case classUnsigned64:
		u := v.Uint()
		if u > 1<<63-1 {
			return 0, fmt.Errorf("value %d overflows INT64", u)
		}
		return int64(u), nil
	case classEnum:
		return int64(v.Enum()), nil
	}
	return 0, fmt.Errorf("not an integer")
}

// kindConverter returns the converter for a scalar proto field into col's type, or nil when
// BigQuery does not accept that proto type for the column.
func kindConverter(fd protoreflect.FieldDescriptor, col *column) func(protoreflect.Value) (any, error) {
	c := classOf(fd.Kind())
	isInt := c == classSigned || c == classUnsigned32 || c == classUnsigned64
	switch col.typ {
	case typeString, typeJSON, typeGeography, typeInterval:
		switch {
		case c == classString:
			return func(v protoreflect.Value) (any, error) { return v.String(), nil }
		case c == classEnum && col.typ == typeString:
			values := fd.Enum().Values()
			return func(v protoreflect.Value) (any, error) {
				if ev := values.ByNumber(v.Enum()); ev != nil {
					return string(ev.Name()), nil
				}
				return strconv.Itoa(int(v.Enum())), nil
			}
		}
	case typeBytes:
		switch c {
		case classBytes:
			return func(v protoreflect.Value) (any, error) { return v.Bytes(), nil }
		case classString:
			return func(v protoreflect.Value) (any, error) { return []byte(v.String()), nil }
		}
	case typeInt64:
		if isInt || c == classEnum {
			return func(v protoreflect.Value) (any, error) { return integer(v, c) }
		}
	case typeFloat64:
		if c == classFloat {
			return func(v protoreflect.Value) (any, error) { return v.Float(), nil }
		}
	case typeBool:
		switch {
		case c == classBool:
			return func(v protoreflect.Value) (any, error) { return v.Bool(), nil }
		case isInt:
			return func(v protoreflect.Value) (any, error) {
				if c == classSigned {
					return v.Int() != 0, nil
				}
				return v.Uint() != 0, nil
			}
		}
	case typeNumeric, typeBigNumeric:
		k := numericKind
		if col.typ == typeBigNumeric {
			k = bigNumericKind
		}
		switch {
		case c == classBytes:
			return func(v protoreflect.Value) (any, error) { return k.fromBytes(v.Bytes()) }
		case c == classString:
			return func(v protoreflect.Value) (any, error) { return k.fromString(v.String()) }
		case c == classFloat:
			return func(v protoreflect.Value) (any, error) { return k.fromFloat(v.Float()) }
		case c == classUnsigned64:
			return func(v protoreflect.Value) (any, error) { return k.fromString(strconv.FormatUint(v.Uint(), 10)) }
		case isInt:
			return func(v protoreflect.Value) (any, error) {
				i, err := integer(v, c)
				if err != nil {
					return nil, err
				}
				return k.fromInt(i)
			}
		}
	case typeTimestamp:
		if c == classSigned || c == classUnsigned32 {
			return func(v protoreflect.Value) (any, error) {
				i, _ := integer(v, c)
				return timestampFromMicros(i)
			}
		}
	case typeDate:
		switch {
		case c == classSigned:
			return func(v protoreflect.Value) (any, error) { return dateFromDays(v.Int()) }
		case c == classString:
			return func(v protoreflect.Value) (any, error) { return dateFromString(v.String()) }
		}
	case typeTime:
		switch {
		case c == classSigned:
			return func(v protoreflect.Value) (any, error) { return timeFromPacked(v.Int()) }
		case c == classString:
			return func(v protoreflect.Value) (any, error) { return timeFromString(v.String()) }
		}
	case typeDateTime:
		switch {
		case c == classSigned:
			return func(v protoreflect.Value) (any, error) { return dateTimeFromPacked(v.Int()) }
		case c == classString:
			return func(v protoreflect.Value) (any, error) { return dateTimeFromString(v.String()) }
		}
	}
	return nil
}

// decodeRows decodes every serialized row; rows that fail get a RowError and no map.
func (d *decoder) decodeRows(serialized [][]byte) ([]map[string]any, []RowError) {
	rows := make([]map[string]any, len(serialized))
	var rowErrs []RowError
	for i, b := range serialized {
		m := d.msgType.New()
		if err := unmarshalOpts.Unmarshal(b, m.Interface()); err != nil {
			rowErrs = append(rowErrs, RowError{Index: i, Message: fmt.Sprintf("cannot parse row as the writer schema: %v", err)})
			continue
		}
		row, err := d.root.decode(m, "")
		if err != nil {
			rowErrs = append(rowErrs, RowError{Index: i, Message: err.Error()})
			continue
		}
		rows[i] = row
	}
	return rows, rowErrs
}

func (p *msgPlan) decode(m protoreflect.Message, prefix string) (map[string]any, error) {
	if len(m.GetUnknown()) > 0 {
		return nil, fmt.Errorf("row has fields that are not in the writer schema%s", at(prefix))
	}
	out := make(map[string]any, len(p.fields))
	for i := range p.fields {
		f := &p.fields[i]
		if f.fd.IsList() {
			l := m.Get(f.fd).List()
			if l.Len() == 0 {
				continue
			}
			arr := make([]any, l.Len())
			for j := range l.Len() {
				v, err := f.value(l.Get(j), prefix)
				if err != nil {
					return nil, err
				}
				arr[j] = v
			}
			out[f.col.name] = arr
			continue
		}
		// Absent proto2 fields are NULL, unless the descriptor gives a default: NormalizeDescriptor
		// sets one for proto3 fields, whose zero values are never on the wire.
		if !m.Has(f.fd) && !f.fd.HasDefault() {
			continue
		}
		v, err := f.value(m.Get(f.fd), prefix)
		if err != nil {
			return nil, err
		}
		out[f.col.name] = v
	}
	for _, c := range p.required {
		if _, ok := out[c.name]; !ok {
			return nil, fmt.Errorf("missing required field: %s%s", prefix, c.name)
		}
	}
	return out, nil
}

func (f *fieldPlan) value(v protoreflect.Value, prefix string) (any, error) {
	if f.sub != nil {
		return f.sub.decode(v.Message(), prefix+f.col.name+".")
	}
	out, err := f.conv(v)
	if err != nil {
		return nil, fmt.Errorf("field %s%s: %w", prefix, f.col.name, err)
	}
	return out, nil
}

func at(prefix string) string {
	if prefix == "" {
		return ""
	}
	return " at " + strings.TrimSuffix(prefix, ".")
}
