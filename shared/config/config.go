// Package config reads a function's typed settings from the environment once, at start-up,
// and reports every problem at once, each naming the variable and what is wrong with it.
//
// Reference: docs/configuration.md.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Env reads variables through a lookup function and collects the problems it finds.
type Env struct {
	lookup func(string) (string, bool)
	errs   []error
	names  map[string]bool
}

// FromOS returns an Env over the process environment.
func FromOS() *Env { return New(os.LookupEnv) }

// New returns an Env over lookup; tests pass a map's lookup.
func New(lookup func(string) (string, bool)) *Env {
	return &Env{lookup: lookup, names: map[string]bool{}}
}

// Map returns a lookup function over m, for tests and for the local stack.
func Map(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func (e *Env) get(name string) (string, bool) {
	e.names[name] = true
	v, ok := e.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// Fail records a problem the caller found itself (such as "set exactly one of A and B"), so
// that Err reports it with the others.
func (e *Env) Fail(name, format string, args ...any) {
	e.errs = append(e.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

// String returns the variable, or def when it is unset or empty.
func (e *Env) String(name, def string) string {
	if v, ok := e.get(name); ok {
		return v
	}
	return def
}

// Required returns the variable and records a problem when it is unset or empty.
func (e *Env) Required(name string) string {
	v, ok := e.get(name)
	if !ok {
		e.Fail(name, "required but not set")
	}
	return v
}

// OneOf returns the variable, which must be one of allowed; def when unset.
func (e *Env) OneOf(name, def string, allowed ...string) string {
	v := e.String(name, def)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	e.Fail(name, "%q is not one of %s", v, strings.Join(allowed, ", "))
	return def
}

// Int returns the variable as an integer in [min, max]; def when unset.
func (e *Env) Int(name string, def, min, max int) int {
	v, ok := e.get(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		e.Fail(name, "%q is not an integer", v)
		return def
	case n < min || n > max:
		e.Fail(name, "%d is out of range [%d, %d]", n, min, max)
		return def
	}
	return n
}

// Duration returns the variable as a Go duration ("90s", "5m") in [min, max]; def when unset.
func (e *Env) Duration(name string, def, min, max time.Duration) time.Duration {
	v, ok := e.get(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		e.Fail(name, "%q is not a duration such as 30s or 5m", v)
		return def
	case d < min || d > max:
		e.Fail(name, "%s is out of range [%s, %s]", d, min, max)
		return def
	}
	return d
}

// Bool returns the variable as a boolean (true/false/1/0); def when unset.
func (e *Env) Bool(name string, def bool) bool {
	v, ok := e.get(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.Fail(name, "%q is not true or false", v)
		return def
	}
	return b
}

// List returns the comma-separated variable without empty items; def when unset.
func (e *Env) List(name string, def []string) []string {
	v, ok := e.get(name)
	if !ok {
		return def
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// URL returns the variable as an absolute http(s) URL; def when unset.
func (e *Env) URL(name, def string) string {
	v := e.String(name, def)
	if v == "" {
		return v
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		e.Fail(name, "%q is not an absolute http(s) URL", v)
		return def
	}
	return v
}

// Err returns every problem found so far, joined, or nil.
func (e *Env) Err() error {
	if len(e.errs) == 0 {
		return nil
	}
	return fmt.Errorf("invalid configuration: %w", errors.Join(e.errs...))
}

// Names returns every variable read so far, sorted: the set a deployment must consider setting.
func (e *Env) Names() []string {
	out := make([]string, 0, len(e.names))
	for n := range e.names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
