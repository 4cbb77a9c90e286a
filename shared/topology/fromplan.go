package topology

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
)

// FromPlan reads the topology out of a plan as `terraform show -json PLAN` prints it. A value
// the plan knows only after apply is resolved through the configuration's references: a
// service account's email from its account_id, a topic's or secret's id from its name, a
// function's URL to the function it belongs to. One it cannot resolve is an error naming the
// resource and attribute, as is an *_iam_member type it does not know.
//
// A URL computed at apply from a function's URL is taken to be that URL itself: the plan keeps
// an expression's references, not its text, so a suffix ("${uri}/path") cannot be seen.
func FromPlan(planJSON []byte) (*Topology, error) {
	var plan planFile
	if err := json.Unmarshal(planJSON, &plan); err != nil {
		return nil, fmt.Errorf("decoding plan JSON: %w", err)
	}
	if !strings.HasPrefix(plan.FormatVersion, "1.") {
		return nil, fmt.Errorf("reading plan: format_version %q, want 1.x (terraform show -json)", plan.FormatVersion)
	}
	p, err := newParser(&plan)
	if err != nil {
		return nil, err
	}
	t := &Topology{
		Project:       p.project,
		ProjectNumber: p.number,
		Variables:     variables(&plan),
	}
	// Functions first: URLs elsewhere are resolved against them.
	for _, r := range p.instances("google_cloudfunctions2_function") {
		t.Functions = append(t.Functions, p.function(r))
	}
	p.functions = t.Functions
	for _, r := range p.instances("google_pubsub_topic") {
		t.Topics = append(t.Topics, Topic{Name: p.str(r, "name"), MessageRetention: p.durOpt(r, "message_retention_duration")})
	}
	for _, r := range p.instances("google_pubsub_subscription") {
		t.Subscriptions = append(t.Subscriptions, p.subscription(r))
	}
	for _, r := range p.instances("google_cloud_tasks_queue") {
		t.Queues = append(t.Queues, p.queue(r))
	}
	for _, r := range p.instances("google_cloud_scheduler_job") {
		t.SchedulerJobs = append(t.SchedulerJobs, p.schedulerJob(r))
	}
	for _, r := range p.all {
		if strings.HasSuffix(r.Type, "_iam_member") {
			t.IAMBindings = append(t.IAMBindings, p.binding(r))
		}
	}
	if err := errors.Join(p.errs...); err != nil {
		return nil, fmt.Errorf("reading plan: %w", err)
	}
	sortTopology(t)
	return t, nil
}

// parser reads resource instances, recording every problem rather than stopping at the first.
type parser struct {
	project, number, region string
	all                     []*instance
	byKey                   map[string][]*instance
	config                  map[string]map[string]any // type.name -> expressions
	functions               []Function
	errs                    []error
}

func newParser(plan *planFile) (*parser, error) {
	p := &parser{byKey: map[string][]*instance{}, config: map[string]map[string]any{}}
	if len(plan.Configuration.RootModule.ModuleCalls) > 0 {
		return nil, errors.New("reading plan: the configuration calls modules, which shared/topology does not read")
	}
	for _, r := range plan.ResourceChanges {
		// What exists after apply: managed resources of the root module not being deleted.
		if r.Mode != "managed" || r.ModuleAddress != "" || slices.Equal(r.Change.Actions, []string{"delete"}) {
			continue
		}
		p.all = append(p.all, r)
		p.byKey[r.resourceKey()] = append(p.byKey[r.resourceKey()], r)
	}
	for _, c := range plan.Configuration.RootModule.Resources {
		p.config[c.Address] = c.Expressions
	}
	provider := plan.Configuration.ProviderConfig["google"].Expressions
	p.project = providerSetting(plan, provider["project"])
	p.region = providerSetting(plan, provider["region"])
	if p.project == "" {
		return nil, errors.New("reading plan: the google provider's project is not set")
	}
	for _, r := range plan.PriorState.Values.RootModule.Resources {
		if r.Mode == "data" && r.Type == "google_project" {
			if n, ok := r.Values["number"].(string); ok && n != "" {
				p.number = n
			}
		}
	}
	return p, nil
}

