package iamcheck

import (
	"fmt"
	"sort"
	"strings"
)

// Binding grants Role to Member on Resource and on everything under it, the way an IAM policy
// binding on that resource does.
type Binding struct {
	// Member is the principal, such as serviceAccount:loader@my-project.iam.gserviceaccount.com;
	// allUsers and allAuthenticatedUsers match every caller.
	Member string
	// Role is a predefined role (roles/...) or the name of a custom role given to NewPolicy.
	Role string
	// Resource is the full resource name the binding is set on: projects/P,
	// projects/P/topics/T, projects/P/subscriptions/S, projects/P/datasets/D,
	// projects/P/datasets/D/tables/T, projects/P/secrets/S, projects/P/locations/L/queues/Q or
	// projects/P/serviceAccounts/EMAIL (ServiceAccountName builds it).
	Resource string
	// Condition is the binding's IAM condition expression, empty for none; only what
	// condition.go understands is accepted.
	Condition string
}

// Policy is a set of bindings and the roles they name. It is read-only after NewPolicy, so
// one Policy may be shared by many proxies.
type Policy struct {
	bindings []Binding
	conds    []*condition               // by binding; nil for an unconditional one
	perms    map[string]map[string]bool // role name -> permissions it grants
}

// NewPolicy checks bindings against the predefined roles and the custom roles given, and
// returns the policy they make.
func NewPolicy(bindings []Binding, custom ...Role) (*Policy, error) {
	p := &Policy{perms: map[string]map[string]bool{}}
	for _, r := range predefined {
		p.perms[r.Name] = permSet(r.Permissions)
	}
	for _, r := range custom {
		if !strings.Contains(r.Name, "/roles/") || strings.HasPrefix(r.Name, "roles/") {
			return nil, fmt.Errorf("custom role %q: want a name such as projects/my-project/roles/myRole", r.Name)
		}
		if len(r.Permissions) == 0 {
			return nil, fmt.Errorf("custom role %s: it grants no permission", r.Name)
		}
		p.perms[r.Name] = permSet(r.Permissions)
	}
	for _, b := range bindings {
		if err := validBinding(b); err != nil {
			return nil, err
		}
		if _, ok := p.perms[b.Role]; !ok {
			return nil, fmt.Errorf("binding %s to %s on %s: role %s is neither in roles.json nor a custom role given to NewPolicy", b.Role, b.Member, b.Resource, b.Role)
		}
		c, err := parseCondition(b.Condition)
		if err != nil {
			return nil, fmt.Errorf("binding %s to %s on %s: %w", b.Role, b.Member, b.Resource, err)
		}
		p.bindings = append(p.bindings, b)
		p.conds = append(p.conds, c)
	}
	return p, nil
}

func permSet(perms []string) map[string]bool {
	s := make(map[string]bool, len(perms))
	for _, p := range perms {
		s[p] = true
	}
	return s
}

func validBinding(b Binding) error {
	switch {
	case b.Member == "":
		return fmt.Errorf("binding %s on %s: no member", b.Role, b.Resource)
	case b.Member != "allUsers" && b.Member != "allAuthenticatedUsers" && !strings.Contains(b.Member, ":"):
		return fmt.Errorf("binding %s on %s: member %q has no type prefix such as serviceAccount:", b.Role, b.Resource, b.Member)
	case !strings.HasPrefix(b.Resource, "projects/") || strings.HasSuffix(b.Resource, "/"):
		return fmt.Errorf("binding %s to %s: resource %q is not a full resource name starting with projects/", b.Role, b.Member, b.Resource)
	}
	return nil
}

// Allowed reports whether member holds permission on resource through a binding on the
// resource or on one of its parents.
func (p *Policy) Allowed(member, permission, resource string) bool {
	if p == nil || resource == "" {
		return false
	}
	for i, b := range p.bindings {
		if (b.Member == member || b.Member == "allUsers" || b.Member == "allAuthenticatedUsers") &&
			p.perms[b.Role][permission] && covers(b.Resource, resource) && p.conds[i].holds(resource) {
			return true
		}
	}
	return false
}

// Check returns nil when member holds permission on resource, and otherwise a *DeniedError
// whose gRPC status is the PERMISSION_DENIED the service owning the permission answers.
func (p *Policy) Check(member, permission, resource string) error {
	if p.Allowed(member, permission, resource) {
		return nil
	}
	return &DeniedError{Member: member, Permission: permission, Resource: resource, Service: serviceOf(permission)}
}

// Permissions returns what member holds on resource, sorted; for tests and debugging.
func (p *Policy) Permissions(member, resource string) []string {
	seen := map[string]bool{}
	for i, b := range p.bindings {
		if (b.Member == member || b.Member == "allUsers" || b.Member == "allAuthenticatedUsers") && covers(b.Resource, resource) && p.conds[i].holds(resource) {
			for perm := range p.perms[b.Role] {
				seen[perm] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for perm := range seen {
		out = append(out, perm)
	}
	sort.Strings(out)
	return out
}

// covers reports whether a binding on bound applies to res: the same resource or one under it.
// Firestore documents (projects/P/databases/...) are under their project, as Firestore has no
// IAM below the project.
func covers(bound, res string) bool {
	if bound == res || strings.HasPrefix(res, bound+"/") {
		return true
	}
	// A service account is the same whichever project segment names it (projects/- is valid).
	if be, ok := serviceAccountEmail(bound); ok {
		if re, ok := serviceAccountEmail(res); ok {
			return be == re
		}
	}
	return false
}

// ServiceAccountName returns the resource name of the service account with this email:
// projects/PROJECT/serviceAccounts/EMAIL, the project taken from a
// NAME@PROJECT.iam.gserviceaccount.com address and "-" for any other address.
func ServiceAccountName(email string) string {
	project := "-"
	if at := strings.LastIndexByte(email, '@'); at >= 0 {
		if p, ok := strings.CutSuffix(email[at+1:], ".iam.gserviceaccount.com"); ok && p != "" {
			project = p
		}
	}
	return "projects/" + project + "/serviceAccounts/" + email
}

func serviceAccountEmail(name string) (string, bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "serviceAccounts" || parts[3] == "" {
		return "", false
	}
	return parts[3], true
}
