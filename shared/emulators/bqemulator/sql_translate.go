package bqemulator

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// translateOptions carries the context a BigQuery query is translated in.
type translateOptions struct {
	defaultProject string
	defaultDataset string
	params         []queryParam
	forView        bool
	now            time.Time
}

// translation is a query rewritten for DuckDB.
type translation struct {
	sql           string
	statementType string
}

// translator rewrites BigQuery Standard SQL tokens into DuckDB SQL.
type translator struct {
	s          *Server
	opts       translateOptions
	ctes       map[string]bool
	positional int
	unnestN    int
}

// translate rewrites a BigQuery Standard SQL statement into DuckDB SQL.
func (s *Server) translate(query string, opts translateOptions) (*translation, error) {
	if opts.now.IsZero() {
		opts.now = s.now()
	}
	if opts.defaultProject == "" {
		opts.defaultProject = s.cfg.project
	}
	toks, err := lex(query)
	if err != nil {
		return nil, err
	}
	toks = trimTokens(toks)
	for len(toks) > 0 && toks[len(toks)-1].punct(";") {
		toks = trimTokens(toks[:len(toks)-1])
	}
	if len(toks) == 0 {
		return nil, errInvalidQuery("Syntax error: Unexpected end of statement")
	}
	for _, t := range toks {
		if t.punct(";") {
			return nil, errUnsupported("Multi-statement queries (scripts)")
		}
	}
	first := strings.ToUpper(toks[0].text)
	stmt := "SELECT"
	switch {
	case toks[0].kind == tkIdent && (first == "SELECT" || first == "WITH"), toks[0].punct("("):
	case toks[0].kind == tkIdent:
		switch first {
		case "INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE":
			return nil, errUnsupported("DML statement " + first)
		default:
			return nil, errUnsupported("Statement " + first)
		}
	default:
		return nil, errInvalidQuery("Syntax error: Unexpected %q", toks[0].text)
	}
	tr := &translator{s: s, opts: opts, ctes: collectCTEs(toks)}
	sql, err := tr.level(toks)
	if err != nil {
		return nil, err
	}
	if tr.positional != countPositional(opts.params) {
		if tr.positional > countPositional(opts.params) {
			return nil, errInvalidQuery("Query has %d positional parameters but %d were provided", tr.positional, countPositional(opts.params))
		}
	}
	return &translation{sql: sql, statementType: stmt}, nil
}

func countPositional(ps []queryParam) int {
	n := 0
	for _, p := range ps {
		if p.name == "" {
			n++
		}
	}
	return n
}

func trimTokens(toks []token) []token {
	for len(toks) > 0 && toks[0].kind == tkSpace {
		toks = toks[1:]
	}
	for len(toks) > 0 && toks[len(toks)-1].kind == tkSpace {
		toks = toks[:len(toks)-1]
	}
	return toks
}

// collectCTEs finds WITH-clause names so they are not mistaken for tables.
func collectCTEs(toks []token) map[string]bool {
	ctes := map[string]bool{}
	prev := token{}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind == tkSpace {
			continue
		}
		if (t.kind == tkIdent || t.kind == tkQuoted) && (prev.is("WITH") || prev.is("RECURSIVE") || prev.punct(",")) {
			j := nextSig(toks, i+1)
			if j < len(toks) && toks[j].is("AS") {
				k := nextSig(toks, j+1)
				if k < len(toks) && toks[k].punct("(") {
					ctes[strings.ToLower(t.text)] = true
				}
			}
		}
		prev = t
	}
	return ctes
}

// nextSig returns the index of the next non-space token at or after i.
func nextSig(toks []token, i int) int {
	for i < len(toks) && toks[i].kind == tkSpace {
		i++
	}
	return i
}

// matching returns the index of the bracket closing the one at i.
func matching(toks []token, i int) (int, error) {
	open, close := toks[i].text, map[string]string{"(": ")", "[": "]"}[toks[i].text]
	depth := 0
	for j := i; j < len(toks); j++ {
		if toks[j].kind != tkPunct {
			continue
		}
		switch toks[j].text {
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				return j, nil
			}
		}
	}
	return 0, errInvalidQuery("Syntax error: Unbalanced %q", open)
}

