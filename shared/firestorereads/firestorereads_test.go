package firestorereads

import (
	"fmt"
	"os"
	"testing"

	"cloud.google.com/go/firestore"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
)

func TestMain(m *testing.M) {
	os.Exit(gcloudemu.Main(m, gcloudemu.Firestore))
}

// Each document the client receives is one read, by whichever call; a missing document is none.
func TestCounterCountsDocumentsReturned(t *testing.T) {
	var c Counter
	opts, err := c.Options()
	if err != nil {
		t.Fatalf("Options() = %v", err)
	}
	client, err := firestore.NewClient(t.Context(), gcloudemu.NewProjectID(t), opts...)
	if err != nil {
		t.Fatalf("firestore.NewClient() = %v", err)
	}
	t.Cleanup(func() { client.Close() })
	col := client.Collection("docs")
	b := client.Batch()
	for i := range 5 {
		b.Set(col.Doc(fmt.Sprintf("d%d", i)), map[string]any{"i": i})
	}
	if _, err := b.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name        string
		read        func() error
		reads, most int64
	}{
		{"Get", func() error { _, err := col.Doc("d1").Get(t.Context()); return err }, 1, 1},
		{"Get of a missing document", func() error { _, _ = col.Doc("none").Get(t.Context()); return nil }, 1, 1},
		{"GetAll", func() error {
			_, err := client.GetAll(t.Context(), []*firestore.DocumentRef{col.Doc("d0"), col.Doc("d2")})
			return err
		}, 3, 2},
		{"query", func() error { _, err := col.Documents(t.Context()).GetAll(); return err }, 8, 5},
		{"query with a limit", func() error { _, err := col.Limit(2).Documents(t.Context()).GetAll(); return err }, 10, 5},
	}
	for _, s := range steps {
		if err := s.read(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got, most := c.Reads(), int64(c.LargestCall()); got != s.reads || most != s.most {
			t.Errorf("after %s: Reads() = %d, LargestCall() = %d; want %d, %d", s.name, got, most, s.reads, s.most)
		}
	}
}
