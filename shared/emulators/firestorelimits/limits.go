package firestorelimits

import (
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The limits as numbers, for code that has to stay within them. Each is the value of a row of
// Limits(), where its source and production's error are recorded.
const (
	// MaxRequestBytes is the largest API request (the serialized request message) Firestore takes.
	MaxRequestBytes = 10 << 20
	// MaxTransformsPerDocument is the most field transforms (increment, serverTimestamp,
	// arrayUnion, ...) one Commit or BatchWrite may apply to one document, over all its writes.
	MaxTransformsPerDocument = 500
	// MaxIDBytes is the longest collection ID or document ID, in UTF-8 bytes.
	MaxIDBytes = 1500
	// MaxDocumentNameBytes is the largest document name, as the storage-size page counts it
	// (DocumentNameSize): each collection and document ID plus one byte, plus 16.
	MaxDocumentNameBytes = 6 << 10
	// MaxFieldNameBytes is the longest field name (one map key), in UTF-8 bytes.
	MaxFieldNameBytes = 1500
	// MaxFieldPathBytes is the longest field path a document's nesting implies: the names from
	// the top-level field down, joined by dots, unquoted. A path written out as a string, in an
	// update mask or a transform, must be shorter: Firestore refuses one of exactly 1,500 bytes.
	MaxFieldPathBytes = 1500
	// MaxFieldValueBytes is the longest string or bytes value, in bytes.
	MaxFieldValueBytes = 1<<20 - 89
	// MaxDepth is the deepest nesting of maps and arrays in one field: a map holding a scalar is
	// depth 1.
	MaxDepth = 20
	// MaxDocumentBytes is the largest document, as DocumentSize counts it.
	MaxDocumentBytes = 1 << 20
	// MaxIndexEntriesPerDocument is the most index entries, single-field and composite, that one
	// document may have.
	MaxIndexEntriesPerDocument = 40000
	// MaxIndexEntryBytes is the largest single index entry, as the storage-size page counts it.
	MaxIndexEntryBytes = 7680
	// MaxIndexEntriesBytes is the largest sum of the sizes of one document's index entries.
	MaxIndexEntriesBytes = 8 << 20
	// MaxIndexedValueBytes is where Firestore truncates a value in an index entry; longer values
	// are stored whole, so this is not an error, but index entry sizes count at most this much.
	MaxIndexedValueBytes = 1500
)

// Read is the day the sources in Limits were read.
const Read = "2026-12-06"

// The pages the limits come from.
const (
	quotasURL       = "https://cloud.google.com/firestore/quotas"
	storageSizeURL  = "https://cloud.google.com/firestore/docs/storage-size"
	releaseNotesURL = "https://cloud.google.com/firestore/docs/release-notes#March_29_2023"
	bestPracticeURL = "https://firebase.google.com/docs/firestore/best-practices"
	indexesURL      = "https://cloud.google.com/firestore/docs/concepts/index-overview#indexing_best_practices"
)

// Limit is one of Firestore's documented limits, where it is written down, and what production
// and the emulator answer a request over it.
type Limit struct {
	// Name says what is limited.
	Name string
	// Value is the limit in Unit; 0 where Google documents that there is none.
	Value int64
	// Unit is what Value counts.
	Unit string
	// Source is the page that states the limit, read on Read.
	Source string
	// Read is the day Source was read.
	Read string
	// Code is the gRPC code of production's refusal (and of Check's).
	Code codes.Code
	// Message is the refusal's text as a fmt format (its operands are described in Operands).
	// Production's own words where MessageSource says so; otherwise this package's, and it
	// begins "firestorelimits:" so that nobody takes it for production's.
	Message string
	// Operands says what fills Message's verbs, in order.
	Operands string
	// MessageSource is where the message was seen.
	MessageSource string
	// Emulator is what Google's Firestore emulator (cloud-firestore-emulator, as gcloud ships it
	// here) does with a request over the limit, as this package's emulator test records it.
	Emulator string
	// Checked is true when Check refuses requests over the limit.
	Checked bool
	// Note says how the limit is counted, or why Check cannot decide it.
	Note string
}

// errorf returns the limit's refusal as a gRPC status error.
func (l Limit) errorf(args ...any) error {
	return status.Error(l.Code, fmt.Sprintf(l.Message, args...))
}

// The rows of Limits, named so that Check builds its errors from the same definitions.
var (
	requestSize = Limit{
		Name: "API request size", Value: MaxRequestBytes, Unit: "bytes (10 MiB)",
		Source: quotasURL + "#writes_and_transactions", Read: Read,
		Code: codes.InvalidArgument, Message: "Request payload size exceeds the limit: 10485760 bytes.",
		MessageSource: "https://github.com/Johannes-Berggren/firestore-to-bigquery-export/issues/3 (Firestore); the code as Spanner's front end gives it, " +
			"https://github.com/GoogleCloudPlatform/cloud-spanner-r2dbc/pull/110",
		Emulator: "refuses any request over 4 MiB (4,194,304 bytes), its gRPC server's default, with RESOURCE_EXHAUSTED " +
			`"gRPC message exceeds maximum size 4194304: N": stricter than production, so commits of 4 to 10 MiB cannot be tried against it`,
		Checked: true, Note: "the serialized size of the request message (proto.Size)",
	}
	writesPerCommit = Limit{
		Name: "writes per Commit or transaction", Value: 0, Unit: "writes (no limit)",
		Source: releaseNotesURL, Read: Read,
		MessageSource: `until 2023-03-29: "maximum 500 writes allowed per request", https://github.com/firebase/firebase-functions/issues/408`,
		Emulator:      "no limit (1,000 writes in one commit accepted, 2026-12-06; not in the emulator test, where it would cost seconds)",
		Note: "The release notes of 2023-03-29: Firestore no longer limits the number of writes passed to a Commit or performed in a transaction " +
			"(previously 500); the request size and the transaction time limit still apply. The quotas page of " + Read + " lists no such limit. " +
			"Older SDK docs (WriteBatch: \"the maximum number of writes allowed in a single WriteBatch is 500\") predate it.",
	}
	transformsPerDocument = Limit{
		Name: "field transforms per document in one Commit or transaction", Value: MaxTransformsPerDocument, Unit: "transforms",
		Source: quotasURL + "#writes_and_transactions", Read: Read,
		Code: codes.InvalidArgument, Message: "cannot have more than 500 field transforms on a single document",
		MessageSource: "production's text as public code matches on it (code search, " + Read + "; the index names no repository)",
		Emulator:      "no limit (2,000 transforms on one document in one commit accepted)",
		Checked:       true,
		Note: "every FieldTransform of every write to the document in the request (update_transforms and the older transform operation). " +
			"Datastore mode's limits page counts each element of an array transform separately; Firestore's page does not say so, and Check does not.",
	}
	idSize = Limit{
		Name: "collection ID or document ID size", Value: MaxIDBytes, Unit: "bytes",
		Source: quotasURL, Read: Read,
		Code: codes.InvalidArgument, Message: "The key path element %s is longer than 1500 bytes.",
		Operands: `"name" for a document ID, "kind" for a collection ID`,
		MessageSource: `for a document ID https://github.com/oboapp/oboapp/issues/554, https://github.com/blinkk/rootjs/issues/1255; ` +
			`for a collection ID the emulator's text ("kind")`,
		Emulator: "refuses, same texts", Checked: true,
	}
	documentNameSize = Limit{
		Name: "document name size", Value: MaxDocumentNameBytes, Unit: "bytes (6 KiB), counted as DocumentNameSize",
		Source: quotasURL, Read: Read,
		Code:          codes.InvalidArgument,
		Message:       "firestorelimits: the name of document '%s' is %s bytes, over Firestore's documented maximum of 6,144 bytes (6 KiB)",
		Operands:      "the document's full resource name; its DocumentNameSize with thousands separators",
		MessageSource: "this package's words: production's text was not found in public reports",
		Emulator:      "no limit (a 12,007-byte path accepted)", Checked: true,
		Note: "the quotas page does not say how the name is counted; Check counts it as the storage-size page counts a document name " +
			"(each ID plus one byte, plus 16), on the path below /documents/",
	}
	fieldNameSize = Limit{
		Name: "field name size", Value: MaxFieldNameBytes, Unit: "bytes",
		Source: quotasURL, Read: Read,
		Code: codes.InvalidArgument, Message: "The property.name is longer than 1500 bytes.",
		MessageSource: "the emulator's text for a top-level field (production's was not found in public reports); " +
			"a longer name inside a map gets the nested-entity message of the maximum depth row",
		Emulator: "refuses, same text", Checked: true,
	}
	fieldPathSize = Limit{
		Name: "field path size", Value: MaxFieldPathBytes, Unit: "bytes",
		Source: quotasURL, Read: Read,
		Code: codes.InvalidArgument, Message: "property path is longer than 1500 bytes.",
		MessageSource: "the emulator's text for an update mask path (production's was not found in public reports); a document whose " +
			"nesting implies a longer path gets the nested-entity message of the maximum depth row",
		Emulator: "refuses an update mask path of 1,500 bytes or more, and a document whose nesting implies a path over 1,500 bytes; " +
			"does not check transform paths (a 1,500-byte transform path accepted)",
		Checked: true,
		Note: "paths implied by nesting: map keys from the top-level field down, joined by dots, unquoted, arrays adding nothing; " +
			"paths written out (update masks, transforms): the string as sent, refused from 1,500 bytes as the emulator does",
	}
	fieldValueSize = Limit{
		Name: "field value size", Value: MaxFieldValueBytes, Unit: "bytes (1 MiB - 89)",
		Source: quotasURL, Read: Read,
		Code: codes.InvalidArgument, Message: `The value of property "%s" is longer than 1048487 bytes.`,
		Operands: "the top-level field's name",
		MessageSource: "https://github.com/excalidraw/excalidraw/issues/4839 (production); the same text on Datastore's troubleshooting page, " +
			"https://cloud.google.com/datastore/docs/troubleshooting",
		Emulator: "refuses, same text", Checked: true,
		Note: "the UTF-8 length of a string or the length of a bytes value, at the top level or directly in a top-level array; " +
			"inside a map it gets the nested-entity message. Larger maps and arrays meet the document size limit instead",
	}
	depth = Limit{
		Name: "depth of maps and arrays", Value: MaxDepth, Unit: "levels",
		Source: quotasURL, Read: Read,
		Code: codes.InvalidArgument, Message: "Property %s contains an invalid nested entity.",
		Operands:      "the top-level field's name",
		MessageSource: "https://github.com/thepirat000/Audit.NET/pull/762 (production, gRPC InvalidArgument), https://github.com/codeforbtv/green-up-app-old/issues/116",
		Emulator:      "refuses, same text", Checked: true,
		Note: "each map or array adds a level (a map holding a scalar is 1). The emulator gives the same message for a name over 1,500 bytes, " +
			"a path over 1,500 bytes or a value over 1,048,487 bytes inside a map, and so does Check",
	}
	documentSize = Limit{
		Name: "document size", Value: MaxDocumentBytes, Unit: "bytes (1 MiB), counted as DocumentSize",
		Source: quotasURL, Read: Read,
		Code:          codes.InvalidArgument,
		Message:       "Document '%s' cannot be written because its size (%s bytes) exceeds the maximum allowed size of 1,048,576 bytes.",
		Operands:      "the document's full resource name; its DocumentSize with thousands separators",
		MessageSource: "https://github.com/divriots/story-to-design/issues/41 (code 3 INVALID_ARGUMENT), https://github.com/SESAC-AIoT/smart-farm/issues/2",
		Emulator: `refuses with "maximum entity size is 1048576 bytes", counting sizes as DocumentSize does ` +
			"(1,048,576 accepted and 1,048,577 refused, with maps, arrays, references, vectors and every scalar type)",
		Checked: true,
		Note: "decidable for a whole-document write; for an update with a mask Check counts the masked fields alone, " +
			"a lower bound (the stored document can be checked after the write with CheckStored)",
	}
	indexEntries = Limit{
		Name: "index entries per document", Value: MaxIndexEntriesPerDocument, Unit: "entries",
		Source: quotasURL + "#indexes", Read: Read,
		Code: codes.InvalidArgument, Message: "too many index entries for entity /%s",
		Operands: "the document's path below /documents/",
		MessageSource: "https://github.com/divriots/story-to-design/issues/183 (production; that report's Lite SDK shows failed-precondition, " +
			"other reports quoted in public code show INVALID_ARGUMENT, which Check uses)",
		Emulator: "no limit (a map of 20,001 fields, 40,004 entries, and an array of 45,000 elements accepted)",
		Checked:  true,
		Note: "single-field entries as the index overview counts them (ascending and descending per field, map and array alike, plus one " +
			"array-contains entry per distinct element; subfields of maps recursively), less the Exemptions, plus the CompositeIndexes' entries",
	}
	indexEntrySize = Limit{
		Name: "index entry size", Value: MaxIndexEntryBytes, Unit: "bytes (7.5 KiB), counted as the storage-size page counts an entry",
		Source: quotasURL + "#indexes", Read: Read,
		Code:          codes.InvalidArgument,
		Message:       "firestorelimits: an index entry of document '%s' for %s is %s bytes, over Firestore's documented maximum of 7,680 bytes (7.5 KiB)",
		Operands:      "the document's full resource name; the field path (or the composite index's fields); the entry's size",
		MessageSource: "this package's words: production's text was not found in public reports",
		Emulator:      "no limit", Checked: true,
		Note: "document name + parent document name (none for a top-level collection: the page does not say) + field path + value " +
			"(at most 1,500 bytes: indexed values are truncated) + 32",
	}
	indexEntriesSize = Limit{
		Name: "sum of a document's index entry sizes", Value: MaxIndexEntriesBytes, Unit: "bytes (8 MiB)",
		Source: quotasURL + "#indexes", Read: Read,
		Code:          codes.InvalidArgument,
		Message:       "firestorelimits: the index entries of document '%s' add up to %s bytes, over Firestore's documented maximum of 8,388,608 bytes (8 MiB)",
		Operands:      "the document's full resource name; the sum with thousands separators",
		MessageSource: "this package's words: production's text was not found in public reports",
		Emulator:      "no limit", Checked: true,
	}
	transactionTime = Limit{
		Name: "transaction time", Value: 270, Unit: "seconds, with a 60-second idle expiration",
		Source: quotasURL + "#writes_and_transactions", Read: Read,
		Note: "a matter of time between requests, not of one request: Check does not see it",
	}
	documentWriteRate = Limit{
		Name: "sustained writes to one document (soft)", Value: 1, Unit: "write per second",
		Source: "https://firebase.google.com/products/extensions/firebase-firestore-counter", Read: Read,
		Note: `"Cloud Firestore has a limit of one sustained write per second, per document"; the best practices page now says the maximum ` +
			"rate depends on the workload (" + bestPracticeURL + "#updates_to_a_single_document). Rates are outside one request: see doc.go",
	}
	rampUp = Limit{
		Name: "traffic to a new collection (the 500/50/5 rule)", Value: 500, Unit: "operations per second, then +50% every 5 minutes",
		Source: bestPracticeURL + "#ramping_up_traffic", Read: Read,
		Note: "a recommendation about rates: see doc.go",
	}
	sequentialIndexRate = Limit{
		Name: "writes to a collection with a sequentially increasing indexed field", Value: 500, Unit: "writes per second",
		Source: indexesURL, Read: Read,
		Note: "lifted by exempting the field from indexing, as the project's Terraform does for expires_at: see doc.go",
	}
)

// Limits returns Firestore's documented limits that bear on writes, in the order Check applies
// the checked ones, followed by those it cannot check.
func Limits() []Limit {
	return []Limit{
		requestSize, writesPerCommit, transformsPerDocument, idSize, documentNameSize, fieldNameSize, fieldPathSize,
		fieldValueSize, depth, documentSize, indexEntries, indexEntrySize, indexEntriesSize,
		transactionTime, documentWriteRate, rampUp, sequentialIndexRate,
	}
}

// commas writes n with thousands separators, as production's messages do (1,048,667).
func commas(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + commas(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
