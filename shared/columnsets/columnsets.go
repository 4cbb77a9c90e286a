// Package columnsets keeps a signed-in person's deck column sets in Firestore: one document per
// user (deck_users/u_BASE64URL(uid)) holding at most MaxSets named sets of at most MaxColumns
// column ids each. One document makes the count check and the write one transaction, and keeps
// a device's load to one read.
//
// Reference: docs/sign-in.md.
package columnsets

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Bounds of what a user keeps. A full document is at most MaxSets*(MaxNameLen+MaxColumns*
// MaxColumnLen) = 10*(40+30*160) bytes, about 48 kB, far under Firestore's 1 MiB document
// limit (https://cloud.google.com/firestore/quotas#collections_documents_and_fields).
const (
	// MaxSets is how many named column sets one user keeps.
	MaxSets = 10
	// MaxColumns is how many columns one set holds.
	MaxColumns = 30
	// MaxColumnLen is the longest column id, in bytes: "q:" and a query of at most 100 bytes
	// (ServeRankings' MaxQueryLen), or "user:" and a 128-byte user id, fit.
	MaxColumnLen = 160
	// MaxNameLen is the longest set name, in bytes.
	MaxNameLen = 40
	// MaxBodyBytes is the largest PUT body read, in bytes: a full set in JSON with room to spare.
	MaxBodyBytes = 16 << 10
)

// Collection holds one document per user.
const Collection = "deck_users"

// Set is one named list of column ids, in the deck's order.
type Set struct {
	Name    string    `json:"name" firestore:"name"`
	Columns []string  `json:"columns" firestore:"columns"`
	Updated time.Time `json:"updated" firestore:"updated"`
}

// BadParam is a refused input: Param names the field (name, columns, columns[3], sets).
type BadParam struct {
	Param  string
	Reason string
}

func (e *BadParam) Error() string { return e.Param + ": " + e.Reason }

// CheckName refuses a set name that is empty, too long, not UTF-8 or has control characters.
func CheckName(name string) error {
	switch {
	case name == "":
		return &BadParam{Param: "name", Reason: "required"}
	case len(name) > MaxNameLen:
		return &BadParam{Param: "name", Reason: fmt.Sprintf("longer than %d bytes", MaxNameLen)}
	case !utf8.ValidString(name):
		return &BadParam{Param: "name", Reason: "not valid UTF-8"}
	case strings.ContainsFunc(name, isControl):
		return &BadParam{Param: "name", Reason: "has control characters"}
	}
	return nil
}

// CheckColumns refuses more than MaxColumns ids, or an id that is empty, too long, not UTF-8 or
// repeated. What an id means is the page's business: an unknown one is dropped when loaded.
func CheckColumns(cols []string) error {
	if len(cols) > MaxColumns {
		return &BadParam{Param: "columns", Reason: fmt.Sprintf("%d columns; a set holds at most %d", len(cols), MaxColumns)}
	}
	seen := make(map[string]bool, len(cols))
	for i, c := range cols {
		p := fmt.Sprintf("columns[%d]", i)
		switch {
		case c == "":
			return &BadParam{Param: p, Reason: "empty"}
		case len(c) > MaxColumnLen:
			return &BadParam{Param: p, Reason: fmt.Sprintf("longer than %d bytes", MaxColumnLen)}
		case !utf8.ValidString(c):
			return &BadParam{Param: p, Reason: "not valid UTF-8"}
		case strings.ContainsFunc(c, isControl):
			return &BadParam{Param: p, Reason: "has control characters"}
		case seen[c]:
			return &BadParam{Param: p, Reason: "repeats an earlier column"}
		}
		seen[c] = true
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// Store reads and writes the sets.
type Store struct {
	fs  *firestore.Client
	now func() time.Time
}

// NewStore returns a store over fs (the deck's database); now defaults to time.Now.
func NewStore(fs *firestore.Client, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{fs: fs, now: now}
}

// userDoc is the stored document.
type userDoc struct {
	UID  string         `firestore:"uid"`
	Sets map[string]Set `firestore:"sets"`
}

// docID is a valid document id for any uid: a uid may hold "/" or be "." or "..", which
// Firestore's ids may not (https://firebase.google.com/docs/firestore/quotas#collections_documents_and_fields).
func docID(uid string) string { return "u_" + base64.RawURLEncoding.EncodeToString([]byte(uid)) }

func (s *Store) doc(uid string) *firestore.DocumentRef {
	return s.fs.Collection(Collection).Doc(docID(uid))
}

// List returns uid's sets by name.
func (s *Store) List(ctx context.Context, uid string) ([]Set, error) {
	snap, err := s.doc(uid).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return []Set{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the column sets of a user: %w", err)
	}
	var d userDoc
	if err := snap.DataTo(&d); err != nil {
		return nil, fmt.Errorf("decoding the column sets of a user: %w", err)
	}
	return sorted(d.Sets), nil
}

func sorted(m map[string]Set) []Set {
	out := make([]Set, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ErrTooMany is returned (as a *BadParam on "name") when a new set would be past MaxSets.
var ErrTooMany = errors.New("too many column sets")

// Put saves set name of uid, replacing one of that name; a new name past MaxSets is refused.
func (s *Store) Put(ctx context.Context, uid, name string, cols []string) (Set, error) {
	if err := CheckName(name); err != nil {
		return Set{}, err
	}
	if err := CheckColumns(cols); err != nil {
		return Set{}, err
	}
	set := Set{Name: name, Columns: append([]string{}, cols...), Updated: s.now().UTC()}
	ref := s.doc(uid)
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		d := userDoc{UID: uid, Sets: map[string]Set{}}
		snap, err := tx.Get(ref)
		switch {
		case status.Code(err) == codes.NotFound:
		case err != nil:
			return err
		default:
			if err := snap.DataTo(&d); err != nil {
				return err
			}
			if d.Sets == nil {
				d.Sets = map[string]Set{}
			}
		}
		if _, ok := d.Sets[name]; !ok && len(d.Sets) >= MaxSets {
			return &BadParam{Param: "name", Reason: fmt.Sprintf("a user keeps at most %d column sets; delete one first", MaxSets)}
		}
		d.Sets[name] = set
		return tx.Set(ref, d)
	})
	var bad *BadParam
	if errors.As(err, &bad) {
		return Set{}, bad
	}
	if err != nil {
		return Set{}, fmt.Errorf("saving a column set of a user: %w", err)
	}
	return set, nil
}

// Delete removes set name of uid; a missing set is no error.
func (s *Store) Delete(ctx context.Context, uid, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	_, err := s.doc(uid).Update(ctx, []firestore.Update{{FieldPath: firestore.FieldPath{"sets", name}, Value: firestore.Delete}})
	if status.Code(err) == codes.NotFound {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting a column set of a user: %w", err)
	}
	return nil
}

// DefaultDatabase is the Firestore database the sets are kept in (Terraform's deck_database).
const DefaultDatabase = "deck"
