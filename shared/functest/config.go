package functest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/config"
)

// ConfigCase is one case of a LoadConfig table: an environment and what loading it must give.
type ConfigCase[C any] struct {
	Name string
	Env  map[string]string
	// Want is the configuration loaded; the zero value where loading fails.
	Want C
	// WantErr are texts the error must each contain, typically the variables at fault, so that
	// a table checks every problem is reported at once; none means no error.
	WantErr []string
}

// CheckLoadConfig runs each case as a subtest: load (a package's LoadConfig) reads the case's
// environment, and the configuration and error must be as the case says.
func CheckLoadConfig[C any](t *testing.T, load func(lookup func(string) (string, bool)) (C, error), cases []ConfigCase[C]) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			got, err := load(config.Map(tt.Env))
			CheckError(t, "LoadConfig()", err, tt.WantErr...)
			if diff := cmp.Diff(tt.Want, got); diff != "" {
				t.Errorf("LoadConfig() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// CheckError reports err unless it mentions each of mentions or, with none given, unless it is
// nil. call names what returned err in the report, e.g. "LoadConfig()".
func CheckError(t testing.TB, call string, err error, mentions ...string) {
	t.Helper()
	if len(mentions) == 0 {
		if err != nil {
			t.Errorf("%s error = %v, want nil", call, err)
		}
		return
	}
	for _, w := range mentions {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("%s error = %v, want one mentioning %q", call, err, w)
		}
	}
}
