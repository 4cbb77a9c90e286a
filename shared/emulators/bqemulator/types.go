package bqemulator

import (
	"fmt"
	"regexp"
	"strings"

	bq "google.golang.org/api/bigquery/v2"
)

// Canonical (legacy) type names, which is what BigQuery returns from tables.get.
const (
	tString     = "STRING"
	tBytes      = "BYTES"
	tInteger    = "INTEGER"
	tFloat      = "FLOAT"
	tNumeric    = "NUMERIC"
	tBigNumeric = "BIGNUMERIC"
	tBoolean    = "BOOLEAN"
	tTimestamp  = "TIMESTAMP"
	tDate       = "DATE"
	tTime       = "TIME"
	tDatetime   = "DATETIME"
	tJSON       = "JSON"
	tRecord     = "RECORD"
)

// canonicalType maps standard SQL aliases to BigQuery's legacy names.
func canonicalType(t string) (string, bool) {
	switch strings.ToUpper(t) {
	case "STRING":
		return tString, true
	case "BYTES":
		return tBytes, true
	case "INTEGER", "INT64":
		return tInteger, true
	case "FLOAT", "FLOAT64":
		return tFloat, true
	case "NUMERIC", "DECIMAL":
		return tNumeric, true
	case "BIGNUMERIC", "BIGDECIMAL":
		return tBigNumeric, true
	case "BOOLEAN", "BOOL":
		return tBoolean, true
	case "TIMESTAMP":
		return tTimestamp, true
	case "DATE":
		return tDate, true
	case "TIME":
		return tTime, true
	case "DATETIME":
		return tDatetime, true
	case "JSON":
		return tJSON, true
	case "RECORD", "STRUCT":
		return tRecord, true
	}
	return "", false
}

var fieldNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,299}$`)

// normalizeFields validates a schema and returns a copy with canonical type and mode names.
func normalizeFields(fields []*bq.TableFieldSchema, path string) ([]*bq.TableFieldSchema, error) {
	seen := map[string]bool{}
	out := make([]*bq.TableFieldSchema, 0, len(fields))
	for _, f := range fields {
		if f == nil {
			continue
		}
		name := path + f.Name
		if !fieldNameRE.MatchString(f.Name) {
			return nil, errInvalid("Invalid field name %q. Fields must contain only letters, numbers, and underscores, start with a letter or underscore, and be at most 300 characters long.", f.Name)
		}
		if seen[strings.ToLower(f.Name)] {
			return nil, errInvalid("Field %s already exists in schema", name)
		}
		seen[strings.ToLower(f.Name)] = true
		typ, ok := canonicalType(f.Type)
		if !ok {
			return nil, errInvalid("Invalid value for type: %s is not a valid value (field %s)", f.Type, name)
		}
		mode := strings.ToUpper(f.Mode)
		switch mode {
		case "", "NULLABLE", "REQUIRED", "REPEATED":
		default:
			return nil, errInvalid("Invalid value for mode: %s is not a valid value (field %s)", f.Mode, name)
		}
		nf := *f
		nf.Type = typ
		nf.Mode = mode
		nf.Fields = nil
		if typ == tRecord {
			if len(f.Fields) == 0 {
				return nil, errInvalid("Field %s is type RECORD but has no schema", name)
			}
			sub, err := normalizeFields(f.Fields, name+".")
			if err != nil {
				return nil, err
			}
			nf.Fields = sub
		} else if len(f.Fields) > 0 {
			return nil, errInvalid("Field %s is type %s but has subfields", name, typ)
		}
		out = append(out, &nf)
	}
	return out, nil
}

func isRepeated(f *bq.TableFieldSchema) bool { return f.Mode == "REPEATED" }
func isRequired(f *bq.TableFieldSchema) bool { return f.Mode == "REQUIRED" }

// duckType is the DuckDB column type storing a BigQuery field.
func duckType(f *bq.TableFieldSchema) string {
	var t string
	switch f.Type {
	case tString:
		t = "VARCHAR"
	case tBytes:
		t = "BLOB"
	case tInteger:
		t = "BIGINT"
	case tFloat:
		t = "DOUBLE"
	case tNumeric, tBigNumeric:
		t = "DECIMAL(38,9)"
	case tBoolean:
		t = "BOOLEAN"
	case tTimestamp, tDatetime:
		// TIMESTAMP holds UTC wall time: the bundled DuckDB has no ICU, so
		// TIMESTAMPTZ would lose date_trunc, extract and friends.
		t = "TIMESTAMP"
	case tDate:
		t = "DATE"
	case tTime:
		t = "TIME"
	case tJSON:
		t = "JSON"
	case tRecord:
		parts := make([]string, len(f.Fields))
		for i, sf := range f.Fields {
			parts[i] = quoteIdent(sf.Name) + " " + duckType(sf)
		}
		t = "STRUCT(" + strings.Join(parts, ", ") + ")"
	default:
		t = "VARCHAR"
	}
	if isRepeated(f) {
		t += "[]"
	}
	return t
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// fieldFromDuckType maps a DuckDB result column type back to a BigQuery field.
func fieldFromDuckType(name, typ string) (*bq.TableFieldSchema, error) {
	p := &duckTypeParser{s: typ}
	f, err := p.parse()
	if err != nil {
		return nil, fmt.Errorf("mapping duckdb type %q of column %s: %w", typ, name, err)
	}
	f.Name = name
	return f, nil
}

type duckTypeParser struct {
	s   string
	pos int
}

func (p *duckTypeParser) skipSpace() {
	for p.pos < len(p.s) && p.s[p.pos] == ' ' {
		p.pos++
	}
}

func (p *duckTypeParser) ident() string {
	p.skipSpace()
	if p.pos < len(p.s) && p.s[p.pos] == '"' {
		var b strings.Builder
		p.pos++
		for p.pos < len(p.s) {
			c := p.s[p.pos]
			p.pos++
			if c == '"' {
				if p.pos < len(p.s) && p.s[p.pos] == '"' {
					b.WriteByte('"')
					p.pos++
					continue
				}
				break
			}
			b.WriteByte(c)
		}
		return b.String()
	}
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == ' ' || c == '(' || c == ')' || c == ',' || c == '[' {
			break
		}
		p.pos++
	}
	return p.s[start:p.pos]
}

func (p *duckTypeParser) parse() (*bq.TableFieldSchema, error) {
	base := strings.ToUpper(p.ident())
	// Multi-word names.
	for _, w := range []string{"WITH TIME ZONE", "PRECISION"} {
		p.skipSpace()
		if strings.HasPrefix(strings.ToUpper(p.s[p.pos:]), w) {
			base += " " + w
			p.pos += len(w)
		}
	}
	f := &bq.TableFieldSchema{Mode: "NULLABLE"}
	switch base {
	case "STRUCT":
		p.skipSpace()
		if p.pos >= len(p.s) || p.s[p.pos] != '(' {
			return nil, fmt.Errorf("malformed struct type")
		}
		p.pos++
		for {
			name := p.ident()
			sub, err := p.parse()
			if err != nil {
				return nil, err
			}
			sub.Name = name
			f.Fields = append(f.Fields, sub)
			p.skipSpace()
			if p.pos >= len(p.s) {
				return nil, fmt.Errorf("unterminated struct type")
			}
			if p.s[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.s[p.pos] == ')' {
				p.pos++
				break
			}
			return nil, fmt.Errorf("malformed struct type")
		}
		f.Type = tRecord
	case "DECIMAL", "NUMERIC":
		p.skipArgs()
		f.Type = tNumeric
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "INT", "INT1", "INT2", "INT4", "INT8", `"NULL"`, "NULL":
		f.Type = tInteger
	case "FLOAT", "DOUBLE", "REAL", "DOUBLE PRECISION":
		f.Type = tFloat
	case "BOOLEAN", "BOOL":
		f.Type = tBoolean
	case "VARCHAR", "UUID", "INTERVAL", "BIT", "ENUM", "TEXT", "STRING":
		p.skipArgs()
		f.Type = tString
	case "BLOB", "BYTEA":
		f.Type = tBytes
	case "DATE":
		f.Type = tDate
	case "TIME", "TIMETZ", "TIME WITH TIME ZONE":
		f.Type = tTime
	case "TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATETIME":
		f.Type = tTimestamp
	case "JSON":
		f.Type = tJSON
	default:
		// MAP, UNION and other DuckDB-only types surface as JSON-ish strings.
		p.skipArgs()
		f.Type = tString
	}
	p.skipSpace()
	depth := 0
	for p.pos+1 < len(p.s) && p.s[p.pos] == '[' && p.s[p.pos+1] == ']' {
		p.pos += 2
		depth++
	}
	if depth > 0 {
		if depth > 1 {
			// BigQuery has no arrays of arrays; the value is rendered as JSON text.
			return &bq.TableFieldSchema{Type: tJSON, Mode: "NULLABLE"}, nil
		}
		f.Mode = "REPEATED"
	}
	return f, nil
}

func (p *duckTypeParser) skipArgs() {
	p.skipSpace()
	if p.pos < len(p.s) && p.s[p.pos] == '(' {
		depth := 0
		for p.pos < len(p.s) {
			c := p.s[p.pos]
			p.pos++
			if c == '(' {
				depth++
			} else if c == ')' {
				depth--
				if depth == 0 {
					return
				}
			}
		}
	}
}
