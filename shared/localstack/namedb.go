package localstack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	firestoreapi "cloud.google.com/go/firestore/apiv1"
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/pipelinekit/pipelinekit/shared/rankings"
)

// The Firestore emulator's export and its --import-data take one database, (default). The
// stack's other databases (the rankings') are kept by this copy instead: every document, as
// Firestore's own JSON, one per line, written on Close and committed back on the next start.

// namedDatabases are the databases besides (default) that DataDir keeps.
var namedDatabases = []string{rankings.DefaultDatabase}

// namedDatabaseFile is where DataDir keeps database db.
func namedDatabaseFile(dataDir, db string) string {
	return filepath.Join(dataDir, "firestore-"+db+".ndjson")
}

// commitBatch bounds the writes of one commit, as Firestore does.
const commitBatch = 500

func firestoreAdmin(ctx context.Context, host string) (*firestoreapi.Client, error) {
	return firestoreapi.NewClient(ctx, option.WithEndpoint(host), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
}

// saveNamedDatabases writes every document of each named database under dataDir.
func saveNamedDatabases(ctx context.Context, host, project, dataDir string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c, err := firestoreAdmin(ctx, host)
	if err != nil {
		return fmt.Errorf("saving Firestore databases: %w", err)
	}
	defer c.Close()
	var errs []error
	for _, db := range namedDatabases {
		if err := saveDatabase(ctx, c, project, db, namedDatabaseFile(dataDir, db)); err != nil {
			errs = append(errs, fmt.Errorf("saving Firestore database %s: %w", db, err))
		}
	}
	return errors.Join(errs...)
}

func saveDatabase(ctx context.Context, c *firestoreapi.Client, project, db, file string) error {
	stream, err := c.RunQuery(ctx, &pb.RunQueryRequest{
		Parent: "projects/" + project + "/databases/" + db + "/documents",
		QueryType: &pb.RunQueryRequest_StructuredQuery{StructuredQuery: &pb.StructuredQuery{
			From: []*pb.StructuredQuery_CollectionSelector{{AllDescendants: true}},
		}},
	})
	if err != nil {
		return err
	}
	tmp := file + ".new"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	w := bufio.NewWriter(f)
	for {
		res, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return err
		}
		if d := res.GetDocument(); d != nil {
			b, err := protojson.Marshal(d)
			if err != nil {
				f.Close()
				return err
			}
			w.Write(b)
			w.WriteByte('\n')
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// loadNamedDatabases commits back the documents saveNamedDatabases wrote, if any.
func loadNamedDatabases(ctx context.Context, host, project, dataDir string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var c *firestoreapi.Client
	for _, db := range namedDatabases {
		f, err := os.Open(namedDatabaseFile(dataDir, db))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if c == nil {
			if c, err = firestoreAdmin(ctx, host); err != nil {
				f.Close()
				return fmt.Errorf("loading Firestore databases: %w", err)
			}
			defer c.Close()
		}
		err = loadDatabase(ctx, c, project, db, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("loading Firestore database %s from %s: %w", db, f.Name(), err)
		}
	}
	return nil
}

func loadDatabase(ctx context.Context, c *firestoreapi.Client, project, db string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 2<<20) // a document is at most 1 MiB, as JSON somewhat more
	var writes []*pb.Write
	commit := func() error {
		if len(writes) == 0 {
			return nil
		}
		_, err := c.Commit(ctx, &pb.CommitRequest{Database: "projects/" + project + "/databases/" + db, Writes: writes})
		writes = writes[:0]
		return err
	}
	for sc.Scan() {
		var d pb.Document
		if err := protojson.Unmarshal(sc.Bytes(), &d); err != nil {
			return err
		}
		writes = append(writes, &pb.Write{Operation: &pb.Write_Update{Update: &pb.Document{Name: d.Name, Fields: d.Fields}}})
		if len(writes) == commitBatch {
			if err := commit(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return commit()
}
