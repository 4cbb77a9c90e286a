// Package firestorelimits refuses Firestore write requests that production would refuse for one
// of its documented limits, with production's gRPC code and message, so that code tested against
// Google's Firestore emulator meets the limits the emulator does not enforce.
//
// The emulator refuses a document over 1 MiB, but it took 2,000 field transforms on one document
// in one commit (production: at most 500), a 12,007-byte document name (6 KiB), and documents
// with any number of index entries (40,000). Check applies every limit of
// https://cloud.google.com/firestore/quotas (the same table as
// https://firebase.google.com/docs/firestore/quotas) that one request decides, counting sizes as
// https://cloud.google.com/firestore/docs/storage-size does. Limits returns the table: each
// limit's value, source, the day it was read, production's error and where it was seen, and what
// the emulator does; the Max* constants are the values, for code that designs within them.
//
// # Using it
//
// (*Checker).Check has the signature of a gRPC checking proxy's hook and knows Commit,
// BatchWrite, CreateDocument and UpdateDocument:
//
//	c, err := firestorelimits.New(firestorelimits.ProjectConfig())
//	...
//	iamcheck.Config{Check: c.Check, ...}
//
// UnaryClientInterceptor runs it in front of the official client instead. New takes the
// database's index configuration, which changes how many index entries a document has:
// ProjectConfig is this project's, as its Terraform declares it. DocumentSize and IndexUsage
// count one document; CheckStored checks stored documents.
//
// # What one request decides
//
// A whole-document write (a set, a create) decides every limit. An update with a mask writes only
// the masked fields, and the stored document also holds the fields it keeps: Check applies the
// size and index limits to the masked fields alone, a lower bound that refuses only what
// production would refuse too (and, like the emulator, ignores fields outside the mask). The
// values of field transforms are not known before they are applied. CheckStored reads the
// documents after such writes and applies the limits to what was stored.
//
// Where the documentation leaves a count open, Check takes the reading that refuses less: the
// parent of a document of a top-level collection adds nothing to an index entry's size, and an
// array transform is one transform whatever its number of elements (Datastore mode's page
// counts each element). An array's distinct elements have one array-contains entry each, as the
// index overview's example shows; write-ups of production logs quoted in public code say two,
// which Check does not follow unconfirmed: it may take an array of 20,000 to 40,000 elements
// that production refuses. Where the documentation and the emulator differ,
// Check follows the emulator, which is Google's code: a field path written out in an update mask
// or a transform is refused from 1,500 bytes, and a name, path or value over its limit inside a
// map gets the message "Property NAME contains an invalid nested entity.".
//
// # The 500-write limit
//
// Older SDK documentation says a batch or transaction holds at most 500 writes. Firestore's
// release notes of 2023-03-29 lifted it ("Firestore no longer limits the number of writes that
// can be passed to a Commit operation or performed in a transaction. Previously, the limit was
// 500."), and the quotas page of 2026-12-06 lists only the 10 MiB request size, the transaction
// time and the 500 field transforms per document. Check counts no writes.
//
// # Editions
//
// The limits are those of the Standard edition, which terraform/firestore.tf creates (it sets no
// database_edition). The Enterprise edition in native mode keeps the 1 MiB document; its
// MongoDB-compatible mode allows larger documents and is not covered.
//
// # Rates
//
// Some limits are on rates, not requests: about one sustained write per second to one document
// (soft; the best practices page now says it depends on the workload), 500 operations per second
// to a new collection growing by half every five minutes (the 500/50/5 rule), and 500 writes per
// second to a collection whose documents have a sequentially increasing indexed field. Check does
// nothing about them, not even count: production does not refuse a write for its rate (it slows,
// and contended transactions abort), so there is no refusal to reproduce; a per-request check
// sees no time; and in tests, which write as fast as they can on purpose, a counter would
// measure the test rather than production's traffic. The project designs for them where they
// bite: shared/rankings spreads a bucket's counts over shards, and the Terraform exempts every
// rising expires_at timestamp from indexing.
//
// Reference: docs/local-stack.md#firestores-limits.
package firestorelimits
