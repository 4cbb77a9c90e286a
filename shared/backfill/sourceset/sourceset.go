// Package sourceset registers the backfill sources: one line per source. Every part of the
// backfill core that reads specs or runs tasks (the Backfill function, RunBackfillTask, the
// backfill CLI) imports it, so they all know the same sources without naming one.
//
// Reference: docs/sources.md.
package sourceset

import (
	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources/ga4"
	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson"
	"github.com/pipelinekit/pipelinekit/shared/sources/xsearch"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube"
)

// All are the backfill sources, one line each, in the order error messages list them.
var All = []backfill.Source{
	youtube.Source{},
	httpjson.Source{},
	ga4.Source{},
	xsearch.Source{},
}

func init() { backfill.Register(All...) }
