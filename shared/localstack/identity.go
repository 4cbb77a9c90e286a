package localstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/pipelinekit/pipelinekit/shared/emulators/firestorelimits"
	"github.com/pipelinekit/pipelinekit/shared/emulators/iamcheck"
	"github.com/pipelinekit/pipelinekit/shared/topology"
)

// ChecksEnv turns the local stack's production checks off when set to "off": each function then
// reaches the servers directly, as every caller with every role, and Firestore's limits are
// only the emulator's own. For speed only: what passes unchecked may fail deployed.
const ChecksEnv = "PIPELINEKIT_CHECKS"

// checksOff reports whether the options or the environment turn the checks off.
func (o Options) checksOff() bool {
	return o.Unchecked || strings.EqualFold(os.Getenv(ChecksEnv), "off")
}

// Identities are the checking proxies the functions reach Google's APIs through: one per service
// account, refusing what Terraform's roles for it do not allow and what Firestore's limits do not.
type Identities struct {
	// Policy is what Terraform grants, as the proxies check it.
	Policy  *iamcheck.Policy
	proxies map[string]*iamcheck.Proxy // by member
	byFn    map[string]string          // entry point -> member
}

// Decisions returns every call the functions made through the proxies and whether it was allowed.
func (id *Identities) Decisions() []iamcheck.Decision {
	if id == nil {
		return nil
	}
	var out []iamcheck.Decision
	for _, p := range id.proxies {
		out = append(out, p.Decisions()...)
	}
	return out
}

// Addr returns the address of the checking proxy function entryPoint's process reaches Google's
// APIs through ("" for none).
func (id *Identities) Addr(entryPoint string) string {
	if id == nil || id.proxies[id.byFn[entryPoint]] == nil {
		return ""
	}
	return id.proxies[id.byFn[entryPoint]].Addr()
}

// Refused returns the calls the proxies refused.
func (id *Identities) Refused() []iamcheck.Decision {
	var out []iamcheck.Decision
	for _, d := range id.Decisions() {
		if !d.Allowed {
			out = append(out, d)
		}
	}
	return out
}

// refusedError names each distinct refused call once.
func refusedError(refused []iamcheck.Decision) error {
	seen := map[string]bool{}
	var lines []string
	for _, d := range refused {
		l := fmt.Sprintf("%s called %s needing %s on %s", d.Member, d.Method, d.Permission, d.Resource)
		if !seen[l] {
			seen[l] = true
			lines = append(lines, l)
		}
	}
	return fmt.Errorf("the functions made %d calls their Terraform roles do not allow (each fails deployed):\n  %s", len(refused), strings.Join(lines, "\n  "))
}

func (id *Identities) close() error {
	var errs []error
	for _, p := range id.proxies {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}

// PolicyBindings are Terraform's IAM bindings as the checks apply them to project: the plan's
// project renamed (in conditions too), and the Cloud Run invoker bindings left out (the local
// front door does not check callers; TestDeliveryIdentities checks those bindings instead).
// A conditional binding keeps its condition, which the checks evaluate as Firestore does
// (iamcheck/condition.go) or refuse to start with.
func PolicyBindings(t *topology.Topology, project string) []iamcheck.Binding {
	var out []iamcheck.Binding
	for _, b := range t.Bindings() {
		if !strings.HasPrefix(b.Resource, "projects/") {
			continue
		}
		cond := strings.ReplaceAll(b.Condition, `"projects/`+topology.Project+`/`, `"projects/`+project+`/`)
		out = append(out, iamcheck.Binding{Member: b.Member, Role: b.Role, Resource: localPath(b.Resource, project), Condition: cond})
	}
	return out
}

// startIdentities starts one checking proxy per function service account, in front of the
// servers the stack runs.
func (s *Stack) startIdentities(ctx context.Context, o Options) error {
	t, err := Topology()
	if err != nil {
		return err
	}
	bindings := PolicyBindings(t, s.Project)
	if o.Backfill != nil {
		bindings = queueBindings(bindings, o.Backfill.Queues)
	}
	if o.EditBindings != nil {
		bindings = o.EditBindings(bindings)
	}
	policy, err := iamcheck.NewPolicy(bindings)
	if err != nil {
		return fmt.Errorf("building the IAM policy from Terraform's bindings: %w", err)
	}
	limits, err := firestorelimits.New(firestorelimits.ProjectConfig())
	if err != nil {
		return fmt.Errorf("configuring Firestore's limits: %w", err)
	}
	upstreams := map[string]string{"pubsub": s.PubSubHost, "bigquery": s.BigQueryHost}
	if s.FirestoreHost != "" {
		upstreams["firestore"] = s.FirestoreHost
	}
	if s.Backfill != nil {
		upstreams["cloudtasks"] = s.Backfill.TasksHost
	}
	id := &Identities{Policy: policy, proxies: map[string]*iamcheck.Proxy{}, byFn: map[string]string{}}
	s.Identities = id
	for _, f := range t.Functions {
		ep, sa := f.EntryPoint, f.ServiceAccount
		if sa == "" {
			return fmt.Errorf("terraform gives function %s no service account", ep)
		}
		member := topology.ServiceAccountMember(sa)
		id.byFn[ep] = member
		if id.proxies[member] != nil {
			continue
		}
		// The proxies live until Close, not until the context that bounds the start.
		p, err := iamcheck.Start(context.WithoutCancel(ctx), iamcheck.Config{
			Member: member, Policy: policy, Upstreams: upstreams, Check: limits.Check, Log: s.log,
		})
		if err != nil {
			return fmt.Errorf("starting the checking proxy for %s: %w", member, err)
		}
		id.proxies[member] = p
	}
	return nil
}

// functionEnv is what a function's own process adds to the stack's environment: with the checks
// on, every Google API it calls goes through its own service account's checking proxy.
func (s *Stack) functionEnv(name string) map[string]string {
	if s.Identities == nil {
		return nil
	}
	addr := s.Identities.Addr(name)
	if addr == "" {
		return nil
	}
	env := map[string]string{"PUBSUB_EMULATOR_HOST": addr, "BIGQUERY_EMULATOR_HOST": addr}
	if s.FirestoreHost != "" {
		env["FIRESTORE_EMULATOR_HOST"] = addr
	}
	if s.Backfill != nil {
		env["CLOUD_TASKS_EMULATOR_HOST"] = addr
	}
	return env
}
