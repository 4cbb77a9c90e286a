package main

// The price table of the cost report (bench_cost.go): every list price it turns counted
// operations into dollars with, each with the page it was read from and when. Prices are US
// dollars, list, before free tiers (a busy project is past them), in the Terraform defaults'
// locations: functions and queues in us-central1 (Tier 1 for Cloud Run), Firestore in nam5 (a
// multi-region). A price whose page excerpt did not show the figure is 0 and says so: the report
// then prints the quantity, not a made-up dollar figure.

// Price is one list price.
type Price struct {
	// USD per Per units of Unit.
	USD  float64
	Per  float64
	Unit string
	// Source is the page the price was read from, Read the date, Note what else it says.
	Source, Read, Note string
}

// Cost returns the dollars of n units.
func (p Price) Cost(n float64) float64 {
	if p.Per == 0 {
		return 0
	}
	return p.USD * n / p.Per
}

const pricesRead = "2026-12-07"

const (
	tib = 1 << 40
	gib = 1 << 30
)

// pubsubMinBytes is what Pub/Sub bills a publish, push or pull request at least
// (https://cloud.google.com/pubsub/pricing: throughput is billed with a 1,000-byte minimum
// per request). A push request carries one message, so every push is billed at least this.
const pubsubMinBytes = 1000

// Prices is the table.
var Prices = struct {
	PubSubThroughput, PubSubBigQuerySub            Price
	RunRequests, RunVCPUSecond, RunGiBSecond       Price
	FirestoreRead, FirestoreWrite, FirestoreDelete Price
	TasksOperation                                 Price
	StorageWriteAPI, LegacyInsertAll               Price
	SecretAccess                                   Price
	DataflowStreamingWorkerHour                    Price
	ManagedELTPlanMonth, ManagedELTAPIRows         Price
}{
	PubSubThroughput: Price{USD: 40, Per: tib, Unit: "byte", Source: "https://cloud.google.com/pubsub/pricing", Read: pricesRead,
		Note: "Message Delivery Basic, $40 per TiB of publish and delivery throughput (the first 10 GiB free); 1,000-byte minimum per request"},
	PubSubBigQuerySub: Price{USD: 50, Per: tib, Unit: "byte", Source: "https://cloud.google.com/pubsub/pricing", Read: pricesRead,
		Note: "BigQuery subscriptions, $50 per TiB delivered to BigQuery (no free tier); publishing is billed as above"},
	RunRequests: Price{USD: 0.40, Per: 1e6, Unit: "request", Source: "https://cloud.google.com/run/pricing", Read: pricesRead,
		Note: "Cloud Run functions bill as Cloud Run services, CPU allocated during requests only; Tier 1; 2 M requests a month free"},
	RunVCPUSecond: Price{USD: 0.000024, Per: 1, Unit: "vCPU-second", Source: "https://cloud.google.com/run/pricing", Read: pricesRead,
		Note: "Tier 1, CPU allocated during request processing; billable time rounded up to 100 ms; requests on one instance share it"},
	RunGiBSecond: Price{USD: 0.0000025, Per: 1, Unit: "GiB-second", Source: "https://cloud.google.com/run/pricing", Read: pricesRead,
		Note: "Tier 1, memory during request processing (the figure from https://cloudwebschool.com/tools/cloud-run-cost-calculator/, the Google page's table was cut off in the excerpt)"},
	FirestoreRead: Price{USD: 0.06, Per: 1e5, Unit: "document read", Source: "https://cloud.google.com/firestore/pricing", Read: pricesRead,
		Note: "multi-region (nam5, Terraform's firestore_location default); regional US locations are half; named databases (rankings) have no free quota"},
	FirestoreWrite: Price{USD: 0.18, Per: 1e5, Unit: "document write", Source: "https://cloud.google.com/firestore/pricing", Read: pricesRead,
		Note: "multi-region; every write of a document is one, however many fields or transforms it holds"},
	FirestoreDelete: Price{USD: 0.02, Per: 1e5, Unit: "document delete", Source: "https://cloud.google.com/firestore/pricing", Read: pricesRead,
		Note: "multi-region; TTL deletes are billed as deletes and have no free usage"},
	TasksOperation: Price{USD: 0.40, Per: 1e6, Unit: "billable operation", Source: "https://cloud.google.com/tasks/pricing", Read: pricesRead,
		Note: "an API call or push delivery attempt, per 32 KB chunk; a batch create is one per task; the first 1 M a month free"},
	StorageWriteAPI: Price{USD: 0.025, Per: gib, Unit: "byte", Source: "https://cloud.google.com/bigquery/pricing", Read: pricesRead,
		Note: "BigQuery Storage Write API ingestion, first 2 TiB a month free (figure as https://help.nops.io/inform/supported-recommendations/use-bigquery-storage-write-api-instead-of-streaming-inserts.md quotes it)"},
	LegacyInsertAll: Price{USD: 0.05, Per: gib, Unit: "byte", Source: "https://cloud.google.com/bigquery/pricing", Read: pricesRead,
		Note: "legacy tabledata.insertAll, $0.01 per 200 MB, each row billed at least 1 KB (same quoting page)"},
	SecretAccess: Price{USD: 0.03, Per: 1e4, Unit: "access operation", Source: "https://cloud.google.com/secret-manager/pricing", Read: pricesRead,
		Note: "10,000 access operations a month free; active versions $0.06 a month each besides"},
	DataflowStreamingWorkerHour: Price{Source: "https://cloud.google.com/dataflow/pricing", Read: pricesRead,
		Note: "the per-vCPU and per-GB hourly rates of streaming workers were not in the page excerpts read: the report gives worker-hours, not dollars"},
	ManagedELTPlanMonth: Price{USD: 10, Per: 1, Unit: "month", Source: "https://docs.airbyte.com/platform/next/cloud/managing-airbyte-cloud/manage-credits", Read: pricesRead,
		Note: "Airbyte Cloud: plans start at $10 a month, including 4 credits; a credit is $2.50 besides"},
	ManagedELTAPIRows: Price{USD: 15, Per: 1e6, Unit: "row", Source: "https://docs.airbyte.com/platform/next/cloud/managing-airbyte-cloud/manage-credits", Read: pricesRead,
		Note: "Airbyte Cloud: API sources $15 per million rows (6 credits)"},
}
