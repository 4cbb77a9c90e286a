package bqemulator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/civil"
	"github.com/duckdb/duckdb-go/v2"
	bq "google.golang.org/api/bigquery/v2"
)

// Canonical row values (shared with the storagewrite service):
// STRING/JSON string; BYTES []byte; INTEGER int64; FLOAT float64;
// NUMERIC/BIGNUMERIC decimal string; BOOLEAN bool; TIMESTAMP time.Time (UTC, µs);
// DATE civil.Date; TIME civil.Time; DATETIME civil.DateTime; RECORD map[string]any;
// REPEATED []any; nil or a missing key is NULL.

// fieldError is one invalid value, located by its field path.
type fieldError struct {
	location string
	message  string
}

func (e fieldError) Error() string {
	if e.location == "" {
		return e.message
	}
	return e.location + ": " + e.message
}

// elementField is the schema of one element of a REPEATED field.
func elementField(f *bq.TableFieldSchema) *bq.TableFieldSchema {
	ef := *f
	ef.Mode = "NULLABLE"
	return &ef
}

// convertJSONRow converts an insertAll JSON row into canonical values.
// Unknown fields are errors unless ignoreUnknown is set.
func convertJSONRow(fields []*bq.TableFieldSchema, row map[string]any, ignoreUnknown bool, path string) (map[string]any, []fieldError) {
	out := make(map[string]any, len(row))
	var errs []fieldError
	byName := fieldsByName(fields)
	for k, v := range row {
		f, ok := byName[strings.ToLower(k)]
		if !ok {
			if !ignoreUnknown {
				errs = append(errs, fieldError{location: path + k, message: "no such field: " + k + "."})
			}
			continue
		}
		cv, ferrs := convertJSONValue(f, v, ignoreUnknown, path+f.Name)
		errs = append(errs, ferrs...)
		out[f.Name] = cv
	}
	return out, errs
}

func fieldsByName(fields []*bq.TableFieldSchema) map[string]*bq.TableFieldSchema {
	m := make(map[string]*bq.TableFieldSchema, len(fields))
	for _, f := range fields {
		m[strings.ToLower(f.Name)] = f
	}
	return m
}

func convertJSONValue(f *bq.TableFieldSchema, v any, ignoreUnknown bool, loc string) (any, []fieldError) {
	if v == nil {
		return nil, nil
	}
	if isRepeated(f) {
		arr, ok := v.([]any)
		if !ok {
			return nil, []fieldError{{loc, "Array specified for non-repeated field: " + loc + "."}}
		}
		ef := elementField(f)
		out := make([]any, len(arr))
		var errs []fieldError
		for i, e := range arr {
			cv, ferrs := convertJSONValue(ef, e, ignoreUnknown, loc)
			errs = append(errs, ferrs...)
			if e == nil {
				errs = append(errs, fieldError{loc, "Null value in repeated field " + loc + " is not allowed."})
			}
			out[i] = cv
		}
		return out, errs
	}
	if f.Type == tRecord {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, []fieldError{{loc, "This field: " + loc + " is not a record."}}
		}
		return convertJSONRow(f.Fields, m, ignoreUnknown, loc+".")
	}
	if _, ok := v.([]any); ok {
		return nil, []fieldError{{loc, "Array specified for non-repeated field: " + loc + "."}}
	}
	cv, err := convertScalar(f.Type, v)
	if err != nil {
		return nil, []fieldError{{loc, err.Error()}}
	}
	return cv, nil
}

