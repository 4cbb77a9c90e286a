package sourcestest

import (
	"encoding/json"
	"net/http"
)

// StatusNames are google.rpc.Code names Google puts in error.status.
var StatusNames = map[int]string{
	http.StatusBadRequest:          "INVALID_ARGUMENT",
	http.StatusUnauthorized:        "UNAUTHENTICATED",
	http.StatusForbidden:           "PERMISSION_DENIED",
	http.StatusNotFound:            "NOT_FOUND",
	http.StatusTooManyRequests:     "RESOURCE_EXHAUSTED",
	http.StatusInternalServerError: "INTERNAL",
	http.StatusServiceUnavailable:  "UNAVAILABLE",
	http.StatusGatewayTimeout:      "DEADLINE_EXCEEDED",
}

// defaultMessages are Google's messages for errors without a specific one.
var defaultMessages = map[string]string{
	"authError":         "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
	"forbidden":         "Forbidden",
	"quotaExceeded":     "The request cannot be completed because you have exceeded your quota.",
	"rateLimitExceeded": "Resource has been exhausted (e.g. check quota).",
	"backendError":      "The service is currently unavailable.",
	"internalError":     "Internal error encountered.",
	"notFound":          "Not Found",
}

// errorItem is one entry of error.errors.
type errorItem struct {
	Message      string `json:"message"`
	Domain       string `json:"domain"`
	Reason       string `json:"reason"`
	Location     string `json:"location,omitempty"`
	LocationType string `json:"locationType,omitempty"`
}

// GoogleError renders Google's JSON error body:
// {"error":{"code":..,"message":..,"errors":[{message,domain,reason}],"status":..}}.
func GoogleError(status int, reason, message string) []byte {
	return GoogleErrorIn("global", status, reason, message)
}

// GoogleErrorIn is GoogleError with quotaDomain, the errors[].domain of a quotaExceeded (each API
// names its own, e.g. youtube.quota).
func GoogleErrorIn(quotaDomain string, status int, reason, message string) []byte {
	if message == "" {
		message = defaultMessages[reason]
	}
	if message == "" {
		message = http.StatusText(status)
	}
	item := errorItem{Message: message, Domain: "global", Reason: reason}
	switch reason {
	case "authError":
		item.Message, item.Location, item.LocationType = "Invalid Credentials", "Authorization", "header"
	case "quotaExceeded":
		item.Domain = quotaDomain
	case "rateLimitExceeded":
		item.Domain = "usageLimits"
	}
	body := map[string]any{"error": map[string]any{
		"code":    status,
		"message": message,
		"errors":  []errorItem{item},
		"status":  StatusNames[status],
	}}
	b, _ := json.Marshal(body)
	return b
}

// WriteOAuthError writes an RFC 6749 token endpoint error as Google does.
func WriteOAuthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
}

// WriteJSON writes v as a JSON response.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
