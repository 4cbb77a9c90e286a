package sources

import (
	"strings"
	"testing"

	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest/secretforms"
)

// FuzzRedactString embeds a credential, spelled each way secretforms.SecretForms knows, in arbitrary text
// (twice, and next to the marker's own letters): no spelling survives redaction.
func FuzzRedactString(f *testing.F) {
	f.Add("app-very-secret", "requesting https://api.example.com/items?page=2&appid=", "&x=1", uint8(1))
	f.Add(`app/sec ret+&=é"\x`, `parse "`, `": invalid`, uint8(8))
	f.Add("ED", "RED", "ACTED", uint8(0))
	f.Add("aREDACTED", "a", "", uint8(0))
	f.Add("%", "%25", "25", uint8(5))
	f.Add("\xff\x00", `\`, `\u`, uint8(9))
	f.Add("😀", `\ud83d`, `\ude00`, uint8(10))
	f.Fuzz(func(t *testing.T, secret, before, after string, enc uint8) {
		if secret == "" {
			return
		}
		forms := secretforms.SecretForms(secret)
		form := forms[int(enc)%len(forms)]
		in := before + form + after + Redacted + form + before
		out := NewRedactor(secret).String(in)
		for _, f := range forms {
			if strings.Contains(out, f) {
				t.Errorf("redacting %q from %q = %q, still quotes it as %q", secret, in, out, f)
			}
		}
	})
}

// Text without a credential is left as it is, and every spelling of one is replaced.
func TestRedactorString(t *testing.T) {
	const secret = `app/sec ret+&=é"\x`
	r := NewRedactor(secret, "")
	if got, want := r.String("requesting https://api.example.com/items?page=2"), "requesting https://api.example.com/items?page=2"; got != want {
		t.Errorf("String(no credential) = %q, want %q", got, want)
	}
	for _, form := range secretforms.SecretForms(secret) {
		if got, want := r.String("a="+form+"&b"), "a="+Redacted+"&b"; got != want {
			t.Errorf("String(a=%s&b) = %q, want %q", form, got, want)
		}
	}
	if got := (*Redactor)(nil).String(secret); got != secret {
		t.Errorf("nil Redactor String(%q) = %q, want it unchanged", secret, got)
	}
	if NewRedactor("", "") != nil {
		t.Errorf("NewRedactor(no values) is not nil")
	}
}
