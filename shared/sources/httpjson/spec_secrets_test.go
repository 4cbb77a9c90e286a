package httpjson_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	_ "github.com/pipelinekit/pipelinekit/shared/backfill/sourceset"
	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson"
)

// Anything that looks like a credential, wherever it is in an http_json spec, is refused with
// the field that holds it: specs are stored with the job and travel in task bodies, shard names
// and status output.
func TestParseSpecRefusesCredentials(t *testing.T) {
	hj := func(inner string) string { return `{"source":"http_json","http_json":{` + inner + `}}` }
	tests := []struct{ name, body, field string }{
		{"appid in url", hj(`"url":"https://api.example.com/x?appid=0123456789abcdef"`), "http_json.url"},
		{"access_key in url", hj(`"url":"https://api.example.com/x?access_key=abc"`), "http_json.url"},
		{"key in url", hj(`"url":"https://api.example.com/x?key=abc"`), "http_json.url"},
		{"bearer value in url", hj(`"url":"https://api.example.com/x?q=Bearer%20abc"`), "http_json.url"},
		{"stripe key value in url", hj(`"url":"https://api.example.com/x?q=sk_live_abc"`), "http_json.url"},
		{"azure subscription header", hj(`"url":"https://api.example.com/x","headers":{"Ocp-Apim-Subscription-Key":"abc"}`), "http_json.headers.Ocp-Apim-Subscription-Key"},
		{"access key header", hj(`"url":"https://api.example.com/x","headers":{"X-Access-Key":"abc"}`), "http_json.headers.X-Access-Key"},
		{"aws key value", hj(`"url":"https://api.example.com/x","headers":{"X-Custom":"AKIAIOSFODNN7EXAMPLE"}`), "http_json.headers.X-Custom"},
		{"bearer param value", hj(`"url":"https://api.example.com/{id}","params":{"id":["1","Bearer abc"]}`), "http_json.params.id[1]"},
		{"stripe param value", hj(`"url":"https://api.example.com/{id}","params":{"id":["sk_live_abc"]}`), "http_json.params.id[0]"},
		{"credential-named param", hj(`"url":"https://api.example.com/x?token={token}","params":{"token":["abc"]}`), "http_json.url"},
		{"secret without a resource name", hj(`"url":"https://api.example.com/x","secrets":[{"header":"Authorization","secret":"hunter2"}]`), "http_json.secrets[0].secret"},
		{"secret with neither header nor query", hj(`"url":"https://api.example.com/x","secrets":[{"secret":"projects/p/secrets/s"}]`), "http_json.secrets[0]"},
		{"secret with both header and query", hj(`"url":"https://api.example.com/x","secrets":[{"header":"X-Key","query":"key","secret":"projects/p/secrets/s"}]`), "http_json.secrets[0]"},
		{"secret header also in headers", hj(`"url":"https://api.example.com/x","headers":{"X-Trace":"1"},"secrets":[{"header":"x-trace","secret":"projects/p/secrets/s"}]`), "http_json.secrets[0].header"},
		{"secret prefix holding a value", hj(`"url":"https://api.example.com/x","secrets":[{"header":"Authorization","prefix":"Bearer abc","secret":"projects/p/secrets/s"}]`), "http_json.secrets[0].prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := backfill.ParseSpec([]byte(tt.body), testLimits)
			var fe *backfill.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseSpec(%s) = %v, want a *FieldError", tt.body, err)
			}
			if fe.Field != tt.field {
				t.Errorf("ParseSpec(%s) = %q: %q, want field %q", tt.body, fe.Field, fe.Reason, tt.field)
			}
			if strings.Contains(fe.Reason, "abc") || strings.Contains(fe.Reason, "hunter2") || strings.Contains(fe.Reason, "AKIA") {
				t.Errorf("ParseSpec(%s) = %q: the reason repeats the credential", tt.body, fe.Reason)
			}
		})
	}
}

// Credentials are named by Secret Manager resource; the plan carries the names only.
func TestParseSpecSecretsByName(t *testing.T) {
	body := `{"source":"http_json","http_json":{"url":"https://api.example.com/x/{id}","params":{"id":["1"]},
		"secrets":[{"header":"authorization","prefix":"Bearer ","secret":"projects/p/secrets/api-token"},
		           {"query":"appid","secret":"projects/p/secrets/app-id/versions/3"}]}}`
	spec, err := backfill.ParseSpec([]byte(body), testLimits)
	if err != nil {
		t.Fatalf("ParseSpec() = %v", err)
	}
	plan, err := spec.Plan()
	if err != nil {
		t.Fatal(err)
	}
	task := plan.Task(0)
	want := []httpjson.SecretRef{
		{Header: "Authorization", Prefix: "Bearer ", Secret: "projects/p/secrets/api-token/versions/latest"},
		{Query: "appid", Secret: "projects/p/secrets/app-id/versions/3"},
	}
	if diff := cmp.Diff(want, spec.Section.(*httpjson.HTTPJSONSpec).Secrets); diff != "" {
		t.Errorf("spec secrets mismatch (-want +got):\n%s", diff)
	}
	if len(hjReq(task).Secrets) != 2 || hjReq(task).Secrets[0].Secret != want[0].Secret || hjReq(task).Secrets[1].Query != "appid" {
		t.Errorf("task secrets = %+v, want the two secret names", hjReq(task).Secrets)
	}
}