// splitArgs splits tokens on top-level commas.
func splitArgs(toks []token) [][]token {
	var args [][]token
	depth, start := 0, 0
	for i, t := range toks {
		if t.kind != tkPunct {
			continue
		}
		switch t.text {
		case "(", "[":
			depth++
		case ")", "]":
			depth--
		case ",":
			if depth == 0 {
				args = append(args, trimTokens(toks[start:i]))
				start = i + 1
			}
		}
	}
	if rest := trimTokens(toks[start:]); len(rest) > 0 || len(args) > 0 {
		args = append(args, rest)
	}
	return args
}

var clauseKeywords = map[string]bool{
	"WHERE": true, "GROUP": true, "HAVING": true, "QUALIFY": true, "ORDER": true, "LIMIT": true,
	"WINDOW": true, "SELECT": true, "UNION": true, "INTERSECT": true, "ON": true, "USING": true, "OFFSET": true,
}

var unsupportedKeywords = map[string]string{
	"PIVOT":       "PIVOT",
	"UNPIVOT":     "UNPIVOT",
	"TABLESAMPLE": "TABLESAMPLE",
	"SYSTEM_TIME": "FOR SYSTEM_TIME AS OF (time travel)",
	"MERGE":       "MERGE",
}

// level translates one bracket level of tokens; nested groups recurse.
func (tr *translator) level(toks []token) (string, error) {
	var out strings.Builder
	inFrom := false
	expectTable := false
	afterFrom := false
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.kind == tkSpace {
			out.WriteByte(' ')
			continue
		}
		if expectTable {
			expectTable = false
			next, s, err := tr.tableExpr(toks, i, afterFrom)
			if err != nil {
				return "", err
			}
			out.WriteString(s)
			i = next - 1
			continue
		}
		switch t.kind {
		case tkIdent:
			up := strings.ToUpper(t.text)
			if what, ok := unsupportedKeywords[up]; ok {
				return "", errUnsupported(what)
			}
			switch up {
			case "FROM":
				inFrom = true
				expectTable = true
				afterFrom = true
				out.WriteString(t.text)
				continue
			case "JOIN":
				inFrom = true
				expectTable = true
				afterFrom = false
				out.WriteString(t.text)
				continue
			case "EXCEPT":
				// A set operation (EXCEPT DISTINCT); "* EXCEPT (...)" is handled at "*".
				inFrom = false
				out.WriteString(t.text)
				continue
			case "SELECT":
				inFrom = false
				j := nextSig(toks, i+1)
				if j < len(toks) && toks[j].is("AS") {
					return "", errUnsupported("SELECT AS STRUCT / SELECT AS VALUE")
				}
				out.WriteString(t.text)
				continue
			case "IN":
				j := nextSig(toks, i+1)
				if j < len(toks) && toks[j].is("UNNEST") {
					k := nextSig(toks, j+1)
					if k < len(toks) && toks[k].punct("(") {
						end, err := matching(toks, k)
						if err != nil {
							return "", err
						}
						inner, err := tr.level(toks[k+1 : end])
						if err != nil {
							return "", err
						}
						out.WriteString("IN (SELECT UNNEST(" + inner + "))")
						i = end
						continue
					}
				}
				out.WriteString(t.text)
				continue
			case "INTERVAL":
				next, s, err := tr.interval(toks, i)
				if err != nil {
					return "", err
				}
				out.WriteString(s)
				i = next - 1
				continue
			case "WITH":
				j := nextSig(toks, i+1)
				if j < len(toks) && toks[j].is("OFFSET") {
					return "", errUnsupported("UNNEST ... WITH OFFSET")
				}
			}
			if clauseKeywords[up] {
				inFrom = false
			}
			next, s, err := tr.identExpr(toks, i)
			if err != nil {
				return "", err
			}
			out.WriteString(s)
			i = next - 1
		case tkQuoted:
			next, s, err := tr.identExpr(toks, i)
			if err != nil {
				return "", err
			}
			out.WriteString(s)
			i = next - 1
		case tkString:
			out.WriteString(quoteString(t.text))
		case tkBytes:
			out.WriteString(bytesLiteral([]byte(t.text)))
		case tkNumber:
			out.WriteString(t.text)
		case tkParam:
			lit, err := tr.namedParam(t.text)
			if err != nil {
				return "", err
			}
			out.WriteString(lit)
		case tkPositional:
			lit, err := tr.positionalParam()
			if err != nil {
				return "", err
			}
			out.WriteString(lit)
		case tkSysVar:
			return "", errUnsupported("System variable @@" + t.text)
		case tkPunct:
			switch t.text {
			case "(":
				end, err := matching(toks, i)
				if err != nil {
					return "", err
				}
				inner, err := tr.level(toks[i+1 : end])
				if err != nil {
					return "", err
				}
				out.WriteString("(" + inner + ")")
				i = end
			case "[":
				end, err := matching(toks, i)
				if err != nil {
					return "", err
				}
				s, err := tr.bracket(toks, i, end, i > 0 && prevIsIdentLike(toks[:i]))
				if err != nil {
					return "", err
				}
				out.WriteString(s)
				i = end
			case "*":
				j := nextSig(toks, i+1)
				if j < len(toks) && toks[j].is("EXCEPT") {
					k := nextSig(toks, j+1)
					if k < len(toks) && toks[k].punct("(") {
						out.WriteString("* EXCLUDE ")
						i = k - 1
						continue
					}
				}
				out.WriteString("*")
			case ",":
				out.WriteString(",")
				if inFrom {
					expectTable = true
					afterFrom = false
				}
			case "=":
				// "==" is not BigQuery; a single "=" is fine.
				out.WriteString("=")
			default:
				out.WriteString(t.text)
			}
		}
	}
	return out.String(), nil
}

