package topology

import (
	"fmt"
	"slices"
	"strings"
)

// target returns the instance of a resource of type typ that the expression at path of r
// refers to: how a value unknown until apply (a topic's id, an account's email, a function's
// URL) is traced to the resource it comes from.
func (p *parser) target(r *instance, typ string, path []any) (*instance, error) {
	var e any = p.config[r.resourceKey()]
	for _, step := range path {
		e = walk(e, []any{step})
	}
	exprMap, _ := e.(map[string]any)
	rawRefs, _ := exprMap["references"].([]any)
	var refs []string
	for _, x := range rawRefs {
		if s, ok := x.(string); ok {
			refs = append(refs, s)
		}
	}
	var keys []string
	index := ""
	for _, s := range refs {
		ref, ok := parseReference(s)
		if !ok || !strings.HasPrefix(ref.key, typ+".") {
			continue
		}
		if !slices.Contains(keys, ref.key) {
			keys = append(keys, ref.key)
		}
		if index == "" {
			index = ref.index
		}
	}
	switch len(keys) {
	case 0:
		return nil, fmt.Errorf("unknown until apply (or sensitive), and its expression refers to no %s (references: %s)", typ, strings.Join(refs, ", "))
	case 1:
	default:
		return nil, fmt.Errorf("unknown until apply (or sensitive), and its expression refers to several %s: %s", typ, strings.Join(keys, ", "))
	}
	instances := p.byKey[keys[0]]
	// Without an index in the reference, a for_each or count resource referring to another by
	// each.key or count.index means the instance with the same key.
	if index == "" {
		if (slices.Contains(refs, "each.key") || slices.Contains(refs, "count.index")) && r.Index != nil {
			index = indexKey(r.Index)
		} else if len(instances) == 1 {
			return instances[0], nil
		}
	}
	for _, t := range instances {
		if index != "" && indexKey(t.Index) == index {
			return t, nil
		}
	}
	return nil, fmt.Errorf("unknown until apply (or sensitive), and no instance of %s can be told from its references (%s)", keys[0], strings.Join(refs, ", "))
}

// resolve is target reporting its error against r and path.
func (p *parser) resolve(r *instance, typ string, path []any) (*instance, bool) {
	t, err := p.target(r, typ, path)
	if err != nil {
		p.errorf(r, path, "%v", err)
		return nil, false
	}
	return t, true
}

// projectOf is the project an instance is in: its project attribute, or the provider's.
func (p *parser) projectOf(r *instance) string {
	if s := strings.TrimPrefix(p.strOpt(r, "project"), "projects/"); s != "" {
		return s
	}
	return p.project
}

// accountEmail is a google_service_account's email, from its account_id where the plan does
// not know the email.
func (p *parser) accountEmail(t *instance) string {
	if email := p.strOpt(t, "email"); email != "" {
		return email
	}
	return p.str(t, "account_id") + "@" + p.projectOf(t) + ".iam.gserviceaccount.com"
}

// serviceAccountEmail returns the service account email at path, given as an email, a member
// or a full name (projects/P/serviceAccounts/EMAIL), or referred to while unknown.
func (p *parser) serviceAccountEmail(r *instance, path ...any) string {
	v, known := r.value(path...)
	if !known {
		t, ok := p.resolve(r, "google_service_account", path)
		if !ok {
			return ""
		}
		return p.accountEmail(t)
	}
	s := p.asString(r, path, v)
	s = strings.TrimPrefix(s, "serviceAccount:")
	if i := strings.LastIndex(s, "/serviceAccounts/"); i >= 0 {
		s = s[i+len("/serviceAccounts/"):]
	}
	return s
}

// member returns the IAM member at path; one unknown until apply is a service account's.
func (p *parser) member(r *instance, path ...any) string {
	if _, known := r.value(path...); known {
		return p.str(r, path...)
	}
	t, ok := p.resolve(r, "google_service_account", path)
	if !ok {
		return ""
	}
	return ServiceAccountMember(p.accountEmail(t))
}

// name returns the id at path, given as an id or a full resource name (its last segment), or
// referred to while unknown: then the referred resource of type typ holds it in attr. project
// is the one a full name or the referred resource names, "" if neither does.
func (p *parser) name(r *instance, typ, attr string, path ...any) (id, project string) {
	if _, known := r.value(path...); !known {
		t, ok := p.resolve(r, typ, path)
		if !ok {
			return "", ""
		}
		return p.str(t, attr), p.projectOf(t)
	}
	s := p.str(r, path...)
	parts := strings.Split(s, "/")
	if len(parts) >= 2 && parts[0] == "projects" {
		project = parts[1]
	}
	return parts[len(parts)-1], project
}

// localID is id when project is the topology's, the full name projects/P/COLLECTION/ID
// otherwise.
func (p *parser) localID(project, collection, id string) string {
	if project == "" || project == p.project {
		return id
	}
	return "projects/" + project + "/" + collection + "/" + id
}

// topicID is the topic at path as Subscription and DeadLetter name one.
func (p *parser) topicID(r *instance, path ...any) string {
	id, project := p.name(r, "google_pubsub_topic", "name", path...)
	return p.localID(project, "topics", id)
}

