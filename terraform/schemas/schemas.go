// Package schemas holds the BigQuery table schemas and view queries, the one copy that both
// Terraform (file() and templatefile() on these files) and the Go code (through this package)
// use. A column added in one place and not the other fails the event package's tests.
//
// Reference: docs/event-contract.md.
package schemas

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"
)

//go:embed *.json views/*.sql
var files embed.FS

// Table returns the JSON schema of a table, as `bq` and Terraform's `schema` argument take it.
func Table(name string) ([]byte, error) {
	b, err := files.ReadFile(name + ".json")
	if err != nil {
		return nil, fmt.Errorf("reading schema of table %q: %w", name, err)
	}
	return b, nil
}

// View is a view's name and its GoogleSQL query, with ${project} and ${dataset} filled in.
type View struct {
	Name  string
	Query string
}

// Views returns every view, in an order in which each view comes after the views it reads.
func Views(project, dataset string) ([]View, error) {
	entries, err := files.ReadDir("views")
	if err != nil {
		return nil, fmt.Errorf("listing views: %w", err)
	}
	r := strings.NewReplacer("${project}", project, "${dataset}", dataset)
	byName := map[string]string{}
	for _, e := range entries {
		b, err := files.ReadFile(path.Join("views", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading view %s: %w", e.Name(), err)
		}
		byName[strings.TrimSuffix(e.Name(), ".sql")] = r.Replace(string(b))
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	// Order by dependency: a view that names another view comes after it.
	var out []View
	done := map[string]bool{}
	var visit func(n string)
	visit = func(n string) {
		if done[n] {
			return
		}
		done[n] = true
		for _, dep := range names {
			if dep != n && strings.Contains(byName[n], "."+dep+"`") {
				visit(dep)
			}
		}
		out = append(out, View{Name: n, Query: byName[n]})
	}
	for _, n := range names {
		visit(n)
	}
	return out, nil
}