// bracket translates an array literal or a subscript (arr[OFFSET(i)] etc.).
func (tr *translator) bracket(toks []token, start, end int, subscript bool) (string, error) {
	inner := trimTokens(toks[start+1 : end])
	if !subscript {
		s, err := tr.level(inner)
		if err != nil {
			return "", err
		}
		return "[" + s + "]", nil
	}
	if len(inner) > 0 && inner[0].kind == tkIdent {
		up := strings.ToUpper(inner[0].text)
		j := nextSig(inner, 1)
		if j < len(inner) && inner[j].punct("(") {
			e, err := matching(inner, j)
			if err != nil {
				return "", err
			}
			idx, err := tr.level(inner[j+1 : e])
			if err != nil {
				return "", err
			}
			switch up {
			case "OFFSET", "SAFE_OFFSET":
				return "[(" + idx + ") + 1]", nil
			case "ORDINAL", "SAFE_ORDINAL":
				return "[" + idx + "]", nil
			}
		}
	}
	idx, err := tr.level(inner)
	if err != nil {
		return "", err
	}
	return "[(" + idx + ") + 1]", nil
}

var intervalUnits = map[string]bool{
	"MICROSECOND": true, "MILLISECOND": true, "SECOND": true, "MINUTE": true, "HOUR": true,
	"DAY": true, "WEEK": true, "MONTH": true, "QUARTER": true, "YEAR": true,
}

// interval rewrites INTERVAL <expr> <unit> so any expression (or inlined parameter) works in DuckDB.
func (tr *translator) interval(toks []token, i int) (int, string, error) {
	j := i + 1
	depth := 0
	for ; j < len(toks); j++ {
		t := toks[j]
		if t.punct("(") {
			depth++
		} else if t.punct(")") {
			if depth == 0 {
				break
			}
			depth--
		} else if depth == 0 && t.kind == tkIdent && intervalUnits[strings.ToUpper(t.text)] {
			break
		} else if depth == 0 && (t.punct(",")) {
			break
		}
	}
	if j >= len(toks) || !intervalUnits[strings.ToUpper(toks[j].text)] {
		return 0, "", errInvalidQuery("Syntax error: INTERVAL needs a date part such as DAY or HOUR")
	}
	expr, err := tr.level(trimTokens(toks[i+1 : j]))
	if err != nil {
		return 0, "", err
	}
	k := nextSig(toks, j+1)
	if k < len(toks) && toks[k].is("TO") {
		return 0, "", errUnsupported("INTERVAL ... TO ... ranges")
	}
	return j + 1, "(INTERVAL (" + expr + ") " + strings.ToUpper(toks[j].text) + ")", nil
}

