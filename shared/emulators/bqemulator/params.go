package bqemulator

import (
	"encoding/base64"
	"strconv"
	"strings"

	bq "google.golang.org/api/bigquery/v2"
)

// queryParam is a query parameter as sent over REST, keeping NULL distinct from "".
type queryParam struct {
	name  string
	typ   *bq.QueryParameterType
	value *rawParamValue
}

type rawParam struct {
	Name           string                 `json:"name"`
	ParameterType  *bq.QueryParameterType `json:"parameterType"`
	ParameterValue *rawParamValue         `json:"parameterValue"`
}

type rawParamValue struct {
	Value        *string                   `json:"value"`
	ArrayValues  []*rawParamValue          `json:"arrayValues"`
	StructValues map[string]*rawParamValue `json:"structValues"`
}

func toQueryParams(raw []rawParam) []queryParam {
	out := make([]queryParam, len(raw))
	for i, p := range raw {
		out[i] = queryParam{name: p.Name, typ: p.ParameterType, value: p.ParameterValue}
	}
	return out
}

func (tr *translator) namedParam(name string) (string, error) {
	for _, p := range tr.opts.params {
		if strings.EqualFold(p.name, name) {
			return paramLiteral(p.typ, p.value)
		}
	}
	return "", errInvalidQuery("Query parameter '%s' not found", name)
}

func (tr *translator) positionalParam() (string, error) {
	idx := tr.positional
	tr.positional++
	n := 0
	for _, p := range tr.opts.params {
		if p.name != "" {
			continue
		}
		if n == idx {
			return paramLiteral(p.typ, p.value)
		}
		n++
	}
	return "", errInvalidQuery("No value provided for positional parameter %d", idx+1)
}

// paramLiteral renders a parameter value as a typed DuckDB literal (parameters are inlined).
func paramLiteral(t *bq.QueryParameterType, v *rawParamValue) (string, error) {
	if t == nil {
		return "", errInvalid("Query parameter is missing its type")
	}
	typ := strings.ToUpper(t.Type)
	if typ == "ARRAY" {
		if t.ArrayType == nil {
			return "", errInvalid("Array query parameter is missing its element type")
		}
		elemType, err := paramDuckType(t.ArrayType)
		if err != nil {
			return "", err
		}
		if v == nil || v.ArrayValues == nil && v.Value == nil {
			return "CAST([] AS " + elemType + "[])", nil
		}
		parts := make([]string, len(v.ArrayValues))
		for i, e := range v.ArrayValues {
			s, err := paramLiteral(t.ArrayType, e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return "CAST([" + strings.Join(parts, ", ") + "] AS " + elemType + "[])", nil
	}
	if typ == "STRUCT" {
		if v == nil || v.StructValues == nil {
			return "NULL", nil
		}
		parts := make([]string, len(t.StructTypes))
		for i, st := range t.StructTypes {
			s, err := paramLiteral(st.Type, v.StructValues[st.Name])
			if err != nil {
				return "", err
			}
			parts[i] = quoteIdent(st.Name) + " := " + s
		}
		return "struct_pack(" + strings.Join(parts, ", ") + ")", nil
	}
	dt, err := paramDuckType(t)
	if err != nil {
		return "", err
	}
	if v == nil || v.Value == nil {
		return "CAST(NULL AS " + dt + ")", nil
	}
	s := *v.Value
	bad := func() (string, error) {
		return "", errInvalidQuery("Invalid %s query parameter value %q", typ, s)
	}
	switch typ {
	case "STRING":
		return quoteString(s), nil
	case "BYTES":
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return bad()
		}
		return bytesLiteral(b), nil
	case "INT64", "INTEGER":
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			return bad()
		}
		return "CAST(" + s + " AS BIGINT)", nil
	case "FLOAT64", "FLOAT":
		if _, err := strconv.ParseFloat(s, 64); err != nil {
			return bad()
		}
		return "CAST(" + quoteString(s) + " AS DOUBLE)", nil
	case "BOOL", "BOOLEAN":
		b, err := strconv.ParseBool(s)
		if err != nil {
			return bad()
		}
		return strings.ToUpper(strconv.FormatBool(b)), nil
	case "NUMERIC", "BIGNUMERIC":
		n, err := parseNumeric(s)
		if err != nil {
			return bad()
		}
		return "CAST(" + quoteString(n) + " AS DECIMAL(38,9))", nil
	case "TIMESTAMP":
		ts, err := parseTimestamp(s)
		if err != nil {
			return bad()
		}
		return "TIMESTAMP '" + ts.Format("2006-01-02 15:04:05.999999") + "'", nil
	case "DATETIME":
		return "CAST(" + quoteString(strings.Replace(s, "T", " ", 1)) + " AS TIMESTAMP)", nil
	case "DATE", "TIME", "JSON":
		return "CAST(" + quoteString(s) + " AS " + typ + ")", nil
	}
	return "", errUnsupported("Query parameter type " + typ)
}

func paramDuckType(t *bq.QueryParameterType) (string, error) {
	switch strings.ToUpper(t.Type) {
	case "STRING":
		return "VARCHAR", nil
	case "BYTES":
		return "BLOB", nil
	case "INT64", "INTEGER":
		return "BIGINT", nil
	case "FLOAT64", "FLOAT":
		return "DOUBLE", nil
	case "BOOL", "BOOLEAN":
		return "BOOLEAN", nil
	case "NUMERIC", "BIGNUMERIC":
		return "DECIMAL(38,9)", nil
	case "TIMESTAMP", "DATETIME":
		return "TIMESTAMP", nil
	case "DATE", "TIME", "JSON":
		return strings.ToUpper(t.Type), nil
	case "ARRAY":
		if t.ArrayType == nil {
			return "", errInvalid("Array query parameter is missing its element type")
		}
		e, err := paramDuckType(t.ArrayType)
		return e + "[]", err
	case "STRUCT":
		parts := make([]string, len(t.StructTypes))
		for i, st := range t.StructTypes {
			e, err := paramDuckType(st.Type)
			if err != nil {
				return "", err
			}
			parts[i] = quoteIdent(st.Name) + " " + e
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")", nil
	}
	return "", errUnsupported("Query parameter type " + t.Type)
}
