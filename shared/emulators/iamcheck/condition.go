package iamcheck

import (
	"fmt"
	"regexp"
	"strings"
)

// A condition on a binding, as the checks understand it: only a database name test on
// Firestore, `resource.name == "projects/P/databases/D"`, or several of them joined by ||.
//
// Firestore evaluates a condition's resource.name as the database the request reaches, never a
// collection or document below it: its audit logs report resourceAttributes {service:
// firestore.googleapis.com, type: firestore.googleapis.com/Database, name:
// projects/P/databases/D} for a request on any resource under D, and Firestore is among the
// services whose resource attributes conditions can test
// (https://cloud.google.com/iam/docs/conditions-resource-attributes, which lists
// firestore.googleapis.com). So a condition narrows a Firestore grant to databases, not
// collections.
//
// Any other expression is refused by NewPolicy rather than guessed at, and resource.name of
// anything that is not a Firestore resource never matches, so a conditional binding never
// grants more here than deployed.
type condition struct {
	databases []string // the databases resource.name may equal
}

var conditionTerm = regexp.MustCompile(`^resource\.name\s*==\s*"(projects/[^/"]+/databases/[^/"]+)"$`)

func parseCondition(expr string) (*condition, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, nil
	}
	c := &condition{}
	for _, term := range strings.Split(expr, "||") {
		m := conditionTerm.FindStringSubmatch(strings.Trim(strings.TrimSpace(term), "()"))
		if m == nil {
			return nil, fmt.Errorf("condition %q: the local checks understand only resource.name == \"projects/P/databases/D\" (joined by ||)", expr)
		}
		c.databases = append(c.databases, m[1])
	}
	return c, nil
}

// holds reports whether the condition is true for a request on resource. A nil condition
// always holds.
func (c *condition) holds(resource string) bool {
	if c == nil {
		return true
	}
	db, ok := firestoreDatabase(resource)
	if !ok {
		return false
	}
	for _, d := range c.databases {
		if d == db {
			return true
		}
	}
	return false
}

// firestoreDatabase returns the database a Firestore resource name is in: projects/P/databases/D
// of projects/P/databases/D[/documents/...].
func firestoreDatabase(resource string) (string, bool) {
	parts := strings.SplitN(resource, "/", 5)
	if len(parts) < 4 || parts[0] != "projects" || parts[2] != "databases" || parts[1] == "" || parts[3] == "" {
		return "", false
	}
	return strings.Join(parts[:4], "/"), true
}