// identExpr translates an identifier chain, a function call or a typed literal starting at i.
func (tr *translator) identExpr(toks []token, i int) (int, string, error) {
	parts, next := readChain(toks, i)
	j := nextSig(toks, next)
	if j < len(toks) && toks[j].punct("(") && len(parts) >= 1 && toks[i].kind == tkIdent {
		end, err := matching(toks, j)
		if err != nil {
			return 0, "", err
		}
		if len(parts) > 1 {
			return 0, "", errUnsupported("Function " + strings.Join(parts, ".") + " (prefixed functions such as SAFE. or NET.)")
		}
		s, err := tr.call(parts[0], toks[j+1:end])
		if err != nil {
			return 0, "", err
		}
		return end + 1, s, nil
	}
	if len(parts) == 1 && toks[i].kind == tkIdent {
		up := strings.ToUpper(parts[0])
		switch up {
		case "CURRENT_TIMESTAMP", "CURRENT_DATETIME":
			return next, tr.nowLiteral(), nil
		case "CURRENT_DATE":
			return next, "DATE '" + tr.opts.now.Format("2006-01-02") + "'", nil
		case "CURRENT_TIME":
			return next, "TIME '" + tr.opts.now.Format("15:04:05.999999") + "'", nil
		case "TIMESTAMP", "DATETIME", "DATE", "TIME", "NUMERIC", "BIGNUMERIC", "JSON":
			if j < len(toks) && toks[j].kind == tkString {
				s, err := typedLiteral(up, toks[j].text)
				return j + 1, s, err
			}
		case "ARRAY":
			if j < len(toks) && toks[j].punct("<") {
				// ARRAY<T>[...]: DuckDB infers the element type.
				k := j
				depth := 0
				for ; k < len(toks); k++ {
					if toks[k].punct("<") {
						depth++
					} else if toks[k].punct(">") {
						depth--
						if depth == 0 {
							break
						}
					} else if toks[k].punct(">>") {
						depth -= 2
						if depth <= 0 {
							break
						}
					}
				}
				return k + 1, "", nil
			}
		case "STRUCT":
			if j < len(toks) && toks[j].punct("<") {
				return 0, "", errUnsupported("Typed STRUCT<...>(...) constructors")
			}
		}
		return next, t2s(toks[i]), nil
	}
	// Backticked table paths outside FROM (rare) are resolved as tables.
	if toks[i].kind == tkQuoted && strings.Contains(toks[i].text, ".") && len(parts) >= 2 {
		name, err := tr.resolveTable(parts)
		if err == nil {
			return next, name, nil
		}
	}
	quoted := make([]string, len(parts))
	for k, p := range parts {
		quoted[k] = quoteIdentIfNeeded(p)
	}
	return next, strings.Join(quoted, "."), nil
}

func t2s(t token) string {
	if t.kind == tkQuoted {
		return quoteIdentIfNeeded(t.text)
	}
	return t.text
}

var plainIdentRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// quoteIdentIfNeeded keeps simple names bare so DuckDB matches them case-insensitively like BigQuery.
func quoteIdentIfNeeded(s string) string {
	if plainIdentRE.MatchString(s) && !duckReserved[strings.ToUpper(s)] {
		return s
	}
	return quoteIdent(s)
}