// scalarText renders a JSON scalar as text for parsing.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// convertScalar converts one JSON scalar to the canonical Go value for typ.
func convertScalar(typ string, v any) (any, error) {
	if typ == tJSON {
		if s, ok := v.(string); ok {
			if !json.Valid([]byte(s)) {
				return nil, fmt.Errorf("Cannot convert value to JSON: %q is not valid JSON.", s)
			}
			return s, nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("Cannot convert value to JSON: %v.", err)
		}
		return string(b), nil
	}
	s, ok := scalarText(v)
	if !ok {
		return nil, fmt.Errorf("Cannot convert value to %s: a JSON object is not a %s.", strings.ToLower(typ), strings.ToLower(typ))
	}
	switch typ {
	case tString:
		return s, nil
	case tBytes:
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			if b, err2 := base64.URLEncoding.DecodeString(s); err2 == nil {
				return b, nil
			}
			return nil, fmt.Errorf("Could not decode base64 string to bytes.")
		}
		return b, nil
	case tInteger:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			// BigQuery accepts integral floats such as 1.0 or 1e3.
			if r, ok := new(big.Rat).SetString(s); ok && r.IsInt() && r.Num().IsInt64() {
				return r.Num().Int64(), nil
			}
			return nil, fmt.Errorf("Cannot convert value to integer (bad value): %s.", s)
		}
		return i, nil
	case tFloat:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("Cannot convert value to floating point (bad value): %s.", s)
		}
		return f, nil
	case tNumeric, tBigNumeric:
		return parseNumeric(s)
	case tBoolean:
		switch strings.ToLower(s) {
		case "true", "1":
			return true, nil
		case "false", "0":
			return false, nil
		}
		return nil, fmt.Errorf("Cannot convert value to boolean (bad value): %s.", s)
	case tTimestamp:
		return parseTimestamp(s)
	case tDate:
		d, err := civil.ParseDate(s)
		if err != nil {
			return nil, fmt.Errorf("Invalid date string %q.", s)
		}
		return d, nil
	case tTime:
		t, err := civil.ParseTime(s)
		if err != nil {
			return nil, fmt.Errorf("Invalid time string %q.", s)
		}
		return t, nil
	case tDatetime:
		d, err := civil.ParseDateTime(strings.Replace(s, " ", "T", 1))
		if err != nil {
			return nil, fmt.Errorf("Invalid datetime string %q.", s)
		}
		return d, nil
	}
	return nil, fmt.Errorf("unsupported type %s", typ)
}

var numericLimit = new(big.Rat).SetFrac(new(big.Int).Exp(big.NewInt(10), big.NewInt(29), nil), big.NewInt(1))

// parseNumeric validates decimal text and returns it normalized (rounded to 9 fractional digits).
func parseNumeric(s string) (string, error) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok {
		return "", fmt.Errorf("Invalid NUMERIC value: %s.", s)
	}
	if new(big.Rat).Abs(r).Cmp(numericLimit) >= 0 {
		return "", fmt.Errorf("Invalid NUMERIC value: %s (out of range for this emulator's DECIMAL(38,9)).", s)
	}
	return trimDecimal(r.FloatString(9)), nil
}

