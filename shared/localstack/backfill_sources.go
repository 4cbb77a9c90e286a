package localstack

import (
	"errors"
	"fmt"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	_ "github.com/pipelinekit/pipelinekit/shared/backfill/sourceset" // the registry SizedSource reads
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
)

// SourceKit is the local stack's support for one registered backfill source: a small job's
// spec against the stack's fake API of that source, and the keys the job yields. Every source
// in the backfill registry needs one (TestEverySourceHasAKit): it is what the source drill
// (TestDrillSources) runs end to end under injected faults. Each comes from its fake's Kit
// (the list of fakes).
type SourceKit struct {
	// Spec is the job's spec; end is the last day it covers (a few days ago).
	Spec func(b *BackfillParts, end time.Time) []byte
	// Rows is the distinct (shard, row_index) keys the job yields in backfill_rows.
	Rows int
	// Sized is a job of a chosen size (items over days days ending at end, by chunk) and the keys
	// it yields, as far as the source has such sizes; Spec's job when it has none.
	Sized func(b *BackfillParts, items, days int, chunk string, end time.Time) ([]byte, int)
	// Sizes reports whether the fake's kit has sizes (its Sized is not Spec's job).
	Sizes bool
}

// SourceKits are the kits by source name.
var SourceKits = sourceKits()

func sourceKits() map[string]SourceKit {
	out := map[string]SourceKit{}
	for _, k := range fakes {
		kit := SourceKit{Spec: func(b *BackfillParts, end time.Time) []byte { return k.Spec(b.Fake(k.Source), end) }, Rows: k.Rows, Sizes: k.Sized != nil}
		kit.Sized = func(b *BackfillParts, items, days int, chunk string, end time.Time) ([]byte, int) {
			if k.Sized == nil {
				return kit.Spec(b, end), kit.Rows
			}
			return k.Sized(b.Fake(k.Source), items, days, chunk, end)
		}
		out[k.Source] = kit
	}
	return out
}

// SizedSource is the first registered source (backfill.Sources, the registry's order) whose
// kit has sizes: the source of the benchmarks' and the demo's sized jobs, named by none of them.
func SizedSource() (string, error) {
	for _, s := range backfill.Sources() {
		if k, ok := SourceKits[s.Name()]; ok && k.Sizes {
			return s.Name(), nil
		}
	}
	return "", errors.New("no registered source's fake has a sized job")
}

// SizedSpecAlone is SizedSource's job of items over days days ending at end, by chunk, built
// without a running stack (no fake), for benchmarks that drive the Backfill function alone.
func SizedSpecAlone(items, days int, chunk string, end time.Time) ([]byte, error) {
	name, err := SizedSource()
	if err != nil {
		return nil, err
	}
	for _, k := range fakes {
		if k.Source == name {
			spec, _ := k.Sized(nil, items, days, chunk, end)
			return spec, nil
		}
	}
	return nil, fmt.Errorf("%s has no fake in the stack's list", name)
}

// SourceBenches are the sources' own benchmarks (each fake's Kit.Benches), in the list of
// fakes' order: scripts/bench runs them by name without naming a source.
func SourceBenches() []sourcestest.Bench {
	var out []sourcestest.Bench
	for _, k := range fakes {
		out = append(out, k.Benches...)
	}
	return out
}