var duckReserved = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "GROUP": true, "ORDER": true, "BY": true, "LIMIT": true,
	"TABLE": true, "USER": true, "DEFAULT": true, "CHECK": true, "COLUMN": true, "ORDINALITY": true,
	"TIMESTAMP": true, "DATE": true, "TIME": true, "INTERVAL": true, "ARRAY": true, "STRUCT": true,
	"ALL": true, "ANY": true, "AS": true, "ASC": true, "DESC": true, "CASE": true, "END": true, "WHEN": true,
	"THEN": true, "ELSE": true, "AND": true, "OR": true, "NOT": true, "NULL": true, "TRUE": true, "FALSE": true,
	"JOIN": true, "ON": true, "IN": true, "IS": true, "WITH": true, "UNION": true, "EXCEPT": true, "INTERSECT": true,
}

// readChain reads ident(.ident)* starting at i, splitting backticked paths on dots.
func readChain(toks []token, i int) ([]string, int) {
	var parts []string
	j := i
	for j < len(toks) {
		t := toks[j]
		if t.kind == tkQuoted {
			if strings.Contains(t.text, ".") {
				parts = append(parts, strings.Split(t.text, ".")...)
			} else {
				parts = append(parts, t.text)
			}
		} else if t.kind == tkIdent {
			parts = append(parts, t.text)
		} else {
			break
		}
		j++
		if j+1 < len(toks) && toks[j].punct(".") && (toks[j+1].kind == tkIdent || toks[j+1].kind == tkQuoted) {
			j++
			continue
		}
		break
	}
	return parts, j
}

// tableExpr translates what follows FROM, JOIN or a comma in a FROM clause.
func (tr *translator) tableExpr(toks []token, i int, afterFrom bool) (int, string, error) {
	t := toks[i]
	switch {
	case t.is("UNNEST"):
		j := nextSig(toks, i+1)
		if j >= len(toks) || !toks[j].punct("(") {
			return 0, "", errInvalidQuery("Syntax error: UNNEST needs parentheses")
		}
		end, err := matching(toks, j)
		if err != nil {
			return 0, "", err
		}
		inner, err := tr.level(toks[j+1 : end])
		if err != nil {
			return 0, "", err
		}
		k := nextSig(toks, end+1)
		alias := ""
		next := end + 1
		if k < len(toks) && toks[k].is("AS") {
			k = nextSig(toks, k+1)
		}
		if k < len(toks) && (toks[k].kind == tkIdent && !isClauseWord(toks[k].text) || toks[k].kind == tkQuoted) {
			alias = toks[k].text
			next = k + 1
		}
		w := nextSig(toks, next)
		if w < len(toks) && toks[w].is("WITH") {
			o := nextSig(toks, w+1)
			if o < len(toks) && toks[o].is("OFFSET") {
				return 0, "", errUnsupported("UNNEST ... WITH OFFSET")
			}
		}
		if alias == "" {
			tr.unnestN++
			// BigQuery's unaliased UNNEST value column is anonymous; name it like a result column.
			return next, fmt.Sprintf("UNNEST(%s) AS _unnest%d(f0_)", inner, tr.unnestN), nil
		}
		a := quoteIdentIfNeeded(alias)
		// BigQuery's alias names the element itself; DuckDB needs it as the column alias too.
		return next, fmt.Sprintf("UNNEST(%s) AS %s(%s)", inner, a, a), nil
	case t.punct("("):
		end, err := matching(toks, i)
		if err != nil {
			return 0, "", err
		}
		inner, err := tr.level(toks[i+1 : end])
		if err != nil {
			return 0, "", err
		}
		return end + 1, "(" + inner + ")", nil
	case t.punct("["):
		return 0, "", errUnsupported("Legacy SQL table reference [project:dataset.table]; use Standard SQL `project.dataset.table`")
	case t.kind == tkIdent || t.kind == tkQuoted:
		parts, next := readChain(toks, i)
		j := nextSig(toks, next)
		if j < len(toks) && toks[j].punct("(") {
			return 0, "", errUnsupported("Table-valued function " + strings.Join(parts, "."))
		}
		if qualifier, view, ok := infoSchemaPath(parts); ok {
			s, err := tr.informationSchema(parts, qualifier, view)
			return next, s, err
		}
		if len(parts) == 1 && tr.ctes[strings.ToLower(parts[0])] {
			return next, quoteIdentIfNeeded(parts[0]), nil
		}
		if len(parts) == 2 && !afterFrom && !tr.s.cat.hasDataset(tr.opts.defaultProject, parts[0]) {
			// FROM t, t.repeated_field: BigQuery's implicit UNNEST of a correlated path.
			tr.unnestN++
			a := quoteIdentIfNeeded(parts[1])
			return next, fmt.Sprintf("UNNEST(%s.%s) AS %s(%s)", quoteIdentIfNeeded(parts[0]), a, a, a), nil
		}
		name, err := tr.resolveTable(parts)
		if err != nil {
			return 0, "", err
		}
		return next, name, nil
	}
	return 0, "", errInvalidQuery("Syntax error: Unexpected %q after FROM", t.text)
}