func trimDecimal(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

var numberRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$`)

var timestampLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999 Z07:00",
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02T15:04:05.999999999Z07",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02 15:04",
	"2006-01-02",
}

// parseTimestamp accepts RFC 3339 and BigQuery's canonical text, or seconds since the epoch.
func parseTimestamp(s string) (time.Time, error) {
	str := strings.TrimSpace(s)
	if numberRE.MatchString(str) {
		r, _ := new(big.Rat).SetString(str)
		micros := new(big.Rat).Mul(r, big.NewRat(1e6, 1))
		f, _ := micros.Float64()
		if math.Abs(f) > 2.6e17 {
			return time.Time{}, fmt.Errorf("Cannot convert value to timestamp (out of range): %s.", s)
		}
		q := new(big.Int).Quo(micros.Num(), micros.Denom())
		return time.UnixMicro(q.Int64()).UTC(), nil
	}
	str = strings.TrimSuffix(str, " UTC")
	str = strings.TrimSuffix(str, "UTC")
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, str); err == nil {
			return t.UTC().Truncate(time.Microsecond), nil
		}
	}
	return time.Time{}, fmt.Errorf("Cannot convert value to timestamp (bad value): %s.", s)
}

// validateRow checks canonical values against the schema: required fields,
// types, unknown fields and NULL array elements.
func validateRow(fields []*bq.TableFieldSchema, row map[string]any, path string) []fieldError {
	var errs []fieldError
	byName := fieldsByName(fields)
	for k := range row {
		if _, ok := byName[strings.ToLower(k)]; !ok {
			errs = append(errs, fieldError{path + k, "no such field: " + k + "."})
		}
	}
	for _, f := range fields {
		v, ok := row[f.Name]
		if !ok {
			v = lookupFold(row, f.Name)
		}
		loc := path + f.Name
		if v == nil {
			if isRequired(f) {
				errs = append(errs, fieldError{loc, "Missing required field: " + loc + "."})
			}
			continue
		}
		errs = append(errs, validateValue(f, v, loc)...)
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].location < errs[j].location })
	return errs
}

func lookupFold(row map[string]any, name string) any {
	for k, v := range row {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

func validateValue(f *bq.TableFieldSchema, v any, loc string) []fieldError {
	if isRepeated(f) {
		arr, ok := v.([]any)
		if !ok {
			return []fieldError{{loc, fmt.Sprintf("repeated field %s needs []any, got %T.", loc, v)}}
		}
		ef := elementField(f)
		var errs []fieldError
		for _, e := range arr {
			if e == nil {
				errs = append(errs, fieldError{loc, "Null value in repeated field " + loc + " is not allowed."})
				continue
			}
			errs = append(errs, validateValue(ef, e, loc)...)
		}
		return errs
	}
	ok := false
	switch f.Type {
	case tRecord:
		m, isMap := v.(map[string]any)
		if !isMap {
			return []fieldError{{loc, fmt.Sprintf("record field %s needs map[string]any, got %T.", loc, v)}}
		}
		return validateRow(f.Fields, m, loc+".")
	case tString, tJSON:
		_, ok = v.(string)
		if ok && f.Type == tJSON && !json.Valid([]byte(v.(string))) {
			return []fieldError{{loc, "Invalid JSON value for field " + loc + "."}}
		}
	case tBytes:
		_, ok = v.([]byte)
	case tInteger:
		_, ok = v.(int64)
	case tFloat:
		_, ok = v.(float64)
	case tNumeric, tBigNumeric:
		var s string
		if s, ok = v.(string); ok {
			if _, err := parseNumeric(s); err != nil {
				return []fieldError{{loc, err.Error()}}
			}
		}
	case tBoolean:
		_, ok = v.(bool)
	case tTimestamp:
		_, ok = v.(time.Time)
	case tDate:
		_, ok = v.(civil.Date)
	case tTime:
		_, ok = v.(civil.Time)
	case tDatetime:
		_, ok = v.(civil.DateTime)
	}
	if !ok {
		return []fieldError{{loc, fmt.Sprintf("Invalid value for %s field %s: Go type %T.", f.Type, loc, v)}}
	}
	return nil
}

// toDriver converts a validated canonical value into what the DuckDB appender takes.
func toDriver(f *bq.TableFieldSchema, v any) any {
	if v == nil {
		return nil
	}
	if isRepeated(f) {
		arr := v.([]any)
		ef := elementField(f)
		out := make([]any, len(arr))
		for i, e := range arr {
			out[i] = toDriver(ef, e)
		}
		return out
	}
	switch f.Type {
	case tRecord:
		m := v.(map[string]any)
		out := make(map[string]any, len(f.Fields))
		for _, sf := range f.Fields {
			sv, ok := m[sf.Name]
			if !ok {
				sv = lookupFold(m, sf.Name)
			}
			out[sf.Name] = toDriver(sf, sv)
		}
		return out
	case tNumeric, tBigNumeric:
		s, _ := parseNumeric(v.(string))
		r, _ := new(big.Rat).SetString(s)
		r.Mul(r, new(big.Rat).SetInt(pow10(9)))
		return duckdb.Decimal{Width: 38, Scale: 9, Value: new(big.Int).Quo(r.Num(), r.Denom())}
	case tTimestamp:
		return v.(time.Time).UTC().Truncate(time.Microsecond)
	case tDate:
		d := v.(civil.Date)
		return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
	case tTime:
		t := v.(civil.Time)
		return time.Date(1970, 1, 1, t.Hour, t.Minute, t.Second, t.Nanosecond, time.UTC)
	case tDatetime:
		d := v.(civil.DateTime)
		return time.Date(d.Date.Year, d.Date.Month, d.Date.Day, d.Time.Hour, d.Time.Minute, d.Time.Second, d.Time.Nanosecond, time.UTC)
	case tJSON:
		return json.RawMessage(v.(string))
	}
	return v
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// fromDuck converts a value scanned from DuckDB into the canonical Go value for f.
func fromDuck(f *bq.TableFieldSchema, v any) any {
	if isRepeated(f) {
		arr, _ := v.([]any)
		ef := elementField(f)
		out := make([]any, len(arr))
		for i, e := range arr {
			out[i] = fromDuck(ef, e)
		}
		return out
	}
	if v == nil {
		return nil
	}
	switch f.Type {
	case tRecord:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		out := make(map[string]any, len(f.Fields))
		for _, sf := range f.Fields {
			out[sf.Name] = fromDuck(sf, m[sf.Name])
		}
		return out
	case tInteger:
		switch x := v.(type) {
		case int64:
			return x
		case int32:
			return int64(x)
		case int16:
			return int64(x)
		case int8:
			return int64(x)
		case uint8:
			return int64(x)
		case uint16:
			return int64(x)
		case uint32:
			return int64(x)
		case uint64:
			return int64(x)
		case *big.Int:
			return x.Int64()
		case bool:
			if x {
				return int64(1)
			}
			return int64(0)
		}
	case tFloat:
		switch x := v.(type) {
		case float64:
			return x
		case float32:
			return float64(x)
		}
	case tNumeric, tBigNumeric:
		switch x := v.(type) {
		case duckdb.Decimal:
			r := new(big.Rat).SetFrac(x.Value, pow10(int(x.Scale)))
			return trimDecimal(r.FloatString(int(x.Scale)))
		case float64:
			return trimDecimal(strconv.FormatFloat(x, 'f', 9, 64))
		}
	case tString:
		switch x := v.(type) {
		case string:
			return x
		case []byte:
			return string(x)
		case duckdb.UUID:
			return x.String()
		case duckdb.Interval:
			return fmt.Sprintf("%d-%d %d", x.Months/12, x.Months%12, x.Days) + " " + (time.Duration(x.Micros) * time.Microsecond).String()
		default:
			b, _ := json.Marshal(x)
			return string(b)
		}
	case tJSON:
		if s, ok := v.(string); ok {
			return s
		}
		b, _ := json.Marshal(v)
		return string(b)
	case tTimestamp:
		if t, ok := v.(time.Time); ok {
			return t.UTC()
		}
	case tDate:
		if t, ok := v.(time.Time); ok {
			return civil.DateOf(t)
		}
	case tTime:
		if t, ok := v.(time.Time); ok {
			return civil.TimeOf(t)
		}
	case tDatetime:
		if t, ok := v.(time.Time); ok {
			return civil.DateTimeOf(t)
		}
	}
	return v
}

// encodeCell renders a canonical value the way BigQuery's REST API does.
func encodeCell(f *bq.TableFieldSchema, v any, int64Timestamps bool) any {
	if isRepeated(f) {
		arr, _ := v.([]any)
		ef := elementField(f)
		out := make([]any, len(arr))
		for i, e := range arr {
			out[i] = map[string]any{"v": encodeCell(ef, e, int64Timestamps)}
		}
		return out
	}
	if v == nil {
		return nil
	}
	switch f.Type {
	case tRecord:
		m, _ := v.(map[string]any)
		cells := make([]any, len(f.Fields))
		for i, sf := range f.Fields {
			cells[i] = map[string]any{"v": encodeCell(sf, m[sf.Name], int64Timestamps)}
		}
		return map[string]any{"f": cells}
	case tInteger:
		if i, ok := v.(int64); ok {
			return strconv.FormatInt(i, 10)
		}
	case tFloat:
		if x, ok := v.(float64); ok {
			switch {
			case math.IsInf(x, 1):
				return "Infinity"
			case math.IsInf(x, -1):
				return "-Infinity"
			case math.IsNaN(x):
				return "NaN"
			}
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
	case tBoolean:
		if b, ok := v.(bool); ok {
			return strconv.FormatBool(b)
		}
	case tBytes:
		if b, ok := v.([]byte); ok {
			return base64.StdEncoding.EncodeToString(b)
		}
	case tTimestamp:
		if t, ok := v.(time.Time); ok {
			us := t.UnixMicro()
			if int64Timestamps {
				return strconv.FormatInt(us, 10)
			}
			return formatSeconds(us)
		}
	case tDate:
		if d, ok := v.(civil.Date); ok {
			return d.String()
		}
	case tTime:
		if t, ok := v.(civil.Time); ok {
			return t.String()
		}
	case tDatetime:
		if d, ok := v.(civil.DateTime); ok {
			return d.String()
		}
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// formatSeconds renders microseconds as BigQuery's float-seconds text.
func formatSeconds(us int64) string {
	sign := ""
	if us < 0 {
		sign = "-"
		us = -us
	}
	return trimDecimal(fmt.Sprintf("%s%d.%06d", sign, us/1e6, us%1e6))
}
