package iamcheck

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The services a proxy forwards to, as Config.Upstreams keys. A DeniedError's Service is one
// of these (or "" for a permission no listed service checks).
const (
	PubSub        = "pubsub"
	Firestore     = "firestore"
	CloudTasks    = "cloudtasks"
	BigQuery      = "bigquery"
	SecretManager = "secretmanager"
)

// DeniedError is a refused call. Its gRPC status (status.FromError, status.Code) is
// PERMISSION_DENIED with the message the service sends; WriteHTTP writes BigQuery's REST
// error body.
type DeniedError struct {
	// Member is the caller.
	Member string
	// Method is the gRPC full method or the REST method (such as tabledata.insertAll) refused.
	Method string
	// Permission is the missing permission; empty when the method is not in the table.
	Permission string
	// Resource is the full name the permission was checked on.
	Resource string
	// Service is the service answering (PubSub, Firestore, ...), which decides the wording.
	Service string
}

// Error returns the message the service sends.
func (e *DeniedError) Error() string { return e.message() }

// GRPCStatus makes the error a gRPC PERMISSION_DENIED status.
func (e *DeniedError) GRPCStatus() *status.Status {
	return status.New(codes.PermissionDenied, e.message())
}

// message words the refusal as the owning service does. The shapes, as seen in the wild:
//   - Pub/Sub names neither permission nor resource: "User not authorized to perform this
//     action." (googleapis/nodejs-pubsub#1180, googleapis/google-cloud-ruby#17944).
//   - Firestore: "Missing or insufficient permissions." (googleapis/google-cloud-java#7697,
//     googleapis/nodejs-firestore#1297).
//   - Cloud Tasks, for its own permissions and for iam.serviceAccounts.actAs on the token's
//     account (named by email): `The principal (user or service account) lacks IAM permission
//     "cloudtasks.tasks.create" for the resource "projects/…/queues/q" (or the resource may not
//     exist).` (googleapis/repo-automation-bots#5598, googleapis/nodejs-tasks#249).
//   - BigQuery Storage Write API: "Permission 'TABLES_UPDATE_DATA' denied on resource
//     'projects/p/datasets/d/tables/t' (or it may not exist)."
//     (googleapis/python-bigquery-storage#238).
//   - Secret Manager: "Permission 'secretmanager.versions.access' denied for resource
//     'projects/p/secrets/s/versions/1' (or it may not exist)."
//     (GoogleCloudPlatform/java-docs-samples#6571).
//   - Others (IAM's generic form): "Permission 'p' denied on resource 'r' (or it may not
//     exist)." (GoogleCloudPlatform/falcon-integration-gateway#98's resourcemanager error).
func (e *DeniedError) message() string {
	if e.Permission == "" {
		return fmt.Sprintf("iamcheck: method %s is not in the permission table of shared/emulators/iamcheck; add it with the permission Google checks before calling it", e.Method)
	}
	switch e.Service {
	case PubSub:
		return "User not authorized to perform this action."
	case Firestore:
		return "Missing or insufficient permissions."
	case CloudTasks:
		res := e.Resource
		if email, ok := serviceAccountEmail(res); ok {
			res = email
		}
		return fmt.Sprintf("The principal (user or service account) lacks IAM permission %q for the resource %q (or the resource may not exist).", e.Permission, res)
	case BigQuery:
		return fmt.Sprintf("Permission '%s' denied on resource '%s' (or it may not exist).", bigQueryPermissionEnum(e.Permission), e.Resource)
	case SecretManager:
		return fmt.Sprintf("Permission '%s' denied for resource '%s' (or it may not exist).", e.Permission, e.Resource)
	}
	return fmt.Sprintf("Permission '%s' denied on resource '%s' (or it may not exist).", e.Permission, e.Resource)
}

// bigQueryPermissionEnum spells a permission the way the Storage API names it:
// bigquery.tables.updateData -> TABLES_UPDATE_DATA.
func bigQueryPermissionEnum(perm string) string {
	perm = strings.TrimPrefix(perm, "bigquery.")
	var b strings.Builder
	for i, r := range perm {
		switch {
		case r == '.':
			b.WriteByte('_')
		case r >= 'A' && r <= 'Z':
			if i > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		default:
			b.WriteString(strings.ToUpper(string(r)))
		}
	}
	return b.String()
}

// restMessage words the refusal as BigQuery's REST API does:
// "Access Denied: Table p:d.t: Permission bigquery.tables.updateData denied on table p:d.t (or
// it may not exist)." and "Access Denied: Project p: User does not have bigquery.jobs.create
// permission in project p." (google/cluster-data#25, basedosdados/queries-basedosdados#41).
func (e *DeniedError) restMessage() string {
	if e.Permission == "" {
		return e.message()
	}
	parts := strings.Split(e.Resource, "/")
	switch {
	case len(parts) >= 6 && parts[0] == "projects" && parts[2] == "datasets" && parts[4] == "tables":
		t := parts[1] + ":" + parts[3] + "." + parts[5]
		return fmt.Sprintf("Access Denied: Table %s: Permission %s denied on table %s (or it may not exist).", t, e.Permission, t)
	case len(parts) >= 4 && parts[0] == "projects" && parts[2] == "datasets":
		d := parts[1] + ":" + parts[3]
		return fmt.Sprintf("Access Denied: Dataset %s: Permission %s denied on dataset %s (or it may not exist).", d, e.Permission, d)
	case len(parts) >= 2 && parts[0] == "projects":
		return fmt.Sprintf("Access Denied: Project %s: User does not have %s permission in project %s.", parts[1], e.Permission, parts[1])
	}
	return e.message()
}

// restError is Google's JSON error body for REST APIs.
type restError struct {
	Error restErrorBody `json:"error"`
}

type restErrorBody struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Errors  []restErrorItem `json:"errors"`
	Status  string          `json:"status"`
}

type restErrorItem struct {
	Message string `json:"message"`
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
}

// WriteHTTP writes the refusal as BigQuery's REST API does: 403 with
// {"error":{"code":403,"message":…,"errors":[{"message":…,"domain":"global","reason":"accessDenied"}],"status":"PERMISSION_DENIED"}}.
func (e *DeniedError) WriteHTTP(w http.ResponseWriter) {
	msg := e.restMessage()
	writeRESTError(w, http.StatusForbidden, "PERMISSION_DENIED", "accessDenied", msg)
}

func writeRESTError(w http.ResponseWriter, code int, statusName, reason, msg string) {
	body, _ := json.Marshal(restError{Error: restErrorBody{
		Code: code, Message: msg, Status: statusName,
		Errors: []restErrorItem{{Message: msg, Domain: "global", Reason: reason}},
	}})
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	w.Write(body)
}

// serviceOf names the service that checks a permission, by its prefix.
func serviceOf(permission string) string {
	switch {
	case strings.HasPrefix(permission, "pubsub."):
		return PubSub
	case strings.HasPrefix(permission, "datastore."):
		return Firestore
	case strings.HasPrefix(permission, "cloudtasks."):
		return CloudTasks
	case strings.HasPrefix(permission, "bigquery."):
		return BigQuery
	case strings.HasPrefix(permission, "secretmanager."):
		return SecretManager
	}
	return ""
}