func isClauseWord(s string) bool {
	switch strings.ToUpper(s) {
	case "WHERE", "GROUP", "HAVING", "QUALIFY", "ORDER", "LIMIT", "WINDOW", "UNION", "INTERSECT", "EXCEPT",
		"JOIN", "LEFT", "RIGHT", "INNER", "FULL", "CROSS", "ON", "USING", "WITH", "SELECT":
		return true
	}
	return false
}

// resolveTable maps a BigQuery table path to its DuckDB name, checking it exists.
func (tr *translator) resolveTable(parts []string) (string, error) {
	var project, dataset, table string
	switch len(parts) {
	case 1:
		if tr.opts.defaultDataset == "" {
			return "", errInvalidQuery("Table %q must be qualified with a dataset (e.g. dataset.table).", parts[0])
		}
		project, dataset, table = tr.opts.defaultProject, tr.opts.defaultDataset, parts[0]
	case 2:
		project, dataset, table = tr.opts.defaultProject, parts[0], parts[1]
	case 3:
		project, dataset, table = parts[0], parts[1], parts[2]
	default:
		return "", errInvalidQuery("Invalid table name %s", strings.Join(parts, "."))
	}
	if _, _, ok := infoSchemaPath(parts); ok {
		return "", errUnsupported("INFORMATION_SCHEMA outside a FROM clause")
	}
	if strings.Contains(table, "*") {
		return "", errUnsupported("Wildcard table " + strings.Join(parts, "."))
	}
	if strings.Contains(table, "$") {
		return "", errUnsupported("Partition decorator in " + strings.Join(parts, "."))
	}
	if _, err := tr.s.cat.table(project, dataset, table); err != nil {
		return "", errNotFound("Table %s:%s.%s was not found in location US", project, dataset, table)
	}
	return duckTable(project, dataset, table), nil
}

func (tr *translator) nowLiteral() string {
	return "TIMESTAMP '" + tr.opts.now.UTC().Format("2006-01-02 15:04:05.999999") + "'"
}

// typedLiteral translates TIMESTAMP '...' and friends.
func typedLiteral(typ, text string) (string, error) {
	switch typ {
	case "TIMESTAMP":
		ts, err := parseTimestamp(text)
		if err != nil {
			return "", errInvalidQuery("Invalid TIMESTAMP literal %q", text)
		}
		return "TIMESTAMP '" + ts.Format("2006-01-02 15:04:05.999999") + "'", nil
	case "DATETIME":
		return "CAST(" + quoteString(strings.Replace(text, "T", " ", 1)) + " AS TIMESTAMP)", nil
	case "NUMERIC", "BIGNUMERIC":
		return "CAST(" + quoteString(text) + " AS DECIMAL(38,9))", nil
	case "JSON":
		return "CAST(" + quoteString(text) + " AS JSON)", nil
	}
	return typ + " " + quoteString(text), nil
}

func bytesLiteral(b []byte) string {
	var sb strings.Builder
	sb.WriteString("CAST('")
	for _, c := range b {
		fmt.Fprintf(&sb, "\\x%02X", c)
	}
	sb.WriteString("' AS BLOB)")
	return sb.String()
}
