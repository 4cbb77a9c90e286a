// Command keys creates, lists, rotates and revokes CollectEvents' write keys (docs/collect.md).
//
//	go run ./scripts/keys --project P create --app shop --origin https://shop.example --rate 20 --burst 40
//	go run ./scripts/keys --project P list
//	go run ./scripts/keys --project P rotate ID
//	go run ./scripts/keys --project P revoke ID
//
// A new key is printed once, on stdout; only its hash is stored. It runs as the person who
// starts it, with Application Default Credentials (roles/datastore.user on the project);
// against the local stack FIRESTORE_EMULATOR_HOST points it at the emulator. A revocation
// takes effect on every CollectEvents instance within WRITE_KEY_TTL (30 s by default).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pipelinekit/pipelinekit/shared/writekeys"
)

const usage = `usage: go run ./scripts/keys [--project P] [--collection C] COMMAND
commands:
  create --app APP [--origin URL]... [--rate N] [--burst N] [--note TEXT]
         a key with no --origin is a server key: refused to requests from browsers
  list [--json]
  rotate ID    a new key with ID's settings; ID is revoked (--keep-old leaves it live)
  revoke ID
`

func main() {
	project := flag.String("project", os.Getenv("GOOGLE_CLOUD_PROJECT"), "Google Cloud project of the Firestore database")
	collection := flag.String("collection", writekeys.DefaultCollection, "Firestore collection of the keys (CollectEvents' WRITE_KEYS_COLLECTION)")
	flag.Usage = func() { fmt.Fprint(os.Stderr, usage); flag.PrintDefaults() }
	flag.Parse()
	if *project == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx := context.Background()
	fs, err := firestore.NewClient(ctx, *project)
	if err != nil {
		fmt.Fprintf(os.Stderr, "keys: creating Firestore client for project %s: %v\n", *project, err)
		os.Exit(1)
	}
	defer fs.Close()
	if err := run(ctx, writekeys.NewFirestoreStore(fs, *collection), flag.Args(), os.Stdout, time.Now); err != nil {
		fmt.Fprintf(os.Stderr, "keys: %v\n", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

// origins collects repeated --origin flags.
type origins []string

func (o *origins) String() string     { return strings.Join(*o, ",") }
func (o *origins) Set(s string) error { *o = append(*o, s); return nil }

// run runs one command against store and writes what it has to say to out.
func run(ctx context.Context, store writekeys.Store, args []string, out io.Writer, now func() time.Time) error {
	cmd, args := args[0], args[1:]
	fl := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	switch cmd {
	case "create":
		var rec writekeys.Key
		var allowed origins
		fl.StringVar(&rec.App, "app", "", "app whose events the key sends")
		fl.Var(&allowed, "origin", "page origin allowed to send (repeat)")
		fl.Float64Var(&rec.RatePerSec, "rate", 10, "requests per second, across all instances")
		fl.IntVar(&rec.Burst, "burst", 20, "requests at once")
		fl.StringVar(&rec.Note, "note", "", "what the key is for")
		if err := fl.Parse(args); err != nil {
			return usageError{err}
		}
		rec.Origins = allowed
		return create(ctx, store, rec, out, now)
	case "list":
		asJSON := fl.Bool("json", false, "one JSON object per key")
		if err := fl.Parse(args); err != nil {
			return usageError{err}
		}
		return list(ctx, store, *asJSON, out)
	case "rotate", "revoke":
		keepOld := fl.Bool("keep-old", false, "rotate only: leave the old key live (revoke it later)")
		if err := fl.Parse(args); err != nil {
			return usageError{err}
		}
		if fl.NArg() != 1 {
			return usageError{fmt.Errorf("%s takes one key id", cmd)}
		}
		old, found, err := store.Get(ctx, fl.Arg(0))
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("no write key with id %q", fl.Arg(0))
		}
		if cmd == "rotate" {
			next := writekeys.Key{App: old.App, Origins: old.Origins, RatePerSec: old.RatePerSec, Burst: old.Burst,
				Note: strings.TrimSpace(old.Note + " (rotated from " + old.ID + ")")}
			if err := create(ctx, store, next, out, now); err != nil {
				return err
			}
			if *keepOld {
				return nil
			}
		}
		if old.Revoked {
			fmt.Fprintf(out, "%s was already revoked at %s\n", old.ID, old.RevokedAt.Format(time.RFC3339))
			return nil
		}
		old.Revoked, old.RevokedAt = true, now().UTC()
		if err := store.Put(ctx, old); err != nil {
			return err
		}
		fmt.Fprintf(out, "revoked %s; every instance refuses it within WRITE_KEY_TTL\n", old.ID)
		return nil
	}
	return usageError{fmt.Errorf("unknown command %q", cmd)}
}

func create(ctx context.Context, store writekeys.Store, rec writekeys.Key, out io.Writer, now func() time.Time) error {
	key, rec, err := writekeys.New(rec, now())
	if err != nil {
		return usageError{err}
	}
	if err := store.Put(ctx, rec); err != nil {
		return err
	}
	kind := "browser key for " + strings.Join(rec.Origins, ", ")
	if len(rec.Origins) == 0 {
		kind = "server key (keep it secret: it has no origin list)"
	}
	fmt.Fprintf(out, "created %s: app %s, %s, %g/s burst %d\n%s\n", rec.ID, rec.App, kind, rec.RatePerSec, rec.Burst, key)
	return nil
}

func list(ctx context.Context, store writekeys.Store, asJSON bool, out io.Writer) error {
	keys, err := store.List(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(out)
		for _, k := range keys {
			if err := enc.Encode(k); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAPP\tSTATE\tRATE/S\tBURST\tORIGINS\tCREATED\tNOTE")
	for _, k := range keys {
		state := "live"
		if k.Revoked {
			state = "revoked"
		}
		o := strings.Join(k.Origins, ",")
		if o == "" {
			o = "(server key)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%g\t%d\t%s\t%s\t%s\n", k.ID, k.App, state, k.RatePerSec, k.Burst, o, k.CreatedAt.Format(time.RFC3339), k.Note)
	}
	return tw.Flush()
}