// endpoint splits the URL at path into the function it targets and the path after the
// function's URL. A URL unknown until apply is a function's own (see FromPlan).
func (p *parser) endpoint(r *instance, path ...any) Endpoint {
	if _, known := r.value(path...); !known {
		t, ok := p.resolve(r, "google_cloudfunctions2_function", path)
		if !ok {
			return Endpoint{}
		}
		return Endpoint{Function: p.str(t, "build_config", 0, "entry_point")}
	}
	return p.splitURL(p.str(r, path...))
}

// splitURL matches u against the URLs each function is known by before it exists: Cloud Run's
// deterministic https://NAME-NUMBER.REGION.run.app and https://REGION-PROJECT.cloudfunctions.net/NAME.
func (p *parser) splitURL(u string) Endpoint {
	best := Endpoint{URL: u}
	bestLen := 0
	for _, f := range p.functions {
		prefixes := []string{"https://" + f.Location + "-" + p.project + ".cloudfunctions.net/" + f.Name}
		if p.number != "" {
			prefixes = append(prefixes, "https://"+f.Name+"-"+p.number+"."+f.Location+".run.app")
		}
		for _, prefix := range prefixes {
			rest, ok := strings.CutPrefix(u, prefix)
			if !ok || len(prefix) <= bestLen || (rest != "" && rest[0] != '/' && rest[0] != '?') {
				continue
			}
			best, bestLen = Endpoint{Function: f.EntryPoint, Path: rest}, len(prefix)
		}
	}
	return best
}

// serviceResource is the Binding resource of a Cloud Run service: functions/ENTRYPOINT when it
// is one of our functions' services.
func (p *parser) serviceResource(project, location, service string) string {
	for _, f := range p.functions {
		if f.Name == service && f.Location == location && project == p.project {
			return FunctionResource(f.EntryPoint)
		}
	}
	return "projects/" + project + "/locations/" + location + "/services/" + service
}

// binding reads an *_iam_member instance.
func (p *parser) binding(r *instance) Binding {
	b := Binding{Role: p.str(r, "role"), Member: p.member(r, "member")}
	if p.hasBlock(r, "condition") {
		b.Condition = p.strOpt(r, "condition", 0, "expression")
	}
	or := func(project string) string {
		if project != "" {
			return project
		}
		return p.projectOf(r)
	}
	switch r.Type {
	case "google_project_iam_member":
		b.Resource = "projects/" + strings.TrimPrefix(p.str(r, "project"), "projects/")
	case "google_pubsub_topic_iam_member":
		id, project := p.name(r, "google_pubsub_topic", "name", "topic")
		b.Resource = "projects/" + or(project) + "/topics/" + id
	case "google_pubsub_subscription_iam_member":
		id, project := p.name(r, "google_pubsub_subscription", "name", "subscription")
		b.Resource = "projects/" + or(project) + "/subscriptions/" + id
	case "google_secret_manager_secret_iam_member":
		id, project := p.name(r, "google_secret_manager_secret", "secret_id", "secret_id")
		b.Resource = "projects/" + or(project) + "/secrets/" + id
	case "google_bigquery_dataset_iam_member":
		id, project := p.name(r, "google_bigquery_dataset", "dataset_id", "dataset_id")
		b.Resource = "projects/" + or(project) + "/datasets/" + id
	case "google_bigquery_table_iam_member":
		dataset, project := p.name(r, "google_bigquery_dataset", "dataset_id", "dataset_id")
		table, tproject := p.name(r, "google_bigquery_table", "table_id", "table_id")
		if tproject != "" {
			project = tproject
		}
		b.Resource = "projects/" + or(project) + "/datasets/" + dataset + "/tables/" + table
	case "google_cloud_tasks_queue_iam_member":
		id, project := p.name(r, "google_cloud_tasks_queue", "name", "name")
		b.Resource = "projects/" + or(project) + "/locations/" + p.str(r, "location") + "/queues/" + id
	case "google_service_account_iam_member":
		email := p.serviceAccountEmail(r, "service_account_id")
		project := ""
		if domain, ok := strings.CutSuffix(email[strings.Index(email, "@")+1:], ".iam.gserviceaccount.com"); ok {
			project = domain
		}
		b.Resource = "projects/" + or(project) + "/serviceAccounts/" + email
	case "google_cloud_run_service_iam_member", "google_cloud_run_v2_service_iam_member":
		attr := "service"
		if r.Type == "google_cloud_run_v2_service_iam_member" {
			attr = "name"
		}
		if _, known := r.value(attr); !known {
			if t, ok := p.resolve(r, "google_cloudfunctions2_function", []any{attr}); ok {
				b.Resource = FunctionResource(p.str(t, "build_config", 0, "entry_point"))
			}
			break
		}
		id, project := p.name(r, "", "", attr)
		b.Resource = p.serviceResource(or(project), p.str(r, "location"), id)
	case "google_cloudfunctions2_function_iam_member":
		id, project := p.name(r, "google_cloudfunctions2_function", "name", "cloud_function")
		b.Resource = p.serviceResource(or(project), p.str(r, "location"), id)
	case "google_storage_bucket_iam_member":
		id, _ := p.name(r, "google_storage_bucket", "name", "bucket")
		b.Resource = "projects/_/buckets/" + id
	default:
		p.errorf(r, nil, "IAM member type %s is not read (teach shared/topology its resource name)", r.Type)
	}
	return b
}
