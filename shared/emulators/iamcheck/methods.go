package iamcheck

import (
	"fmt"
	"maps"
	"strings"

	"google.golang.org/protobuf/proto"
)

// need is one permission a call needs on one resource.
type need struct {
	perm     string
	resource string
	// byCreator marks a BigQuery job permission that the job's creator holds without any
	// binding ("when you create a job, you are automatically granted bigquery.jobs.get and
	// bigquery.jobs.update for that job", https://cloud.google.com/bigquery/docs/jobs-overview).
	byCreator bool
}

func one(perm, resource string) []need { return []need{{perm: perm, resource: resource}} }

// rule is how one gRPC method is checked: the request type to decode and the permissions a
// request needs, read from the API reference page doc.
type rule struct {
	service string // Config.Upstreams key of the server that answers it
	doc     string
	newReq  func() proto.Message
	needs   func(proto.Message) []need
	// scan, when set, finds the needs without decoding the whole request (AppendRows carries
	// up to 10 MB of rows per message and only its first field names a resource).
	scan func([]byte) ([]need, error)
}

// method builds the rule of a method whose request type is T.
func method[T proto.Message](service, doc string, needs func(T) []need) rule {
	return rule{
		service: service,
		doc:     doc,
		newReq: func() proto.Message {
			var zero T
			return zero.ProtoReflect().New().Interface()
		},
		needs: func(m proto.Message) []need { return needs(m.(T)) },
	}
}

// evaluate decodes a request message and returns what it needs; the message itself is
// decoded only when full is set (for Config.Check) or the rule has no scanner.
func (r rule) evaluate(payload []byte, full bool) ([]need, proto.Message, error) {
	if r.scan != nil && !full {
		needs, err := r.scan(payload)
		return needs, nil, err
	}
	m := r.newReq()
	if err := proto.Unmarshal(payload, m); err != nil {
		return nil, nil, fmt.Errorf("decoding %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return r.needs(m), m, nil
}

// grpcMethods maps gRPC full method names to their rules: every method the project's code
// calls through the official clients (shared/publish, shared/taskqueue, shared/warehouse,
// shared/rankings, shared/lease, shared/secrets, functions/...), and their neighbours in the
// same services where the reference names the permission.
var grpcMethods = func() map[string]rule {
	m := map[string]rule{}
	for _, part := range []map[string]rule{pubsubMethods, firestoreMethods, tasksMethods, storageWriteMethods, secretManagerMethods} {
		maps.Copy(m, part)
	}
	return m
}()

// upstreamPrefixes route a gRPC method to its upstream by the service's package.
var upstreamPrefixes = []struct{ prefix, upstream string }{
	{"/google.pubsub.v1.", PubSub},
	{"/google.firestore.v1.", Firestore},
	{"/google.cloud.tasks.v2.", CloudTasks},
	{"/google.cloud.bigquery.storage.v1.", BigQuery},
	{"/google.cloud.secretmanager.v1.", SecretManager},
}

func upstreamFor(fullMethod string) string {
	for _, u := range upstreamPrefixes {
		if strings.HasPrefix(fullMethod, u.prefix) {
			return u.upstream
		}
	}
	return ""
}

// projectOf returns projects/P of a name under a project, or name itself.
func projectOf(name string) string {
	parts := strings.SplitN(name, "/", 3)
	if len(parts) >= 2 && parts[0] == "projects" {
		return parts[0] + "/" + parts[1]
	}
	return name
}
