package firestorelimits

import (
	"context"
	"errors"
	"fmt"
	"io"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
)

// CheckStored reads the named documents (full resource names) and applies the limits on a
// stored document to each: its size and its index entries. Check can only bound an update with
// a mask or transforms by what the request holds; after such a write, CheckStored says whether
// the document that resulted is one production would have refused. It returns the first
// refusal, with production's code and message, or an error if the documents cannot be read;
// missing documents pass. client is the generated client over any connection
// (firestorepb.NewFirestoreClient(conn)); database is projects/P/databases/D.
func (c *Checker) CheckStored(ctx context.Context, client firestorepb.FirestoreClient, database string, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	stream, err := client.BatchGetDocuments(ctx, &firestorepb.BatchGetDocumentsRequest{Database: database, Documents: names})
	if err != nil {
		return fmt.Errorf("reading %d documents of %s: %w", len(names), database, err)
	}
	var refusal error
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return refusal
		}
		if err != nil {
			return fmt.Errorf("reading %d documents of %s: %w", len(names), database, err)
		}
		doc := resp.GetFound()
		if doc == nil || refusal != nil {
			continue
		}
		refusal = c.checkStored(doc.GetName(), relativeName(doc.GetName()), doc.GetFields())
	}
}
