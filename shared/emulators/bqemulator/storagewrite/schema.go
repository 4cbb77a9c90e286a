package storagewrite

import (
	"fmt"
	"strings"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	bigqueryv2 "google.golang.org/api/bigquery/v2"
)

// colType is a BigQuery column type, with the REST API's legacy aliases folded together.
type colType int

const (
	typeString colType = iota + 1
	typeBytes
	typeInt64
	typeFloat64
	typeNumeric
	typeBigNumeric
	typeBool
	typeTimestamp
	typeDate
	typeTime
	typeDateTime
	typeGeography
	typeJSON
	typeInterval
	typeRecord
	typeRange
)

var colTypes = map[string]colType{
	"STRING": typeString, "BYTES": typeBytes,
	"INTEGER": typeInt64, "INT64": typeInt64,
	"FLOAT": typeFloat64, "FLOAT64": typeFloat64,
	"NUMERIC": typeNumeric, "DECIMAL": typeNumeric,
	"BIGNUMERIC": typeBigNumeric, "BIGDECIMAL": typeBigNumeric,
	"BOOLEAN": typeBool, "BOOL": typeBool,
	"TIMESTAMP": typeTimestamp, "DATE": typeDate, "TIME": typeTime, "DATETIME": typeDateTime,
	"GEOGRAPHY": typeGeography, "JSON": typeJSON, "INTERVAL": typeInterval,
	"RECORD": typeRecord, "STRUCT": typeRecord, "RANGE": typeRange,
}

var storageTypes = map[colType]storagepb.TableFieldSchema_Type{
	typeString: storagepb.TableFieldSchema_STRING, typeBytes: storagepb.TableFieldSchema_BYTES,
	typeInt64: storagepb.TableFieldSchema_INT64, typeFloat64: storagepb.TableFieldSchema_DOUBLE,
	typeNumeric: storagepb.TableFieldSchema_NUMERIC, typeBigNumeric: storagepb.TableFieldSchema_BIGNUMERIC,
	typeBool: storagepb.TableFieldSchema_BOOL, typeTimestamp: storagepb.TableFieldSchema_TIMESTAMP,
	typeDate: storagepb.TableFieldSchema_DATE, typeTime: storagepb.TableFieldSchema_TIME,
	typeDateTime: storagepb.TableFieldSchema_DATETIME, typeGeography: storagepb.TableFieldSchema_GEOGRAPHY,
	typeJSON: storagepb.TableFieldSchema_JSON, typeInterval: storagepb.TableFieldSchema_INTERVAL,
	typeRecord: storagepb.TableFieldSchema_STRUCT, typeRange: storagepb.TableFieldSchema_RANGE,
}

// column is one parsed table column.
type column struct {
	name     string
	typeName string // as the table schema spells it, for error messages
	typ      colType
	required bool
	repeated bool
	record   *record // for RECORD columns
}

// record is a list of columns: the table itself or one RECORD column's fields.
type record struct {
	cols    []*column
	byLower map[string]*column // proto field names match column names case-insensitively
}

// parseSchema turns a REST table schema into the lookup form the decoder compiles against.
func parseSchema(s *bigqueryv2.TableSchema) (*record, error) {
	if s == nil {
		return nil, fmt.Errorf("table has no schema")
	}
	return parseFields(s.Fields, "")
}

func parseFields(fields []*bigqueryv2.TableFieldSchema, prefix string) (*record, error) {
	r := &record{byLower: make(map[string]*column, len(fields))}
	for _, f := range fields {
		path := prefix + f.Name
		t, ok := colTypes[strings.ToUpper(f.Type)]
		if !ok {
			return nil, fmt.Errorf("column %s has unknown type %q", path, f.Type)
		}
		c := &column{name: f.Name, typeName: strings.ToUpper(f.Type), typ: t}
		switch strings.ToUpper(f.Mode) {
		case "", "NULLABLE":
		case "REQUIRED":
			c.required = true
		case "REPEATED":
			c.repeated = true
		default:
			return nil, fmt.Errorf("column %s has unknown mode %q", path, f.Mode)
		}
		if t == typeRecord {
			sub, err := parseFields(f.Fields, path+".")
			if err != nil {
				return nil, err
			}
			c.record = sub
		}
		r.cols = append(r.cols, c)
		r.byLower[strings.ToLower(f.Name)] = c
	}
	return r, nil
}

// toStorageSchema converts a REST table schema into the Storage API's form, as GetWriteStream
// returns it with view FULL.
func toStorageSchema(s *bigqueryv2.TableSchema) (*storagepb.TableSchema, error) {
	if s == nil {
		return nil, fmt.Errorf("table has no schema")
	}
	fields, err := toStorageFields(s.Fields)
	if err != nil {
		return nil, err
	}
	return &storagepb.TableSchema{Fields: fields}, nil
}

func toStorageFields(in []*bigqueryv2.TableFieldSchema) ([]*storagepb.TableFieldSchema, error) {
	out := make([]*storagepb.TableFieldSchema, 0, len(in))
	for _, f := range in {
		t, ok := colTypes[strings.ToUpper(f.Type)]
		if !ok {
			return nil, fmt.Errorf("column %s has unknown type %q", f.Name, f.Type)
		}
		sf := &storagepb.TableFieldSchema{
			Name:                   f.Name,
			Type:                   storageTypes[t],
			Mode:                   storagepb.TableFieldSchema_NULLABLE,
			Description:            f.Description,
			MaxLength:              f.MaxLength,
			Precision:              f.Precision,
			Scale:                  f.Scale,
			DefaultValueExpression: f.DefaultValueExpression,
		}
		switch strings.ToUpper(f.Mode) {
		case "REQUIRED":
			sf.Mode = storagepb.TableFieldSchema_REQUIRED
		case "REPEATED":
			sf.Mode = storagepb.TableFieldSchema_REPEATED
		}
		if f.RangeElementType != nil {
			et, ok := colTypes[strings.ToUpper(f.RangeElementType.Type)]
			if !ok {
				return nil, fmt.Errorf("column %s has unknown range element type %q", f.Name, f.RangeElementType.Type)
			}
			sf.RangeElementType = &storagepb.TableFieldSchema_FieldElementType{Type: storageTypes[et]}
		}
		if len(f.Fields) > 0 {
			sub, err := toStorageFields(f.Fields)
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", f.Name, err)
			}
			sf.Fields = sub
		}
		out = append(out, sf)
	}
	return out, nil
}
