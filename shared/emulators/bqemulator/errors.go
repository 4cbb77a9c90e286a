package bqemulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// apiError is an error with BigQuery's HTTP code and reason.
type apiError struct {
	code    int
	reason  string
	message string
}

func (e *apiError) Error() string { return e.message }

func errNotFound(format string, args ...any) *apiError {
	return &apiError{code: http.StatusNotFound, reason: "notFound", message: "Not found: " + fmt.Sprintf(format, args...)}
}

func errDuplicate(format string, args ...any) *apiError {
	return &apiError{code: http.StatusConflict, reason: "duplicate", message: "Already Exists: " + fmt.Sprintf(format, args...)}
}

func errInvalid(format string, args ...any) *apiError {
	return &apiError{code: http.StatusBadRequest, reason: "invalid", message: fmt.Sprintf(format, args...)}
}

func errInvalidQuery(format string, args ...any) *apiError {
	return &apiError{code: http.StatusBadRequest, reason: "invalidQuery", message: fmt.Sprintf(format, args...)}
}

// errUnsupported names a feature this emulator does not implement.
func errUnsupported(what string) *apiError {
	return &apiError{code: http.StatusBadRequest, reason: "invalidQuery", message: what + " is not supported by this emulator"}
}

// statusNames maps HTTP codes to the google.rpc.Code names BigQuery puts in "status".
var statusNames = map[int]string{
	400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
	409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED",
	500: "INTERNAL", 501: "NOT_IMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}

// reasonForCode picks the BigQuery error reason for a code when none is given.
func reasonForCode(code int) string {
	switch code {
	case 400:
		return "invalid"
	case 403:
		return "accessDenied"
	case 404:
		return "notFound"
	case 409:
		return "duplicate"
	case 429:
		return "rateLimitExceeded"
	case 503:
		return "backendError"
	default:
		if code >= 500 {
			return "internalError"
		}
		return "invalid"
	}
}

// toAPIError converts any error into BigQuery's shape; unknown errors become 500s.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		reason := reasonForCode(ge.Code)
		if len(ge.Errors) > 0 && ge.Errors[0].Reason != "" {
			reason = ge.Errors[0].Reason
		}
		msg := ge.Message
		if msg == "" && len(ge.Errors) > 0 {
			msg = ge.Errors[0].Message
		}
		return &apiError{code: ge.Code, reason: reason, message: msg}
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		code := httpCodeForGRPC(st.Code())
		return &apiError{code: code, reason: reasonForCode(code), message: st.Message()}
	}
	return &apiError{code: http.StatusInternalServerError, reason: "internalError", message: err.Error()}
}

func httpCodeForGRPC(c codes.Code) int {
	switch c {
	case codes.InvalidArgument, codes.OutOfRange:
		return 400
	case codes.Unauthenticated:
		return 401
	case codes.PermissionDenied:
		return 403
	case codes.NotFound:
		return 404
	case codes.AlreadyExists, codes.Aborted:
		return 409
	case codes.FailedPrecondition:
		return 412
	case codes.ResourceExhausted:
		return 429
	case codes.Canceled:
		return 499
	case codes.Unimplemented:
		return 501
	case codes.Unavailable:
		return 503
	case codes.DeadlineExceeded:
		return 504
	default:
		return 500
	}
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    int          `json:"code"`
	Message string       `json:"message"`
	Errors  []errorProto `json:"errors"`
	Status  string       `json:"status"`
}

type errorProto struct {
	Message string `json:"message"`
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
}

// writeError writes err in Google's JSON error shape.
func writeError(w http.ResponseWriter, err error) {
	ae := toAPIError(err)
	st := statusNames[ae.code]
	if st == "" {
		st = "UNKNOWN"
	}
	body := errorBody{Error: errorDetail{
		Code:    ae.code,
		Message: ae.message,
		Errors:  []errorProto{{Message: ae.message, Domain: "global", Reason: ae.reason}},
		Status:  st,
	}}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(ae.code)
	json.NewEncoder(w).Encode(body)
}
