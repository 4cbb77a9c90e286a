package bqemulator

import (
	"fmt"
	"strings"
)

// unsupportedFunctions have no faithful DuckDB equivalent here.
var unsupportedFunctions = map[string]bool{
	"APPROX_QUANTILES": true, "APPROX_TOP_COUNT": true, "APPROX_TOP_SUM": true, "FARM_FINGERPRINT": true,
	"ST_GEOGPOINT": true, "ST_DISTANCE": true, "ML": true, "KEYS": true, "AEAD": true, "HLL_COUNT": true,
	"NET": true, "SESSION_USER": true, "ERROR": true, "EXTERNAL_QUERY": true, "RANGE_BUCKET": true,
}

// call translates one function call given its argument tokens.
func (tr *translator) call(name string, argToks []token) (string, error) {
	up := strings.ToUpper(name)
	if unsupportedFunctions[up] {
		return "", errUnsupported("Function " + up)
	}
	raw := splitArgs(argToks)
	args := func() ([]string, error) {
		out := make([]string, len(raw))
		for i, a := range raw {
			s, err := tr.level(a)
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	}
	need := func(n ...int) error {
		for _, k := range n {
			if len(raw) == k {
				return nil
			}
		}
		return errInvalidQuery("No matching signature for function %s for %d arguments", up, len(raw))
	}
	switch up {
	case "CAST", "SAFE_CAST":
		return tr.cast(up, argToks)
	case "EXTRACT":
		return tr.extract(argToks)
	case "ARRAY_AGG":
		return tr.arrayAgg(argToks)
	case "STRUCT":
		return tr.structCtor(raw)
	case "CURRENT_TIMESTAMP", "CURRENT_DATETIME":
		return tr.nowLiteral(), nil
	case "CURRENT_DATE":
		return "DATE '" + tr.opts.now.Format("2006-01-02") + "'", nil
	case "CURRENT_TIME":
		return "TIME '" + tr.opts.now.Format("15:04:05.999999") + "'", nil
	}
	a, err := args()
	if err != nil {
		return "", err
	}
	switch up {
	case "COUNTIF":
		return "count_if(" + strings.Join(a, ", ") + ")", nil
	case "TIMESTAMP_ADD", "DATETIME_ADD", "TIME_ADD":
		if err := need(2); err != nil {
			return "", err
		}
		return "(" + a[0] + " + " + a[1] + ")", nil
	case "TIMESTAMP_SUB", "DATETIME_SUB", "TIME_SUB":
		if err := need(2); err != nil {
			return "", err
		}
		return "(" + a[0] + " - " + a[1] + ")", nil
	case "DATE_ADD":
		if err := need(2); err != nil {
			return "", err
		}
		return "CAST((" + a[0] + " + " + a[1] + ") AS DATE)", nil
	case "DATE_SUB":
		if err := need(2); err != nil {
			return "", err
		}
		return "CAST((" + a[0] + " - " + a[1] + ") AS DATE)", nil
	case "TIMESTAMP_TRUNC", "DATETIME_TRUNC", "DATE_TRUNC", "TIME_TRUNC":
		if err := need(2, 3); err != nil {
			return "", err
		}
		if len(a) == 3 {
			if err := requireUTC(raw[2]); err != nil {
				return "", err
			}
		}
		unit, err := datePart(raw[1])
		if err != nil {
			return "", err
		}
		expr := truncExpr(unit, a[0])
		switch up {
		case "DATE_TRUNC":
			return "CAST(" + expr + " AS DATE)", nil
		case "TIME_TRUNC":
			return "CAST(date_trunc('" + strings.ToLower(unit) + "', TIMESTAMP '1970-01-01' + " + a[0] + ") AS TIME)", nil
		}
		return expr, nil
	case "TIMESTAMP_DIFF", "DATETIME_DIFF", "TIME_DIFF":
		if err := need(3); err != nil {
			return "", err
		}
		unit, err := datePart(raw[2])
		if err != nil {
			return "", err
		}
		if up == "TIME_DIFF" {
			return fmt.Sprintf("date_sub('%s', TIMESTAMP '1970-01-01' + %s, TIMESTAMP '1970-01-01' + %s)", diffUnit(unit), a[1], a[0]), nil
		}
		// BigQuery counts whole elapsed units, which is DuckDB's date_sub.
		return fmt.Sprintf("date_sub('%s', %s, %s)", diffUnit(unit), a[1], a[0]), nil
	case "DATE_DIFF":
		if err := need(3); err != nil {
			return "", err
		}
		unit, err := datePart(raw[2])
		if err != nil {
			return "", err
		}
		// For dates BigQuery counts unit boundaries crossed, which is DuckDB's date_diff.
		return fmt.Sprintf("date_diff('%s', CAST(%s AS DATE), CAST(%s AS DATE))", diffUnit(unit), a[1], a[0]), nil
	case "DATE":
		switch len(a) {
		case 1:
			return "CAST(" + a[0] + " AS DATE)", nil
		case 2:
			if err := requireUTC(raw[1]); err != nil {
				return "", err
			}
			return "CAST(" + a[0] + " AS DATE)", nil
		case 3:
			return "make_date(" + strings.Join(a, ", ") + ")", nil
		}
		return "", need(1, 2, 3)
	case "TIMESTAMP":
		if err := need(1, 2); err != nil {
			return "", err
		}
		if len(a) == 2 {
			if err := requireUTC(raw[1]); err != nil {
				return "", err
			}
		}
		if len(raw[0]) == 1 && raw[0][0].kind == tkString {
			return typedLiteral("TIMESTAMP", raw[0][0].text)
		}
		return "CAST(" + a[0] + " AS TIMESTAMP)", nil
	case "DATETIME":
		switch len(a) {
		case 1:
			return "CAST(" + a[0] + " AS TIMESTAMP)", nil
		case 2:
			return "(CAST(" + a[0] + " AS DATE) + CAST(" + a[1] + " AS TIME))", nil
		case 6:
			return "make_timestamp(" + strings.Join(a, ", ") + ")", nil
		}
		return "", need(1, 2, 6)
	case "TIME":
		switch len(a) {
		case 1:
			return "CAST(" + a[0] + " AS TIME)", nil
		case 3:
			return "make_time(" + strings.Join(a, ", ") + ")", nil
		}
		return "", need(1, 3)
	case "FORMAT_TIMESTAMP", "FORMAT_DATETIME", "FORMAT_DATE", "FORMAT_TIME":
		if err := need(2, 3); err != nil {
			return "", err
		}
		if len(a) == 3 {
			if err := requireUTC(raw[2]); err != nil {
				return "", err
			}
		}
		f, err := tr.formatArg(raw[0], a[0])
		if err != nil {
			return "", err
		}
		v := a[1]
		if up == "FORMAT_TIME" {
			v = "(TIMESTAMP '1970-01-01' + " + v + ")"
		}
		return "strftime(" + v + ", " + f + ")", nil
	case "PARSE_TIMESTAMP", "PARSE_DATETIME", "PARSE_DATE":
		if err := need(2, 3); err != nil {
			return "", err
		}
		f, err := tr.formatArg(raw[0], a[0])
		if err != nil {
			return "", err
		}
		expr := "strptime(" + a[1] + ", " + f + ")"
		if up == "PARSE_DATE" {
			return "CAST(" + expr + " AS DATE)", nil
		}
		return expr, nil
	case "UNIX_SECONDS":
		return "CAST(floor(epoch_us(" + a[0] + ") / 1000000) AS BIGINT)", nil
	case "UNIX_MILLIS":
		return "CAST(floor(epoch_us(" + a[0] + ") / 1000) AS BIGINT)", nil
	case "UNIX_MICROS":
		return "epoch_us(" + a[0] + ")", nil
	case "UNIX_DATE":
		return "date_diff('day', DATE '1970-01-01', " + a[0] + ")", nil
	case "TIMESTAMP_SECONDS":
		return "make_timestamp(CAST(" + a[0] + " AS BIGINT) * 1000000)", nil
	case "TIMESTAMP_MILLIS":
		return "make_timestamp(CAST(" + a[0] + " AS BIGINT) * 1000)", nil
	case "TIMESTAMP_MICROS":
		return "make_timestamp(CAST(" + a[0] + " AS BIGINT))", nil
	case "REGEXP_CONTAINS":
		if err := need(2); err != nil {
			return "", err
		}
		return "regexp_matches(" + a[0] + ", " + a[1] + ")", nil
	case "REGEXP_EXTRACT", "REGEXP_SUBSTR":
		if err := need(2); err != nil {
			return "", err
		}
		g := regexGroup(raw[1])
		return fmt.Sprintf("(CASE WHEN regexp_matches(%s, %s) THEN regexp_extract(%s, %s, %d) END)", a[0], a[1], a[0], a[1], g), nil
	case "REGEXP_EXTRACT_ALL":
		if err := need(2); err != nil {
			return "", err
		}
		return fmt.Sprintf("regexp_extract_all(%s, %s, %d)", a[0], a[1], regexGroup(raw[1])), nil
	case "REGEXP_REPLACE":
		if err := need(3); err != nil {
			return "", err
		}
		return "regexp_replace(" + a[0] + ", " + a[1] + ", " + a[2] + ", 'g')", nil
	case "SAFE_DIVIDE":
		if err := need(2); err != nil {
			return "", err
		}
		return "(CASE WHEN (" + a[1] + ") = 0 THEN NULL ELSE (" + a[0] + ") / (" + a[1] + ") END)", nil
	case "DIV":
		if err := need(2); err != nil {
			return "", err
		}
		return "((" + a[0] + ") // (" + a[1] + "))", nil
	case "ARRAY_LENGTH":
		return "len(" + strings.Join(a, ", ") + ")", nil
	case "ARRAY_CONCAT":
		if len(a) == 0 {
			return "", need(1)
		}
		expr := a[0]
		for _, x := range a[1:] {
			expr = "list_concat(" + expr + ", " + x + ")"
		}
		return expr, nil
	case "ARRAY_REVERSE":
		return "list_reverse(" + strings.Join(a, ", ") + ")", nil
	case "SPLIT":
		if len(a) == 1 {
			a = append(a, "','")
		}
		return "string_split(" + strings.Join(a, ", ") + ")", nil
	case "GENERATE_ARRAY":
		return "generate_series(" + strings.Join(a, ", ") + ")", nil
	case "GENERATE_UUID":
		return "CAST(uuid() AS VARCHAR)", nil
	case "LOGICAL_OR":
		return "bool_or(" + strings.Join(a, ", ") + ")", nil
	case "LOGICAL_AND":
		return "bool_and(" + strings.Join(a, ", ") + ")", nil
	case "JSON_VALUE", "JSON_EXTRACT_SCALAR":
		if len(a) == 1 {
			a = append(a, "'$'")
		}
		return "json_extract_string(" + strings.Join(a, ", ") + ")", nil
	case "JSON_QUERY", "JSON_EXTRACT":
		if len(a) == 1 {
			a = append(a, "'$'")
		}
		return "json_extract(" + strings.Join(a, ", ") + ")", nil
	case "TO_JSON_STRING":
		return "CAST(to_json(" + a[0] + ") AS VARCHAR)", nil
	case "PARSE_JSON":
		return "CAST(" + a[0] + " AS JSON)", nil
	case "BYTE_LENGTH":
		// GoogleSQL takes STRING (its UTF-8 bytes) or BYTES; DuckDB's octet_length takes only
		// BLOB, and a VARCHAR cast to BLOB reads "\\x.." escapes, so strings go through strlen.
		return "(CASE WHEN typeof(" + a[0] + ") = 'BLOB' THEN octet_length((" + a[0] + ")::BLOB) ELSE strlen((" + a[0] + ")::VARCHAR) END)", nil
	case "CHAR_LENGTH", "CHARACTER_LENGTH":
		return "length(" + a[0] + ")", nil
	case "TO_HEX":
		return "lower(hex(" + a[0] + "))", nil
	case "CONTAINS_SUBSTR":
		return "contains(lower(CAST(" + a[0] + " AS VARCHAR)), lower(" + a[1] + "))", nil
	case "IFNULL", "IF", "COALESCE", "NULLIF":
		return strings.ToLower(up) + "(" + strings.Join(a, ", ") + ")", nil
	}
	return name + "(" + strings.Join(a, ", ") + ")", nil
}

// requireUTC rejects time zone arguments other than UTC (the translation keeps every timestamp in UTC).
func requireUTC(arg []token) error {
	if len(arg) == 1 && arg[0].kind == tkString {
		switch strings.ToUpper(arg[0].text) {
		case "UTC", "ETC/UTC", "Z", "+00", "+00:00", "GMT":
			return nil
		}
	}
	return errUnsupported("Time zones other than 'UTC'")
}

// datePart reads a date part argument such as HOUR or WEEK(MONDAY).
func datePart(arg []token) (string, error) {
	if len(arg) == 0 || arg[0].kind != tkIdent {
		return "", errInvalidQuery("A valid date part name is required")
	}
	up := strings.ToUpper(arg[0].text)
	if up == "WEEK" && len(arg) > 1 {
		for _, t := range arg {
			if t.is("MONDAY") {
				return "ISOWEEK", nil
			}
		}
		for _, t := range arg {
			if t.is("SUNDAY") {
				return "WEEK", nil
			}
		}
		return "", errUnsupported("WEEK(<weekday>) other than SUNDAY or MONDAY")
	}
	switch up {
	case "MICROSECOND", "MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "ISOWEEK", "MONTH", "QUARTER", "YEAR", "ISOYEAR":
		return up, nil
	}
	return "", errInvalidQuery("A valid date part name is required but found %s", arg[0].text)
}

// truncExpr truncates to a date part; BigQuery weeks start on Sunday, DuckDB's on Monday.
func truncExpr(unit, expr string) string {
	switch unit {
	case "WEEK":
		return "(date_trunc('week', (" + expr + ") + INTERVAL 1 DAY) - INTERVAL 1 DAY)"
	case "ISOWEEK":
		return "date_trunc('week', " + expr + ")"
	case "ISOYEAR":
		return "date_trunc('isoyear', " + expr + ")"
	}
	return "date_trunc('" + strings.ToLower(unit) + "', " + expr + ")"
}

func diffUnit(unit string) string {
	switch unit {
	case "ISOWEEK", "WEEK":
		return "week"
	case "ISOYEAR":
		return "isoyear"
	}
	return strings.ToLower(unit)
}

// regexGroup is 1 when the pattern has a capturing group (BigQuery then returns it), else 0.
func regexGroup(arg []token) int {
	if len(arg) == 1 && arg[0].kind == tkString {
		p := arg[0].text
		for i := 0; i < len(p); i++ {
			if p[i] == '\\' {
				i++
				continue
			}
			if p[i] == '(' && !(i+1 < len(p) && p[i+1] == '?') {
				return 1
			}
		}
	}
	return 0
}

// formatArg translates a BigQuery format string (literal) into strftime's dialect.
func (tr *translator) formatArg(arg []token, translated string) (string, error) {
	if len(arg) != 1 || arg[0].kind != tkString {
		return translated, nil
	}
	f := arg[0].text
	r := strings.NewReplacer(
		"%F", "%Y-%m-%d", "%T", "%H:%M:%S", "%E6S", "%S.%f", "%E3S", "%S.%g", "%E*S", "%S.%f",
		"%Ez", "+00:00", "%Z", "UTC", "%z", "+0000", "%E4Y", "%Y", "%R", "%H:%M", "%D", "%m/%d/%y",
		"%k", "%-H", "%l", "%-I", "%e", "%-d", "%s", "%s",
	)
	return quoteString(r.Replace(f)), nil
}

// cast translates CAST/SAFE_CAST(expr AS type).
func (tr *translator) cast(up string, toks []token) (string, error) {
	asIdx := -1
	depth := 0
	for i, t := range toks {
		if t.punct("(") || t.punct("[") {
			depth++
		} else if t.punct(")") || t.punct("]") {
			depth--
		} else if depth == 0 && t.is("AS") {
			asIdx = i
		}
	}
	if asIdx < 0 {
		return "", errInvalidQuery("Syntax error: Expected AS in %s", up)
	}
	typeToks := trimTokens(toks[asIdx+1:])
	for _, t := range typeToks {
		if t.is("FORMAT") {
			return "", errUnsupported("CAST ... FORMAT")
		}
	}
	typ, err := sqlType(typeToks)
	if err != nil {
		return "", err
	}
	expr, err := tr.level(trimTokens(toks[:asIdx]))
	if err != nil {
		return "", err
	}
	fn := "CAST"
	if up == "SAFE_CAST" {
		fn = "TRY_CAST"
	}
	return fn + "(" + expr + " AS " + typ + ")", nil
}

// sqlType maps a BigQuery type expression (INT64, ARRAY<STRING>, STRUCT<a INT64>) to DuckDB.
func sqlType(toks []token) (string, error) {
	var sig []token
	for _, t := range toks {
		if t.kind == tkSpace {
			continue
		}
		if t.punct(">>") {
			sig = append(sig, token{tkPunct, ">"}, token{tkPunct, ">"})
			continue
		}
		sig = append(sig, t)
	}
	typ, rest, err := parseSQLType(sig)
	if err != nil {
		return "", err
	}
	if len(rest) != 0 {
		return "", errInvalidQuery("Syntax error: unexpected %q in type", rest[0].text)
	}
	return typ, nil
}

func parseSQLType(t []token) (string, []token, error) {
	if len(t) == 0 || (t[0].kind != tkIdent && t[0].kind != tkQuoted) {
		return "", nil, errInvalidQuery("Syntax error: expected a type name")
	}
	up := strings.ToUpper(t[0].text)
	rest := t[1:]
	skipParams := func() {
		if len(rest) > 0 && rest[0].punct("(") {
			for i, x := range rest {
				if x.punct(")") {
					rest = rest[i+1:]
					return
				}
			}
		}
	}
	switch up {
	case "INT64", "INTEGER", "INT", "SMALLINT", "BIGINT", "TINYINT", "BYTEINT":
		return "BIGINT", rest, nil
	case "FLOAT64", "FLOAT", "DOUBLE":
		return "DOUBLE", rest, nil
	case "NUMERIC", "DECIMAL", "BIGNUMERIC", "BIGDECIMAL":
		skipParams()
		return "DECIMAL(38,9)", rest, nil
	case "BOOL", "BOOLEAN":
		return "BOOLEAN", rest, nil
	case "STRING":
		skipParams()
		return "VARCHAR", rest, nil
	case "BYTES":
		skipParams()
		return "BLOB", rest, nil
	case "TIMESTAMP", "DATETIME":
		return "TIMESTAMP", rest, nil
	case "DATE", "TIME", "JSON":
		return up, rest, nil
	case "ARRAY":
		if len(rest) == 0 || !rest[0].punct("<") {
			return "", nil, errInvalidQuery("Syntax error: ARRAY needs <type>")
		}
		inner, r, err := parseSQLType(rest[1:])
		if err != nil {
			return "", nil, err
		}
		if len(r) == 0 || !r[0].punct(">") {
			return "", nil, errInvalidQuery("Syntax error: expected > after ARRAY<type")
		}
		return inner + "[]", r[1:], nil
	case "STRUCT":
		if len(rest) == 0 || !rest[0].punct("<") {
			return "", nil, errInvalidQuery("Syntax error: STRUCT needs <fields>")
		}
		rest = rest[1:]
		var fields []string
		for {
			if len(rest) < 2 {
				return "", nil, errInvalidQuery("Syntax error: malformed STRUCT type")
			}
			name := rest[0].text
			ft, r, err := parseSQLType(rest[1:])
			if err != nil {
				return "", nil, err
			}
			fields = append(fields, quoteIdent(name)+" "+ft)
			rest = r
			if len(rest) > 0 && rest[0].punct(",") {
				rest = rest[1:]
				continue
			}
			if len(rest) > 0 && rest[0].punct(">") {
				return "STRUCT(" + strings.Join(fields, ", ") + ")", rest[1:], nil
			}
			return "", nil, errInvalidQuery("Syntax error: malformed STRUCT type")
		}
	}
	return "", nil, errInvalidQuery("Type not found: %s", t[0].text)
}

// extract translates EXTRACT(part FROM expr).
func (tr *translator) extract(toks []token) (string, error) {
	toks = trimTokens(toks)
	fromIdx := -1
	for i, t := range toks {
		if t.is("FROM") {
			fromIdx = i
			break
		}
	}
	if fromIdx < 0 || len(toks) == 0 {
		return "", errInvalidQuery("Syntax error: Expected FROM in EXTRACT")
	}
	rest := toks[fromIdx+1:]
	for i, t := range rest {
		if t.is("AT") {
			if err := requireUTC(trimTokens(rest[i+5:])); err != nil {
				return "", err
			}
			rest = rest[:i]
			break
		}
	}
	expr, err := tr.level(trimTokens(rest))
	if err != nil {
		return "", err
	}
	part := strings.ToUpper(toks[0].text)
	switch part {
	case "DAYOFWEEK":
		return "(dayofweek(" + expr + ") + 1)", nil
	case "DAYOFYEAR":
		return "dayofyear(" + expr + ")", nil
	case "DATE":
		return "CAST(" + expr + " AS DATE)", nil
	case "TIME":
		return "CAST(" + expr + " AS TIME)", nil
	case "DATETIME":
		return "CAST(" + expr + " AS TIMESTAMP)", nil
	case "ISOWEEK":
		return "week(" + expr + ")", nil
	case "ISOYEAR":
		return "isoyear(" + expr + ")", nil
	case "WEEK":
		// BigQuery's WEEK counts Sunday-started weeks; the first partial week is 0.
		return "CAST(floor((dayofyear(" + expr + ") - 1 + dayofweek(date_trunc('year', " + expr + "))) / 7) AS BIGINT)", nil
	case "MICROSECOND", "MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY", "MONTH", "QUARTER", "YEAR":
		return "EXTRACT(" + strings.ToLower(part) + " FROM " + expr + ")", nil
	}
	return "", errInvalidQuery("A valid date part name is required but found %s", toks[0].text)
}

// arrayAgg translates ARRAY_AGG([DISTINCT] x [IGNORE NULLS] [ORDER BY ...] [LIMIT n]).
func (tr *translator) arrayAgg(toks []token) (string, error) {
	toks = trimTokens(toks)
	ignoreNulls := false
	limit := ""
	var body []token
	depth := 0
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.punct("(") || t.punct("[") {
			depth++
		} else if t.punct(")") || t.punct("]") {
			depth--
		}
		if depth == 0 && t.is("IGNORE") {
			j := nextSig(toks, i+1)
			if j < len(toks) && toks[j].is("NULLS") {
				ignoreNulls = true
				i = j
				continue
			}
		}
		if depth == 0 && t.is("RESPECT") {
			j := nextSig(toks, i+1)
			if j < len(toks) && toks[j].is("NULLS") {
				i = j
				continue
			}
		}
		if depth == 0 && t.is("LIMIT") {
			s, err := tr.level(trimTokens(toks[i+1:]))
			if err != nil {
				return "", err
			}
			limit = s
			break
		}
		body = append(body, t)
	}
	// The value is everything before a top-level ORDER BY or end.
	valEnd := len(body)
	depth = 0
	for i, t := range body {
		if t.punct("(") || t.punct("[") {
			depth++
		} else if t.punct(")") || t.punct("]") {
			depth--
		} else if depth == 0 && t.is("ORDER") {
			valEnd = i
			break
		}
	}
	inner, err := tr.level(trimTokens(body))
	if err != nil {
		return "", err
	}
	expr := "array_agg(" + inner + ")"
	if ignoreNulls {
		val := trimTokens(body[:valEnd])
		if len(val) > 0 && val[0].is("DISTINCT") {
			val = trimTokens(val[1:])
		}
		v, err := tr.level(val)
		if err != nil {
			return "", err
		}
		expr += " FILTER (WHERE (" + v + ") IS NOT NULL)"
	}
	if limit != "" {
		expr = "list_slice(" + expr + ", 1, " + limit + ")"
	}
	return expr, nil
}

// structCtor translates STRUCT(x AS a, y) into struct_pack.
func (tr *translator) structCtor(raw [][]token) (string, error) {
	var parts []string
	for i, arg := range raw {
		name := fmt.Sprintf("_field_%d", i+1)
		val := arg
		if n := len(arg); n >= 3 && arg[n-2].kind == tkSpace && n >= 4 && arg[n-3].is("AS") {
			name = arg[n-1].text
			val = trimTokens(arg[:n-3])
		} else if parts, next := readChain(arg, 0); len(arg) > 0 && next == len(arg) && len(parts) > 0 {
			name = parts[len(parts)-1]
		}
		s, err := tr.level(val)
		if err != nil {
			return "", err
		}
		parts = append(parts, quoteIdent(name)+" := "+s)
	}
	return "struct_pack(" + strings.Join(parts, ", ") + ")", nil
}
