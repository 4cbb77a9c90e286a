package youtube

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// reportBody is the part of a QueryResponse the rows are decoded from.
type reportBody struct {
	Kind          string           `json:"kind"`
	ColumnHeaders []sources.Column `json:"columnHeaders"`
	Rows          [][]any          `json:"rows"`
}

// decodeReport decodes columns and rows, typing each cell by its column's
// dataType so counts stay int64 and revenue stays float64.
func decodeReport(raw []byte) ([]sources.Column, [][]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var rb reportBody
	if err := dec.Decode(&rb); err != nil {
		return nil, nil, fmt.Errorf("decoding youtube analytics report: %w", err)
	}
	rows := make([][]any, 0, len(rb.Rows))
	for i, row := range rb.Rows {
		if len(row) != len(rb.ColumnHeaders) {
			return nil, nil, fmt.Errorf("decoding youtube analytics report: row %d has %d cells for %d columns", i, len(row), len(rb.ColumnHeaders))
		}
		out := make([]any, len(row))
		for j, cell := range row {
			v, err := typedCell(cell, rb.ColumnHeaders[j].Type)
			if err != nil {
				return nil, nil, fmt.Errorf("decoding youtube analytics report: row %d column %s: %w", i, rb.ColumnHeaders[j].Name, err)
			}
			out[j] = v
		}
		rows = append(rows, out)
	}
	return rb.ColumnHeaders, rows, nil
}

// typedCell converts one cell according to a YouTube dataType.
func typedCell(cell any, dataType string) (any, error) {
	n, isNum := cell.(json.Number)
	if !isNum {
		return cell, nil // strings, bools and nulls are already typed
	}
	switch strings.ToUpper(dataType) {
	case "INTEGER":
		if i, err := n.Int64(); err == nil {
			return i, nil
		}
		f, err := n.Float64()
		if err != nil || f != float64(int64(f)) {
			return nil, errors.New("INTEGER value " + n.String() + " is not an integer")
		}
		return int64(f), nil
	case "FLOAT", "CURRENCY", "PERCENT":
		f, err := n.Float64()
		if err != nil {
			return nil, err
		}
		return f, nil
	default:
		return sources.NormalizeNumber(n), nil
	}
}
