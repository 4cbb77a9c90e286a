package iamcheck

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
)

const firestoreDenied = "Missing or insufficient permissions."

func TestFirestore(t *testing.T) {
	host := emulatorHost(t, gcloudemu.Firestore)
	projectID := gcloudemu.NewProjectID(t)
	proj := "projects/" + projectID
	t.Setenv("FIRESTORE_EMULATOR_HOST", host)
	admin, err := firestore.NewClient(t.Context(), projectID)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Doc("leases/stream").Set(t.Context(), map[string]any{"holder": "a", "n": 1}); err != nil {
		t.Fatal(err)
	}

	var (
		get = func(ctx context.Context, c *firestore.Client) error {
			_, err := c.Doc("leases/stream").Get(ctx)
			return err
		}
		create = func(ctx context.Context, c *firestore.Client) error {
			_, err := c.Collection("seen").NewDoc().Create(ctx, map[string]any{"at": time.Now()})
			return err
		}
		set = func(ctx context.Context, c *firestore.Client) error {
			_, err := c.Collection("seen").NewDoc().Set(ctx, map[string]any{"at": time.Now()})
			return err
		}
		query = func(ctx context.Context, c *firestore.Client) error {
			_, err := c.Collection("leases").Where("holder", "==", "a").Documents(ctx).GetAll()
			return err
		}
		count = func(ctx context.Context, c *firestore.Client) error {
			_, err := c.Collection("leases").NewAggregationQuery().WithCount("n").Get(ctx)
			return err
		}
		transaction = func(ctx context.Context, c *firestore.Client) error {
			return c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
				snap, err := tx.Get(c.Doc("leases/stream"))
				if err != nil {
					return err
				}
				n, _ := snap.DataAt("n")
				return tx.Set(c.Doc("leases/stream"), map[string]any{"holder": "a", "n": n.(int64) + 1})
			})
		}
		bulk = func(ctx context.Context, c *firestore.Client) error {
			bw := c.BulkWriter(ctx)
			job, err := bw.Set(c.Collection("rankings").NewDoc(), map[string]any{"v": 1})
			if err != nil {
				return err
			}
			bw.End()
			_, err = job.Results()
			return err
		}
		listen = func(ctx context.Context, c *firestore.Client) error {
			it := c.Doc("leases/stream").Snapshots(ctx)
			defer it.Stop()
			_, err := it.Next()
			return err
		}
	)
	userRole := []Binding{{Member: member, Role: "roles/datastore.user", Resource: proj}}
	viewer := []Binding{{Member: member, Role: "roles/datastore.viewer", Resource: proj}}
	elsewhere := []Binding{{Member: member, Role: "roles/datastore.user", Resource: "projects/elsewhere"}}
	// A custom role that may create documents but not change them: Create (exists=false) works,
	// Set (no precondition: create and update) does not.
	createOnly := Role{Name: proj + "/roles/creator", Permissions: []string{"datastore.entities.create"}}
	creator := []Binding{{Member: member, Role: createOnly.Name, Resource: proj}}
	tests := []struct {
		name     string
		bindings []Binding
		call     func(context.Context, *firestore.Client) error
		allowed  bool
	}{
		{"get user", userRole, get, true},
		{"get viewer", viewer, get, true},
		{"get user on another project", elsewhere, get, false},
		{"get no role", nil, get, false},
		{"create user", userRole, create, true},
		{"create viewer", viewer, create, false},
		{"create custom creator", creator, create, true},
		{"set user", userRole, set, true},
		{"set viewer", viewer, set, false},
		{"set custom creator lacks update", creator, set, false},
		{"query user", userRole, query, true},
		{"query viewer", viewer, query, true},
		{"query no role", nil, query, false},
		{"count viewer", viewer, count, true},
		{"count no role", nil, count, false},
		{"transaction user", userRole, transaction, true},
		{"transaction viewer", viewer, transaction, false},
		{"bulk writer user", userRole, bulk, true},
		{"bulk writer viewer", viewer, bulk, false},
		{"listen viewer", viewer, listen, true},
		{"listen no role", nil, listen, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy, err := Start(t.Context(), Config{
				Member: member, Policy: mustPolicy(t, tt.bindings, createOnly), Log: discard,
				Upstreams: map[string]string{Firestore: host},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer proxy.Close()
			t.Setenv("FIRESTORE_EMULATOR_HOST", proxy.Addr())
			c, err := firestore.NewClient(t.Context(), projectID)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			err = tt.call(ctx, c)
			if tt.allowed {
				if err != nil {
					t.Errorf("call = %v, want it allowed", err)
				}
				return
			}
			if st, _ := status.FromError(err); st.Code() != codes.PermissionDenied || st.Message() != firestoreDenied {
				t.Errorf("call = %v, want PermissionDenied %q", err, firestoreDenied)
			}
		})
	}
}

// TestFirestoreDatabaseCondition: a viewer grant conditioned on one database reads that
// database and nothing of another, as Firestore evaluates resource.name (condition.go).
func TestFirestoreDatabaseCondition(t *testing.T) {
	host := emulatorHost(t, gcloudemu.Firestore)
	projectID := gcloudemu.NewProjectID(t)
	proj := "projects/" + projectID
	t.Setenv("FIRESTORE_EMULATOR_HOST", host)
	for _, db := range []string{"(default)", "rankings"} {
		admin, err := firestore.NewClientWithDatabase(t.Context(), projectID, db)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Doc("views/v1").Set(t.Context(), map[string]any{"user_id": "u1"}); err != nil {
			t.Fatal(err)
		}
		admin.Close()
	}
	onRankings := []Binding{{Member: member, Role: "roles/datastore.viewer", Resource: proj,
		Condition: `resource.name == "` + proj + `/databases/rankings"`}}
	proxy, err := Start(t.Context(), Config{Member: member, Policy: mustPolicy(t, onRankings), Log: discard,
		Upstreams: map[string]string{Firestore: host}})
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	t.Setenv("FIRESTORE_EMULATOR_HOST", proxy.Addr())
	tests := []struct {
		db      string
		call    string
		allowed bool
	}{
		{"rankings", "get", true},
		{"rankings", "query", true},
		{"rankings", "set", false}, // viewer: read only
		{"(default)", "get", false},
		{"(default)", "query", false},
	}
	for _, tt := range tests {
		c, err := firestore.NewClientWithDatabase(t.Context(), projectID, tt.db)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		switch tt.call {
		case "get":
			_, err = c.Doc("views/v1").Get(ctx)
		case "query":
			_, err = c.Collection("views").Where("user_id", "==", "u1").Documents(ctx).GetAll()
		case "set":
			_, err = c.Doc("views/v2").Set(ctx, map[string]any{"user_id": "u2"})
		}
		cancel()
		c.Close()
		st, _ := status.FromError(err)
		if tt.allowed != (err == nil) || (!tt.allowed && st.Code() != codes.PermissionDenied) {
			t.Errorf("%s in database %s = %v, want allowed %v (else PermissionDenied)", tt.call, tt.db, err, tt.allowed)
		}
	}
}
