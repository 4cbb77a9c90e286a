package firestorelimits

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
)

// emulatorMissing says why there is no emulator, when there is none.
var emulatorMissing string

// TestMain starts Google's Firestore emulator for the emulator tests, or reuses the one
// FIRESTORE_EMULATOR_HOST names. The other tests need none: where it cannot be started they run
// and the emulator tests skip, saying what to install.
func TestMain(m *testing.M) {
	if os.Getenv(gcloudemu.Firestore.EnvVar()) == "" {
		if err := gcloudemu.Check(gcloudemu.Firestore); err != nil {
			emulatorMissing = err.Error()
			os.Exit(m.Run())
		}
	}
	os.Exit(gcloudemu.Main(m, gcloudemu.Firestore))
}

// emulator returns a client of the emulator and a database of a project of the test's own.
func emulator(t *testing.T) (*grpc.ClientConn, firestorepb.FirestoreClient, string) {
	t.Helper()
	host := os.Getenv(gcloudemu.Firestore.EnvVar())
	if host == "" {
		t.Skipf("no Firestore emulator: %s", emulatorMissing)
	}
	conn, err := grpc.NewClient(host, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(emulatorOwner{}),
		// The client sends whatever it is given: what the emulator takes is the emulator's call.
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, firestorepb.NewFirestoreClient(conn), "projects/" + gcloudemu.NewProjectID(t) + "/databases/(default)"
}

// emulatorOwner is the credential the Firestore emulator takes as its owner (no security rules).
type emulatorOwner struct{}

func (emulatorOwner) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}
func (emulatorOwner) RequireTransportSecurity() bool { return false }

// notSent marks a case not sent to the emulator because another case already shows what the
// emulator does with that limit, and it would cost the emulator seconds on a busy machine.
const notSent = "not sent"

// What the emulator answers each of limitCases: "" where it takes the write. The cases it
// takes while Check refuses them are the limits it does not enforce.
var emulatorAnswers = map[string]string{
	// %d: the size of the request sent, whose database name is longer than the unit tests'.
	"request of 10 MiB":     "ResourceExhausted: gRPC message exceeds maximum size 4194304: %d",
	"request of 10 MiB + 1": notSent, // refused like the one before it, for the same reason

	// The emulator takes it (and took 1,000 writes in one commit when probed on 2026-12-06),
	// but at some 20 ms a write on a busy machine it costs more than the rest together.
	"501 writes in one commit": notSent,

	"500 transforms on one document":                     "",
	"501 transforms on one document":                     "",
	"300 + 201 transforms on one document in two writes": "",
	"500 transforms on each of two documents":            "",

	"document ID of 1,500 bytes":   "",
	"document ID of 1,501 bytes":   refusal("The key path element name is longer than 1500 bytes."),
	"collection ID of 1,501 bytes": refusal("The key path element kind is longer than 1500 bytes."),
	"document name of 6,144 bytes": "",
	"document name of 6,145 bytes": "",

	"field name of 1,500 bytes":                      "",
	"field name of 1,501 bytes":                      refusal("The property.name is longer than 1500 bytes."),
	"field name of 1,501 bytes in a map":             refusal("Property m contains an invalid nested entity."),
	"field name of 1,501 bytes in a map in an array": refusal("Property a contains an invalid nested entity."),

	"implied field path of 1,500 bytes": "",
	"implied field path of 1,501 bytes": refusal("Property aaa contains an invalid nested entity."),
	"update mask path of 1,499 bytes":   "",
	"update mask path of 1,500 bytes":   refusal("property path is longer than 1500 bytes."),
	"transform path of 1,499 bytes":     "",
	"transform path of 1,500 bytes":     "",

	"string of 1,048,487 bytes":             "",
	"string of 1,048,488 bytes":             refusal(`The value of property "s" is longer than 1048487 bytes.`),
	"bytes of 1,048,488":                    refusal(`The value of property "b" is longer than 1048487 bytes.`),
	"string of 1,048,488 bytes in an array": refusal(`The value of property "a" is longer than 1048487 bytes.`),
	"string of 1,048,488 bytes in a map":    refusal("Property m contains an invalid nested entity."),
	"20 levels of maps":                     "",
	"21 levels of maps":                     refusal("Property f contains an invalid nested entity."),
	"21 levels of arrays and maps":          refusal("Property f contains an invalid nested entity."),
	"document of 1,048,576 bytes":           "",
	"document of 1,048,577 bytes":           refusal("maximum entity size is 1048576 bytes"),

	"40,000 index entries (a map of 19,999 fields)":      notSent,
	"40,002 index entries (a map of 20,000 fields)":      notSent, // the array's case shows the limit
	"40,000 index entries (an array of 39,998 elements)": notSent,
	"40,001 index entries (an array of 39,999 elements)": "",
	"an array of 50,000 equal elements (3 entries)":      notSent,
	"index entry of 7,680 bytes":                         "",
	"index entry of 7,681 bytes":                         "",
	"index entries of 8,388,608 bytes":                   "",
	"index entries of 8,388,610 bytes":                   "",
}

