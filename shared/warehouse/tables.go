package warehouse

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"

	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/terraform/schemas"
)

// TableSpec is how one table is laid out: its schema file, its partition column (daily time
// partitioning) and its clustering columns, chosen for what the views and rankings filter by.
// Terraform declares the same values; the terraform tests compare them.
type TableSpec struct {
	Name        string
	PartitionBy string
	ClusterBy   []string
	Description string
}

// TableBackfillRows is the table backfill workers append API rows to.
const TableBackfillRows = "backfill_rows"

// TableRedrives records which dead letters scripts/redrive published again (shared/redrive);
// the dead_letters_pending view leaves those out.
const TableRedrives = "redrives"

// ViewDeadLettersPending is the view of dead letters not yet redriven.
const ViewDeadLettersPending = "dead_letters_pending"

// TableSpecs lists every table of the dataset.
var TableSpecs = []TableSpec{
	{Name: event.TableTweets, PartitionBy: "event_time", ClusterBy: []string{"kind", "tweet_id"}, Description: "Tweets, retweets, replies and quotes from the X stream and replays."},
	{Name: event.TableStreamEvents, PartitionBy: "event_time", ClusterBy: []string{"kind", "tweet_id"}, Description: "X stream control messages (delete, limit, disconnect...) and v2 stream errors."},
	{Name: event.TableAppEvents, PartitionBy: "event_time", ClusterBy: []string{"kind", "user_id"}, Description: "App events: searches, detail views and other kinds."},
	{Name: event.TableDeadLetters, PartitionBy: "dead_lettered_at", ClusterBy: []string{"stage", "kind"}, Description: "Messages that can never load, whole, with the reason."},
	{Name: TableBackfillRows, PartitionBy: "fetched_at", ClusterBy: []string{"job_id", "shard"}, Description: "Rows fetched by backfills, keyed by (job_id, shard, row_index)."},
	{Name: TableRedrives, PartitionBy: "redriven_at", ClusterBy: []string{"message_id"}, Description: "Dead letters published again by scripts/redrive, one row per dead letter message id."},
}

// EnsureDataset creates the dataset, its tables and its views unless they exist, from the same
// schema files and view queries Terraform uses. The local stack and tests use it; production
// datasets are Terraform's.
func EnsureDataset(ctx context.Context, c *bigquery.Client, dataset string) error {
	ds := c.Dataset(dataset)
	if err := ds.Create(ctx, &bigquery.DatasetMetadata{Description: "pipelinekit events"}); err != nil && !isConflict(err) {
		return fmt.Errorf("creating dataset %s: %w", dataset, err)
	}
	for _, spec := range TableSpecs {
		js, err := schemas.Table(spec.Name)
		if err != nil {
			return err
		}
		schema, err := bigquery.SchemaFromJSON(js)
		if err != nil {
			return fmt.Errorf("parsing schema of %s: %w", spec.Name, err)
		}
		md := &bigquery.TableMetadata{
			Schema:           schema,
			Description:      spec.Description,
			TimePartitioning: &bigquery.TimePartitioning{Type: bigquery.DayPartitioningType, Field: spec.PartitionBy},
			Clustering:       &bigquery.Clustering{Fields: spec.ClusterBy},
		}
		if err := ds.Table(spec.Name).Create(ctx, md); err != nil && !isConflict(err) {
			return fmt.Errorf("creating table %s.%s: %w", dataset, spec.Name, err)
		}
	}
	views, err := schemas.Views(c.Project(), dataset)
	if err != nil {
		return err
	}
	for _, v := range views {
		md := &bigquery.TableMetadata{ViewQuery: v.Query}
		if err := ds.Table(v.Name).Create(ctx, md); err != nil && !isConflict(err) {
			return fmt.Errorf("creating view %s.%s: %w", dataset, v.Name, err)
		}
	}
	return nil
}

func isConflict(err error) bool {
	var ge *googleapi.Error
	return errors.As(err, &ge) && ge.Code == http.StatusConflict
}
