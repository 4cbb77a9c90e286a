package storagewrite

import (
	"fmt"
	"strings"
)

// defaultStreamID is the stream every table has without CreateWriteStream.
const defaultStreamID = "_default"

// tableRef names one table.
type tableRef struct {
	project, dataset, table string
}

// String returns the resource name, projects/p/datasets/d/tables/t.
func (t tableRef) String() string {
	return fmt.Sprintf("projects/%s/datasets/%s/tables/%s", t.project, t.dataset, t.table)
}

// streamName returns the resource name of stream id on t.
func (t tableRef) streamName(id string) string {
	return t.String() + "/streams/" + id
}

// parseTable parses projects/p/datasets/d/tables/t.
func parseTable(name string) (tableRef, error) {
	parts := strings.Split(name, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "datasets" || parts[4] != "tables" ||
		parts[1] == "" || parts[3] == "" || parts[5] == "" {
		return tableRef{}, fmt.Errorf("invalid table name %q: want projects/{project}/datasets/{dataset}/tables/{table}", name)
	}
	return tableRef{project: parts[1], dataset: parts[3], table: parts[5]}, nil
}

// parseStream parses projects/p/datasets/d/tables/t/streams/s into the table and stream id.
func parseStream(name string) (tableRef, string, error) {
	i := strings.LastIndex(name, "/streams/")
	if i < 0 {
		return tableRef{}, "", fmt.Errorf("invalid stream name %q: want projects/{project}/datasets/{dataset}/tables/{table}/streams/{stream}", name)
	}
	t, err := parseTable(name[:i])
	if err != nil {
		return tableRef{}, "", fmt.Errorf("invalid stream name %q: %w", name, err)
	}
	id := name[i+len("/streams/"):]
	if id == "" || strings.Contains(id, "/") {
		return tableRef{}, "", fmt.Errorf("invalid stream name %q: empty or malformed stream id", name)
	}
	return t, id, nil
}