// Each limit at its value and one past it, sent to Check and to the emulator: where the emulator
// takes a write that Check refuses, it does not enforce that limit.
func TestEmulatorAndCheck(t *testing.T) {
	_, client, db := emulator(t)
	var notEnforced []string
	for _, c := range sharedLimitCases() {
		t.Run(c.name, func(t *testing.T) {
			want, ok := emulatorAnswers[c.name]
			if !ok {
				t.Fatalf("no emulator answer recorded for %q", c.name)
			}
			if diff := cmp.Diff(c.want, statusOf(Check(MethodCommit, c.req))); diff != "" {
				t.Errorf("Check (-want +got):\n%s", diff)
			}
			if want == notSent {
				return
			}
			sent := onDatabase(c.req, db)
			if strings.Contains(want, "%d") {
				want = fmt.Sprintf(want, proto.Size(sent))
			}
			_, err := client.Commit(t.Context(), sent)
			if diff := cmp.Diff(want, statusOf(err)); diff != "" {
				t.Errorf("emulator (-want +got):\n%s", diff)
			}
			if want == "" && c.want != "" {
				notEnforced = append(notEnforced, c.name)
			}
		})
	}
	t.Logf("the emulator takes, and Check refuses: %s", strings.Join(notEnforced, "; "))
}

