package sources

import (
	"testing"
)

// FuzzGoogleReason feeds error bodies to the Google error decoder: it never panics.
func FuzzGoogleReason(f *testing.F) {
	f.Add([]byte(`{"error":{"code":403,"message":"Quota exceeded","errors":[{"reason":"quotaExceeded"}],"status":"PERMISSION_DENIED"}}`))
	f.Add([]byte(`{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`))
	f.Add([]byte(`<html>502</html>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		GoogleReason(body)
	})
}
