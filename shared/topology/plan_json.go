package topology

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The parts of `terraform show -json PLAN` that FromPlan reads
// (https://developer.hashicorp.com/terraform/internals/json-format).
type planFile struct {
	FormatVersion string                         `json:"format_version"`
	Variables     map[string]struct{ Value any } `json:"variables"`
	// Resource changes rather than planned_values: they mark what is unknown or sensitive
	// explicitly, per attribute and per map element.
	ResourceChanges []*instance `json:"resource_changes"`
	PriorState      struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Mode   string         `json:"mode"`
					Type   string         `json:"type"`
					Values map[string]any `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	} `json:"prior_state"`
	Configuration struct {
		ProviderConfig map[string]struct {
			Expressions map[string]expression `json:"expressions"`
		} `json:"provider_config"`
		RootModule struct {
			Resources []struct {
				Address     string         `json:"address"`
				Expressions map[string]any `json:"expressions"`
			} `json:"resources"`
			Variables map[string]struct {
				Default   json.RawMessage `json:"default"`
				Sensitive bool            `json:"sensitive"`
			} `json:"variables"`
			ModuleCalls map[string]any `json:"module_calls"`
		} `json:"root_module"`
	} `json:"configuration"`
}

// instance is one resource instance of the plan, as resource_changes describe it.
type instance struct {
	Address string `json:"address"`
	// ModuleAddress is set for resources of child modules, which FromPlan does not read.
	ModuleAddress string `json:"module_address"`
	Mode          string `json:"mode"`
	Type          string `json:"type"`
	Name          string `json:"name"`
	Index         any    `json:"index"`
	Change        struct {
		Actions        []string       `json:"actions"`
		After          map[string]any `json:"after"`
		AfterUnknown   any            `json:"after_unknown"`
		AfterSensitive any            `json:"after_sensitive"`
	} `json:"change"`
}

// expression is a configuration expression: a constant, or the references it is computed from
// (most specific first, such as google_service_account.x.email before google_service_account.x).
type expression struct {
	ConstantValue any      `json:"constant_value"`
	References    []string `json:"references"`
}

// resourceKey is type.name, the configuration's name of a resource and all its instances.
func (r *instance) resourceKey() string { return r.Type + "." + r.Name }

// value walks path (attribute names and block or list indexes) through the planned values.
// known is false when the value, or anything around it, is unknown until apply, or sensitive:
// so no secret reaches topology.json. A known value may be nil (null).
func (r *instance) value(path ...any) (v any, known bool) {
	if marked(r.Change.AfterUnknown, path) || marked(r.Change.AfterSensitive, path) {
		return nil, false
	}
	return walk(r.Change.After, path), true
}

// marked reports whether an after_unknown or after_sensitive tree marks path, or a value
// around it, true.
func marked(tree any, path []any) bool {
	for _, step := range path {
		if b, ok := tree.(bool); ok {
			return b
		}
		tree = walk(tree, []any{step})
		if tree == nil {
			return false
		}
	}
	b, ok := tree.(bool)
	return ok && b
}

// walk follows path through decoded JSON, returning nil where it leads nowhere.
func walk(v any, path []any) any {
	for _, step := range path {
		switch s := step.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[s]
		case int:
			l, ok := v.([]any)
			if !ok || s >= len(l) {
				return nil
			}
			v = l[s]
		default:
			return nil
		}
	}
	return v
}

// pathString writes path as Terraform does: http_target[0].uri.
func pathString(path []any) string {
	var b strings.Builder
	for _, step := range path {
		switch s := step.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", s)
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, s)
		}
	}
	return b.String()
}

// indexKey names a for_each key or count index comparably: "\"key\"" or "3"; "" for none.
func indexKey(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	}
	return ""
}

// reference is a parsed reference to a managed resource, such as google_pubsub_topic.events.id
// or google_cloudfunctions2_function.function["StreamTweets"].service_config[0].uri.
type reference struct {
	key   string // type.name
	index string // indexKey of the instance, "" when the reference names the whole resource
}

var referenceRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_-]*)\.([A-Za-z_][A-Za-z0-9_-]*)(\[("(?:[^"\\]|\\.)*"|[0-9]+)\])?`)

// parseReference parses a reference to a managed resource; ok is false for any other (var.,
// local., each., data. ...).
func parseReference(s string) (ref reference, ok bool) {
	first, _, _ := strings.Cut(s, ".")
	switch first {
	case "var", "local", "each", "count", "data", "module", "path", "terraform", "self":
		return reference{}, false
	}
	m := referenceRE.FindStringSubmatch(s)
	if m == nil {
		return reference{}, false
	}
	ref.key = m[1] + "." + m[2]
	switch {
	case strings.HasPrefix(m[4], `"`):
		k, err := strconv.Unquote(m[4])
		if err != nil {
			return reference{}, false
		}
		ref.index = strconv.Quote(k)
	case m[4] != "":
		ref.index = m[4]
	}
	return ref, true
}
