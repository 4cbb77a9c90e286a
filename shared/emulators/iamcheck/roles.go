package iamcheck

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
)

// rolesJSON is the predefined roles this package knows, each with the permissions Google's
// IAM roles reference lists for it and the page it was read from.
//
//go:embed roles.json
var rolesJSON []byte

// Role is an IAM role: a name and the permissions it grants. Predefined roles come from
// roles.json; a custom role (google_project_iam_custom_role) is given to NewPolicy as a Role
// named projects/PROJECT/roles/ID or organizations/ORG/roles/ID.
type Role struct {
	// Name is the role's full name, such as roles/cloudtasks.enqueuer.
	Name string
	// Title is the role's display name.
	Title string
	// Permissions are the permissions the role grants, such as cloudtasks.tasks.create.
	Permissions []string
	// Source is the Google page that documents the role (empty for custom roles).
	Source string
}

type rolesFile struct {
	Source string `json:"source"`
	Read   string `json:"read"`
	Roles  map[string]struct {
		Title       string   `json:"title"`
		Source      string   `json:"source"`
		ReadFrom    string   `json:"read_from"`
		Permissions []string `json:"permissions"`
	} `json:"roles"`
}

// predefined is roles.json parsed once; a malformed file is a build mistake, caught by the
// package's tests, so init panics rather than every caller handling an error.
var predefined = func() map[string]Role {
	roles, err := parseRoles(rolesJSON)
	if err != nil {
		panic(err)
	}
	return roles
}()

func parseRoles(b []byte) (map[string]Role, error) {
	var f rolesFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parsing roles.json: %w", err)
	}
	if f.Source == "" || f.Read == "" {
		return nil, fmt.Errorf("parsing roles.json: source and read must say where and when the roles were read")
	}
	roles := make(map[string]Role, len(f.Roles))
	for name, r := range f.Roles {
		if len(r.Permissions) == 0 || r.Source == "" || r.ReadFrom == "" {
			return nil, fmt.Errorf("parsing roles.json: role %s needs permissions, source and read_from", name)
		}
		roles[name] = Role{Name: name, Title: r.Title, Permissions: r.Permissions, Source: r.Source}
	}
	return roles, nil
}

// PredefinedRoles returns the predefined roles of roles.json, sorted by name.
func PredefinedRoles() []Role {
	out := make([]Role, 0, len(predefined))
	for _, r := range predefined {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupRole returns the predefined role with this name (roles/...).
func LookupRole(name string) (Role, bool) {
	r, ok := predefined[name]
	return r, ok
}