// providerSetting is a provider argument's value: a constant or a root variable.
func providerSetting(plan *planFile, e expression) string {
	if s, ok := e.ConstantValue.(string); ok {
		return s
	}
	for _, ref := range e.References {
		if name, ok := strings.CutPrefix(ref, "var."); ok {
			if s, ok := plan.Variables[name].Value.(string); ok {
				return s
			}
		}
	}
	return ""
}

// variables returns the root variables whose values differ from their defaults (or that have
// none): what the plan was given. Sensitive values are not written out.
func variables(plan *planFile) map[string]any {
	out := map[string]any{}
	for name, v := range plan.Variables {
		decl := plan.Configuration.RootModule.Variables[name]
		if decl.Default != nil {
			var def any
			if err := json.Unmarshal(decl.Default, &def); err == nil && reflect.DeepEqual(def, v.Value) {
				continue
			}
		}
		if decl.Sensitive {
			out[name] = "(sensitive)"
			continue
		}
		out[name] = v.Value
	}
	return out
}

// instances returns the instances of every resource of type typ, in plan order.
func (p *parser) instances(typ string) []*instance {
	var out []*instance
	for _, r := range p.all {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

func (p *parser) errorf(r *instance, path []any, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: %s: %s", r.Address, pathString(path), fmt.Sprintf(format, args...)))
}

// hasBlock reports whether the nested block at path is present.
func (p *parser) hasBlock(r *instance, path ...any) bool {
	v, known := r.value(path...)
	l, ok := v.([]any)
	return known && ok && len(l) > 0
}

// str returns a string attribute, "" for null; unknown is an error.
func (p *parser) str(r *instance, path ...any) string {
	v, known := r.value(path...)
	if !known {
		p.errorf(r, path, "unknown until apply (or sensitive)")
		return ""
	}
	return p.asString(r, path, v)
}

// strOpt returns a string attribute, "" for null or unknown (a default the API fills in).
func (p *parser) strOpt(r *instance, path ...any) string {
	v, known := r.value(path...)
	if !known {
		return ""
	}
	return p.asString(r, path, v)
}

func (p *parser) asString(r *instance, path []any, v any) string {
	if v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		p.errorf(r, path, "%v is not a string", v)
	}
	return s
}

// intOpt returns a whole-number attribute, 0 for null or unknown.
func (p *parser) intOpt(r *instance, path ...any) int {
	f := p.floatOpt(r, path...)
	if f != math.Trunc(f) {
		p.errorf(r, path, "%v is not a whole number", f)
	}
	return int(f)
}

// floatOpt returns a number attribute, 0 for null or unknown.
func (p *parser) floatOpt(r *instance, path ...any) float64 {
	v, known := r.value(path...)
	if !known || v == nil {
		return 0
	}
	f, ok := v.(float64)
	if !ok {
		p.errorf(r, path, "%v is not a number", v)
	}
	return f
}

// durOpt returns a duration attribute ("600s"), 0 for null, "" or unknown.
func (p *parser) durOpt(r *instance, path ...any) Duration {
	s := p.strOpt(r, path...)
	if s == "" {
		return 0
	}
	d, err := parseDuration(s)
	if err != nil {
		p.errorf(r, path, "%v", err)
	}
	return d
}

// stringMap returns a map of strings, with the keys whose values are unknown or sensitive
// apart, sorted. A map unknown as a whole (its keys too) is an error.
func (p *parser) stringMap(r *instance, path ...any) (known map[string]string, unknown []string) {
	v, ok := r.value(path...)
	if !ok {
		p.errorf(r, path, "unknown until apply (or sensitive), keys and all")
		return nil, nil
	}
	m, _ := v.(map[string]any)
	for k, x := range m {
		elem := append(slices.Clone(path), k)
		if _, ok := r.value(elem...); !ok {
			unknown = append(unknown, k)
			continue
		}
		if known == nil {
			known = map[string]string{}
		}
		known[k] = p.asString(r, elem, x)
	}
	// Unknown elements are absent from after: after_unknown names them.
	if u, ok := walk(r.Change.AfterUnknown, path).(map[string]any); ok {
		for k, x := range u {
			if b, _ := x.(bool); b && !slices.Contains(unknown, k) {
				unknown = append(unknown, k)
			}
		}
	}
	slices.Sort(unknown)
	return known, unknown
}

func (p *parser) function(r *instance) Function {
	at := func(names ...any) []any { return append([]any{"service_config", 0}, names...) }
	f := Function{
		EntryPoint:                    p.str(r, "build_config", 0, "entry_point"),
		Name:                          p.str(r, "name"),
		Location:                      p.str(r, "location"),
		Runtime:                       p.strOpt(r, "build_config", 0, "runtime"),
		ServiceAccount:                p.serviceAccountEmail(r, at("service_account_email")...),
		TimeoutSeconds:                p.intOpt(r, at("timeout_seconds")...),
		AvailableMemory:               p.strOpt(r, at("available_memory")...),
		AvailableCPU:                  p.strOpt(r, at("available_cpu")...),
		MaxInstanceCount:              p.intOpt(r, at("max_instance_count")...),
		MaxInstanceRequestConcurrency: p.intOpt(r, at("max_instance_request_concurrency")...),
		Ingress:                       p.strOpt(r, at("ingress_settings")...),
	}
	f.Env, f.EnvUnknown = p.stringMap(r, at("environment_variables")...)
	return f
}

func (p *parser) subscription(r *instance) Subscription {
	s := Subscription{
		Name:               p.str(r, "name"),
		Topic:              p.topicID(r, "topic"),
		Delivery:           "pull",
		Filter:             p.strOpt(r, "filter"),
		AckDeadlineSeconds: p.intOpt(r, "ack_deadline_seconds"),
		MessageRetention:   p.durOpt(r, "message_retention_duration"),
	}
	if s.AckDeadlineSeconds == 0 {
		s.AckDeadlineSeconds = 10 // Pub/Sub's default, which the provider leaves to the API
	}
	if p.hasBlock(r, "retry_policy") {
		s.RetryPolicy = &RetryPolicy{
			MinimumBackoff: p.durOpt(r, "retry_policy", 0, "minimum_backoff"),
			MaximumBackoff: p.durOpt(r, "retry_policy", 0, "maximum_backoff"),
		}
	}
	if p.hasBlock(r, "dead_letter_policy") {
		s.DeadLetter = &DeadLetter{
			Topic:               p.topicID(r, "dead_letter_policy", 0, "dead_letter_topic"),
			MaxDeliveryAttempts: p.intOpt(r, "dead_letter_policy", 0, "max_delivery_attempts"),
		}
		if s.DeadLetter.MaxDeliveryAttempts == 0 {
			s.DeadLetter.MaxDeliveryAttempts = 5 // Pub/Sub's default
		}
	}
	switch {
	case p.hasBlock(r, "push_config"):
		s.Delivery = "push"
		push := &Push{Endpoint: p.endpoint(r, "push_config", 0, "push_endpoint")}
		push.OIDC = p.oidc(r, push.Endpoint, "push_config", 0, "oidc_token")
		s.Push = push
	case p.hasBlock(r, "bigquery_config"):
		s.Delivery = "bigquery"
	case p.hasBlock(r, "cloud_storage_config"):
		s.Delivery = "cloud_storage"
	}
	if p.hasBlock(r, "expiration_policy") {
		if ttl, known := r.value("expiration_policy", 0, "ttl"); known && (ttl == nil || ttl == "") {
			s.Expiration = &Expiration{Never: true}
		} else {
			s.Expiration = &Expiration{TTL: p.durOpt(r, "expiration_policy", 0, "ttl")}
		}
	}
	return s
}

// oidc reads an oidc_token block, if present; an empty audience is the endpoint's.
func (p *parser) oidc(r *instance, endpoint Endpoint, path ...any) *OIDC {
	if !p.hasBlock(r, path...) {
		return nil
	}
	at := func(name string) []any { return append(slices.Clone(path), 0, name) }
	o := &OIDC{ServiceAccount: p.serviceAccountEmail(r, at("service_account_email")...), Audience: endpoint}
	if v, known := r.value(at("audience")...); !known || (v != nil && v != "") {
		o.Audience = p.endpoint(r, at("audience")...)
	}
	return o
}

func (p *parser) queue(r *instance) Queue {
	return Queue{
		Name:     p.str(r, "name"),
		Location: p.str(r, "location"),
		RateLimits: QueueRateLimits{
			MaxDispatchesPerSecond:  p.floatOpt(r, "rate_limits", 0, "max_dispatches_per_second"),
			MaxConcurrentDispatches: p.intOpt(r, "rate_limits", 0, "max_concurrent_dispatches"),
		},
		Retry: QueueRetry{
			MaxAttempts:      p.intOpt(r, "retry_config", 0, "max_attempts"),
			MinBackoff:       p.durOpt(r, "retry_config", 0, "min_backoff"),
			MaxBackoff:       p.durOpt(r, "retry_config", 0, "max_backoff"),
			MaxDoublings:     p.intOpt(r, "retry_config", 0, "max_doublings"),
			MaxRetryDuration: p.durOpt(r, "retry_config", 0, "max_retry_duration"),
		},
	}
}

func (p *parser) schedulerJob(r *instance) SchedulerJob {
	j := SchedulerJob{
		Name:            p.str(r, "name"),
		Region:          p.strOpt(r, "region"),
		Schedule:        p.str(r, "schedule"),
		TimeZone:        p.strOpt(r, "time_zone"),
		AttemptDeadline: p.durOpt(r, "attempt_deadline"),
		Retry: SchedulerRetry{
			RetryCount:       p.intOpt(r, "retry_config", 0, "retry_count"),
			MinBackoff:       p.durOpt(r, "retry_config", 0, "min_backoff_duration"),
			MaxBackoff:       p.durOpt(r, "retry_config", 0, "max_backoff_duration"),
			MaxDoublings:     p.intOpt(r, "retry_config", 0, "max_doublings"),
			MaxRetryDuration: p.durOpt(r, "retry_config", 0, "max_retry_duration"),
		},
	}
	// Scheduler's defaults, as its API documents them.
	if j.Region == "" {
		j.Region = p.region
	}
	if j.TimeZone == "" {
		j.TimeZone = "Etc/UTC"
	}
	if j.AttemptDeadline == 0 {
		j.AttemptDeadline = Duration(3 * time.Minute)
	}
	if !p.hasBlock(r, "http_target") {
		p.errorf(r, []any{"http_target"}, "only HTTP targets are read (teach shared/topology the others)")
		return j
	}
	at := func(names ...any) []any { return append([]any{"http_target", 0}, names...) }
	j.HTTP = HTTPTarget{
		Target: p.endpoint(r, at("uri")...),
		Method: p.strOpt(r, at("http_method")...),
	}
	if j.HTTP.Method == "" {
		j.HTTP.Method = "POST"
	}
	if marked(r.Change.AfterSensitive, at("body")) {
		p.errorf(r, at("body"), "sensitive, and not written to topology.json")
	}
	if body := p.strOpt(r, at("body")...); body != "" {
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			p.errorf(r, at("body"), "decoding base64: %v", err)
		}
		j.HTTP.Body = string(b)
	}
	if v, _ := r.value(at("headers")...); v != nil {
		var unknown []string
		j.HTTP.Headers, unknown = p.stringMap(r, at("headers")...)
		if len(unknown) > 0 {
			p.errorf(r, at("headers"), "%s unknown until apply or sensitive", strings.Join(unknown, ", "))
		}
	}
	j.HTTP.OIDC = p.oidc(r, j.HTTP.Target, at("oidc_token")...)
	return j
}

func sortTopology(t *Topology) {
	slices.SortFunc(t.Topics, func(a, b Topic) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(t.Subscriptions, func(a, b Subscription) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(t.Queues, func(a, b Queue) int {
		return strings.Compare(a.Location+"/"+a.Name, b.Location+"/"+b.Name)
	})
	slices.SortFunc(t.SchedulerJobs, func(a, b SchedulerJob) int {
		return strings.Compare(a.Region+"/"+a.Name, b.Region+"/"+b.Name)
	})
	slices.SortFunc(t.Functions, func(a, b Function) int { return strings.Compare(a.EntryPoint, b.EntryPoint) })
	slices.SortFunc(t.IAMBindings, func(a, b Binding) int {
		return strings.Compare(
			strings.Join([]string{a.Resource, a.Role, a.Member, a.Condition}, "\x00"),
			strings.Join([]string{b.Resource, b.Role, b.Member, b.Condition}, "\x00"))
	})
	// Two resources granting the same thing are one binding.
	t.IAMBindings = slices.Compact(t.IAMBindings)
}
