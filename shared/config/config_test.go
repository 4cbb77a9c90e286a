package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEnv(t *testing.T) {
	e := New(Map(map[string]string{
		"NAME": " loader ", "COUNT": "12", "WAIT": "90s", "ON": "true", "LIST": "a, b,,c", "URL": "http://127.0.0.1:9/x", "MODE": "fast",
	}))
	got := []any{
		e.Required("NAME"), e.String("MISSING", "def"), e.Int("COUNT", 1, 0, 100), e.Duration("WAIT", time.Second, 0, time.Hour),
		e.Bool("ON", false), e.List("LIST", nil), e.URL("URL", ""), e.OneOf("MODE", "slow", "slow", "fast"),
	}
	want := []any{"loader", "def", 12, 90 * time.Second, true, []string{"a", "b", "c"}, "http://127.0.0.1:9/x", "fast"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values mismatch (-want +got):\n%s", diff)
	}
	if err := e.Err(); err != nil {
		t.Errorf("Err() = %v, want nil", err)
	}
	if diff := cmp.Diff([]string{"COUNT", "LIST", "MISSING", "MODE", "NAME", "ON", "URL", "WAIT"}, e.Names()); diff != "" {
		t.Errorf("Names() mismatch (-want +got):\n%s", diff)
	}
}

func TestEnvErrorsNameTheVariable(t *testing.T) {
	e := New(Map(map[string]string{"COUNT": "x", "BIG": "1000", "WAIT": "soon", "ON": "maybe", "URL": "ftp://h", "MODE": "odd", "EMPTY": "  "}))
	e.Required("PROJECT")
	e.Required("EMPTY")
	e.Int("COUNT", 1, 0, 10)
	e.Int("BIG", 1, 0, 10)
	e.Duration("WAIT", time.Second, 0, time.Hour)
	e.Bool("ON", false)
	e.URL("URL", "")
	e.OneOf("MODE", "a", "a", "b")
	err := e.Err()
	if err == nil {
		t.Fatal("Err() = nil, want problems")
	}
	for _, want := range []string{
		"PROJECT: required but not set", "EMPTY: required but not set", `COUNT: "x" is not an integer`,
		"BIG: 1000 is out of range [0, 10]", `WAIT: "soon" is not a duration`, `ON: "maybe" is not true or false`,
		`URL: "ftp://h" is not an absolute http(s) URL`, `MODE: "odd" is not one of a, b`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Err() = %q, want it to contain %q", err, want)
		}
	}
}
