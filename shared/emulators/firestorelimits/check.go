package firestorelimits

import (
	"context"
	"strings"

	"cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// The methods Check knows, as gRPC names them (an interceptor's or a proxy's fullMethod).
const (
	MethodCommit         = "/google.firestore.v1.Firestore/Commit"
	MethodBatchWrite     = "/google.firestore.v1.Firestore/BatchWrite"
	MethodCreateDocument = "/google.firestore.v1.Firestore/CreateDocument"
	MethodUpdateDocument = "/google.firestore.v1.Firestore/UpdateDocument"
)

// Config is what a Checker knows about the database beyond the request: which single-field
// indexes are exempted and which composite indexes exist, both of which change how many index
// entries a document has. The zero Config is a database with automatic indexing and nothing else.
type Config struct {
	// Exemptions are the single-field index exemptions (Terraform's google_firestore_field).
	Exemptions []Exemption
	// CompositeIndexes are the composite indexes (Terraform's google_firestore_index).
	CompositeIndexes []CompositeIndex
}

// Checker refuses write requests that production Firestore would refuse for one of its
// documented limits, with production's code and message. It holds no state between requests:
// one Checker serves any number of goroutines.
type Checker struct {
	exemptions map[string][]exemption // by collection group
	composites map[string][]composite // by collection group
}

// New returns a Checker for a database with cfg's indexes, or an error if an exemption or
// index does not parse.
func New(cfg Config) (*Checker, error) {
	exs, comps, err := compileIndexes(cfg.Exemptions, cfg.CompositeIndexes)
	if err != nil {
		return nil, err
	}
	return &Checker{exemptions: exs, composites: comps}, nil
}

var automatic = &Checker{}

// Check is (*Checker).Check for a database with automatic indexing and no exemptions or
// composite indexes.
func Check(fullMethod string, req proto.Message) error {
	return automatic.Check(context.Background(), fullMethod, req)
}

// Check returns the gRPC status error production Firestore would answer req with for the first
// limit it is over, or nil. fullMethod is the gRPC method name
// (/google.firestore.v1.Firestore/Commit); methods other than Commit, BatchWrite, CreateDocument
// and UpdateDocument, and a req that is not that method's request, are nil. Its signature is
// that of a gRPC checking proxy's hook; ctx is not used.
func (c *Checker) Check(_ context.Context, fullMethod string, req proto.Message) error {
	var ws []*firestorepb.Write
	switch fullMethod {
	case MethodCommit:
		r, ok := req.(*firestorepb.CommitRequest)
		if !ok {
			return nil
		}
		ws = r.GetWrites()
	case MethodBatchWrite:
		r, ok := req.(*firestorepb.BatchWriteRequest)
		if !ok {
			return nil
		}
		ws = r.GetWrites()
	case MethodCreateDocument:
		r, ok := req.(*firestorepb.CreateDocumentRequest)
		if !ok {
			return nil
		}
		ws = []*firestorepb.Write{createWrite(r)}
	case MethodUpdateDocument:
		r, ok := req.(*firestorepb.UpdateDocumentRequest)
		if !ok {
			return nil
		}
		ws = []*firestorepb.Write{{
			Operation:  &firestorepb.Write_Update{Update: r.GetDocument()},
			UpdateMask: r.GetUpdateMask(),
		}}
	default:
		return nil
	}
	// Google's front end measures the request before Firestore reads it.
	if n := proto.Size(req); n > MaxRequestBytes {
		return requestSize.errorf()
	}
	return c.checkWrites(ws)
}

// createWrite is the write a CreateDocument request makes. Without a document ID the server
// picks one of 20 characters; a placeholder of that length sizes the name.
func createWrite(r *firestorepb.CreateDocumentRequest) *firestorepb.Write {
	id := r.GetDocumentId()
	if id == "" {
		id = strings.Repeat("x", 20)
	}
	doc := &firestorepb.Document{
		Name:   strings.TrimSuffix(r.GetParent(), "/") + "/" + r.GetCollectionId() + "/" + id,
		Fields: r.GetDocument().GetFields(),
	}
	return &firestorepb.Write{Operation: &firestorepb.Write_Update{Update: doc}}
}

// UnaryClientInterceptor returns an interceptor that checks each request before sending it, so
// that the official client, pointed at the emulator, meets production's limits:
//
//	firestore.NewClient(ctx, project, option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(c.UnaryClientInterceptor())))
//
// (chained: the client installs an interceptor of its own for the emulator).
func (c *Checker) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if m, ok := req.(proto.Message); ok {
			if err := c.Check(ctx, method, m); err != nil {
				return err
			}
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}