// The emulator refuses a document at exactly the byte DocumentSize counts past 1 MiB, whatever
// the value types: it settles how the storage-size page's sizes read.
func TestEmulatorCountsSizesAsDocumentSize(t *testing.T) {
	_, client, db := emulator(t)
	half := strings.Repeat("h", 500000)
	for _, c := range []struct {
		name string
		path string
		f    fields
	}{
		{"a map", "c/d", fields{"m": mp(fields{"s": str(half), "n": integer(1)})}},
		{"an array", "c/d", fields{"a": arr(str(half), integer(1), boolean(true))}},
		{"a reference", "c/d", fields{"r": ref(db + "/documents/x/y"), "s": str(half)}},
		{"a vector", "c/d", fields{"v": vector(3), "s": str(half)}},
		{"every scalar", "c/d", fields{"n": null(), "b": boolean(true), "d": double(1), "g": geo(), "ts": timestamp(), "by": bytesOf(3), "s": str(half)}},
		{"UTF-8", "c/d", fields{"é": str(strings.Repeat("é", 1000))}},
		{"a subcollection's document", "users/jeff/tasks/my_task_id", fields{"s": str(half)}},
	} {
		for _, over := range []int{0, 1} {
			t.Run(fmt.Sprintf("%s, limit+%d", c.name, over), func(t *testing.T) {
				doc := &firestorepb.Document{Name: db + "/documents/" + c.path, Fields: map[string]*firestorepb.Value{}}
				for k, v := range c.f {
					doc.Fields[k] = v
				}
				// "t" fills the document up to the limit, and one byte past it.
				doc.Fields["t"] = str("")
				fill := MaxDocumentBytes + over - DocumentSize(doc)
				doc.Fields["t"] = str(strings.Repeat("t", fill))
				if got := DocumentSize(doc); got != MaxDocumentBytes+over {
					t.Fatalf("DocumentSize = %d, want %d", got, MaxDocumentBytes+over)
				}
				_, err := client.Commit(t.Context(), &firestorepb.CommitRequest{Database: db, Writes: []*firestorepb.Write{
					{Operation: &firestorepb.Write_Update{Update: doc}}}})
				want := ""
				if over > 0 {
					want = refusal("maximum entity size is 1048576 bytes")
				}
				if diff := cmp.Diff(want, statusOf(err)); diff != "" {
					t.Errorf("emulator (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// The official client behind UnaryClientInterceptor meets production's limits; CheckStored
// finds a document that grew over one through updates that each passed.
func TestOfficialClientThroughInterceptor(t *testing.T) {
	host := os.Getenv(gcloudemu.Firestore.EnvVar())
	if host == "" {
		t.Skipf("no Firestore emulator: %s", emulatorMissing)
	}
	ck, err := New(ProjectConfig())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(host, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(emulatorOwner{}), grpc.WithUnaryInterceptor(ck.UnaryClientInterceptor()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	project := gcloudemu.NewProjectID(t)
	c, err := firestore.NewClient(t.Context(), project, option.WithGRPCConn(conn))
	if err != nil {
		t.Fatalf("firestore.NewClient = %v", err)
	}
	t.Cleanup(func() { c.Close() })

	increments := func(n int) []firestore.Update {
		var us []firestore.Update
		for i := range n {
			us = append(us, firestore.Update{Path: fmt.Sprintf("f%d", i), Value: firestore.Increment(1)})
		}
		return us
	}
	doc := c.Doc("counters/one")
	if _, err := doc.Set(t.Context(), map[string]any{"f0": 0}); err != nil {
		t.Fatalf("Set = %v", err)
	}
	if _, err := doc.Update(t.Context(), increments(500)); err != nil {
		t.Errorf("Update with 500 increments = %v, want it through", err)
	}
	_, err = doc.Update(t.Context(), increments(501))
	if diff := cmp.Diff(refusal("cannot have more than 500 field transforms on a single document"), statusOf(err)); diff != "" {
		t.Errorf("Update with 501 increments (-want +got):\n%s", diff)
	}

	// Two updates of an array of 20,000 numbers each: 20,002 index entries apiece, 40,004
	// together.
	grow := c.Doc("maps/grown")
	if _, err := grow.Set(t.Context(), map[string]any{}); err != nil {
		t.Fatalf("Set = %v", err)
	}
	numbers := make([]int, 20000)
	for i := range numbers {
		numbers[i] = i
	}
	for _, field := range []string{"a", "b"} {
		if _, err := grow.Update(t.Context(), []firestore.Update{{Path: field, Value: numbers}}); err != nil {
			t.Fatalf("Update of %s = %v, want it through", field, err)
		}
	}
	client := firestorepb.NewFirestoreClient(conn)
	database := "projects/" + project + "/databases/(default)"
	err = ck.CheckStored(t.Context(), client, database, database+"/documents/maps/grown", database+"/documents/maps/missing")
	if diff := cmp.Diff(refusal("too many index entries for entity /maps/grown"), statusOf(err)); diff != "" {
		t.Errorf("CheckStored (-want +got):\n%s", diff)
	}
	if err := ck.CheckStored(t.Context(), client, database, database+"/documents/counters/one"); err != nil {
		t.Errorf("CheckStored of a small document = %v", err)
	}
}
