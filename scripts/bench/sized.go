package main

import (
	"fmt"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/localstack"
)

// sizedSpec is the spec of a job of items×days tasks (a task a day) ending at end, of the first
// registered source whose fake's kit has sizes (localstack.SizedSource), against s's fake: the
// job the fan-out, scale and cold-start benchmarks run, whatever the source.
func sizedSpec(s *localstack.Stack, items, days int, end time.Time) ([]byte, error) {
	name, err := localstack.SizedSource()
	if err != nil {
		return nil, err
	}
	if s.Backfill == nil {
		return nil, fmt.Errorf("a sized job of %s needs the stack's backfill parts", name)
	}
	spec, _ := localstack.SourceKits[name].Sized(s.Backfill, items, days, "day", end)
	return spec, nil
}
