package iamcheck

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"cloud.google.com/go/bigquery/storage/managedwriter"
	"cloud.google.com/go/bigquery/storage/managedwriter/adapt"
	"github.com/google/go-cmp/cmp"
	bq "google.golang.org/api/bigquery/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/pipelinekit/pipelinekit/shared/emulators/bqemulator"
)

const (
	dataset    = "events"
	datasetRes = "projects/" + project + "/datasets/" + dataset
	tweets     = datasetRes + "/tables/tweets"
	appEvents  = datasetRes + "/tables/app_events"
)

// bigQueryServer is one BigQuery server for the package's BigQuery tests, with the events
// dataset and two tables of one STRING column.
func bigQueryServer(t *testing.T) *bqemulator.Server {
	t.Helper()
	srv, err := bqemulator.NewServer(bqemulator.WithProject(project), bqemulator.WithLogger(discard))
	if err != nil {
		t.Fatalf("bqemulator.NewServer() = %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	ctx := t.Context()
	if err := srv.CreateDataset(ctx, project, dataset); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"tweets", "app_events"} {
		if err := srv.CreateTable(ctx, project, dataset, table, &bq.TableSchema{Fields: []*bq.TableFieldSchema{{Name: "id", Type: "STRING"}}}); err != nil {
			t.Fatal(err)
		}
	}
	return srv
}

// appendRow writes one row to table's default stream with managedwriter, set up as
// shared/warehouse does (WriteClientOptions, default stream, write retries).
func appendRow(ctx context.Context, host, table, id string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c, err := managedwriter.NewClient(ctx, project,
		option.WithEndpoint(host),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		return err
	}
	defer c.Close()
	d, err := adapt.StorageSchemaToProto2Descriptor(&storagepb.TableSchema{Fields: []*storagepb.TableFieldSchema{
		{Name: "id", Type: storagepb.TableFieldSchema_STRING, Mode: storagepb.TableFieldSchema_NULLABLE},
	}}, "root")
	if err != nil {
		return err
	}
	md := d.(protoreflect.MessageDescriptor)
	dp, err := adapt.NormalizeDescriptor(md)
	if err != nil {
		return err
	}
	ms, err := c.NewManagedStream(context.WithoutCancel(ctx),
		managedwriter.WithDestinationTable(table),
		managedwriter.WithType(managedwriter.DefaultStream),
		managedwriter.WithSchemaDescriptor(dp),
		managedwriter.EnableWriteRetries(true))
	if err != nil {
		return err
	}
	defer ms.Close()
	row := dynamicpb.NewMessage(md)
	row.Set(md.Fields().ByName("id"), protoreflect.ValueOfString(id))
	b, err := proto.Marshal(row)
	if err != nil {
		return err
	}
	res, err := ms.AppendRows(ctx, [][]byte{b})
	if err != nil {
		return err
	}
	_, err = res.GetResult(ctx)
	return err
}

func TestStorageWrite(t *testing.T) {
	srv := bigQueryServer(t)
	denied := "Permission 'TABLES_UPDATE_DATA' denied on resource '" + tweets + "' (or it may not exist)."
	tests := []struct {
		name     string
		bindings []Binding
		wantMsg  string
	}{
		{"dataEditor on the table", []Binding{{Member: member, Role: "roles/bigquery.dataEditor", Resource: tweets}}, ""},
		{"dataEditor on the dataset", []Binding{{Member: member, Role: "roles/bigquery.dataEditor", Resource: datasetRes}}, ""},
		{"dataEditor on another table", []Binding{{Member: member, Role: "roles/bigquery.dataEditor", Resource: appEvents}}, denied},
		{"dataViewer lacks updateData", []Binding{{Member: member, Role: "roles/bigquery.dataViewer", Resource: tweets}}, denied},
		{"no role", nil, denied},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			proxy := startProxy(t, tt.bindings, map[string]string{BigQuery: srv.Addr()})
			id := string(rune('a' + i))
			err := appendRow(t.Context(), proxy.Addr(), tweets, id)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("appending through the proxy = %v, want it allowed", err)
				}
				return
			}
			if st, _ := status.FromError(err); st.Code() != codes.PermissionDenied || st.Message() != tt.wantMsg {
				t.Errorf("appending through the proxy = %v, want PermissionDenied %q", err, tt.wantMsg)
			}
		})
	}
}

// bigQueryClient is the REST client as the project builds it (warehouse.RESTClientOptions).
func bigQueryClient(t *testing.T, host string) *bigquery.Client {
	t.Helper()
	c, err := bigquery.NewClient(context.Background(), project, option.WithEndpoint("http://"+host+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatalf("bigquery.NewClient() = %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestBigQueryREST(t *testing.T) {
	srv := bigQueryServer(t)
	bind := func(role, res string) []Binding { return []Binding{{Member: member, Role: role, Resource: res}} }
	tableDenied := func(perm string) string {
		return "Access Denied: Table test-project:events.tweets: Permission " + perm + " denied on table test-project:events.tweets (or it may not exist)."
	}
	datasetDenied := func(perm string) string {
		return "Access Denied: Dataset test-project:events: Permission " + perm + " denied on dataset test-project:events (or it may not exist)."
	}
	projectDenied := func(perm string) string {
		return "Access Denied: Project test-project: User does not have " + perm + " permission in project test-project."
	}
	var (
		getTable = func(ctx context.Context, c *bigquery.Client) error {
			_, err := c.Dataset(dataset).Table("tweets").Metadata(ctx)
			return err
		}
		insertAll = func(ctx context.Context, c *bigquery.Client) error {
			return c.Dataset(dataset).Table("tweets").Inserter().Put(ctx, []*bigquery.ValuesSaver{{
				Schema: bigquery.Schema{{Name: "id", Type: bigquery.StringFieldType}}, Row: []bigquery.Value{"r"},
			}})
		}
		listData = func(ctx context.Context, c *bigquery.Client) error {
			var row []bigquery.Value
			err := c.Dataset(dataset).Table("tweets").Read(ctx).Next(&row)
			if errors.Is(err, iterator.Done) {
				return nil
			}
			return err
		}
		query = func(ctx context.Context, c *bigquery.Client) error {
			it, err := c.Query("SELECT 1 AS n").Read(ctx)
			if err != nil {
				return err
			}
			var row []bigquery.Value
			return it.Next(&row)
		}
		createDataset = func(ctx context.Context, c *bigquery.Client) error {
			return c.Dataset("made_"+time.Now().Format("150405000000")).Create(ctx, nil)
		}
		createTable = func(ctx context.Context, c *bigquery.Client) error {
			return c.Dataset(dataset).Table("made_"+time.Now().Format("150405000000")).Create(ctx,
				&bigquery.TableMetadata{Schema: bigquery.Schema{{Name: "id", Type: bigquery.StringFieldType}}})
		}
	)
	tests := []struct {
		name     string
		bindings []Binding
		call     func(context.Context, *bigquery.Client) error
		wantMsg  string
	}{
		{"tables.get dataViewer on the table", bind("roles/bigquery.dataViewer", tweets), getTable, ""},
		{"tables.get dataViewer on another table", bind("roles/bigquery.dataViewer", appEvents), getTable, tableDenied("bigquery.tables.get")},
		{"tables.get jobUser lacks it", bind("roles/bigquery.jobUser", "projects/"+project), getTable, tableDenied("bigquery.tables.get")},
		{"tables.get no role", nil, getTable, tableDenied("bigquery.tables.get")},
		{"insertAll dataEditor on the dataset", bind("roles/bigquery.dataEditor", datasetRes), insertAll, ""},
		// The reference asks bigquery.datasets.get on the dataset too, which a table binding
		// does not give.
		{"insertAll dataEditor on the table alone", bind("roles/bigquery.dataEditor", tweets), insertAll, datasetDenied("bigquery.datasets.get")},
		{"insertAll dataViewer lacks updateData", bind("roles/bigquery.dataViewer", datasetRes), insertAll, tableDenied("bigquery.tables.updateData")},
		{"insertAll no role", nil, insertAll, tableDenied("bigquery.tables.updateData")},
		{"tabledata.list dataViewer", bind("roles/bigquery.dataViewer", tweets), listData, ""},
		{"tabledata.list dataEditor on another table", bind("roles/bigquery.dataEditor", appEvents), listData, tableDenied("bigquery.tables.getData")},
		{"tabledata.list jobUser lacks it", bind("roles/bigquery.jobUser", "projects/"+project), listData, tableDenied("bigquery.tables.getData")},
		{"query jobUser", bind("roles/bigquery.jobUser", "projects/"+project), query, ""},
		{"query dataViewer lacks jobs.create", bind("roles/bigquery.dataViewer", "projects/"+project), query, projectDenied("bigquery.jobs.create")},
		{"query jobUser on another project", bind("roles/bigquery.jobUser", "projects/elsewhere"), query, projectDenied("bigquery.jobs.create")},
		{"query no role", nil, query, projectDenied("bigquery.jobs.create")},
		{"datasets.insert bigquery.user", bind("roles/bigquery.user", "projects/"+project), createDataset, ""},
		{"datasets.insert dataViewer lacks it", bind("roles/bigquery.dataViewer", "projects/"+project), createDataset, projectDenied("bigquery.datasets.create")},
		{"tables.insert dataEditor on the dataset", bind("roles/bigquery.dataEditor", datasetRes), createTable, ""},
		{"tables.insert dataViewer lacks it", bind("roles/bigquery.dataViewer", datasetRes), createTable, datasetDenied("bigquery.tables.create")},
		{"tables.insert no role", nil, createTable, datasetDenied("bigquery.tables.create")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			proxy := startProxy(t, tt.bindings, map[string]string{BigQuery: srv.Addr()})
			err := tt.call(t.Context(), bigQueryClient(t, proxy.Addr()))
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("call = %v, want it allowed", err)
				}
				return
			}
			var ge *googleapi.Error
			if !errors.As(err, &ge) || ge.Code != http.StatusForbidden || ge.Message != tt.wantMsg ||
				len(ge.Errors) != 1 || ge.Errors[0].Reason != "accessDenied" || ge.Errors[0].Message != tt.wantMsg {
				t.Errorf("call = %#v, want a 403 accessDenied %q", err, tt.wantMsg)
			}
		})
	}
}

// TestBigQueryJobCreator checks a job's creator reads its job without bigquery.jobs.get, and
// that another identity's job needs it.
func TestBigQueryJobCreator(t *testing.T) {
	srv := bigQueryServer(t)
	proxy := startProxy(t, []Binding{{Member: member, Role: "roles/bigquery.jobUser", Resource: "projects/" + project}}, map[string]string{BigQuery: srv.Addr()})
	ctx := t.Context()
	c := bigQueryClient(t, proxy.Addr())
	job, err := c.Query("SELECT 2 AS n").Run(ctx)
	if err != nil {
		t.Fatalf("running a query through the proxy = %v", err)
	}
	if _, err := job.Wait(ctx); err != nil {
		t.Fatalf("waiting for own job %s = %v, want it allowed", job.ID(), err)
	}
	// A job someone else made, straight on the server.
	theirs, err := bigQueryClient(t, srv.Addr()).Query("SELECT 3 AS n").Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.JobFromID(ctx, theirs.ID())
	want := "Access Denied: Project test-project: User does not have bigquery.jobs.get permission in project test-project."
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != http.StatusForbidden || ge.Message != want {
		t.Errorf("JobFromID(another's job) = %v, want 403 %q", err, want)
	}
	var got []string
	for _, d := range proxy.Decisions() {
		got = append(got, d.Method+" "+d.Permission+" "+fmt.Sprint(d.Allowed))
	}
	wantDecisions := []string{
		"bigquery.jobs.insert bigquery.jobs.create true",
		"bigquery.jobs.getQueryResults bigquery.jobs.get true",
		"bigquery.jobs.get bigquery.jobs.get true",
		"bigquery.jobs.get bigquery.jobs.get false",
	}
	if diff := cmp.Diff(wantDecisions, got); diff != "" {
		t.Errorf("Decisions() mismatch (-want +got):\n%s", diff)
	}
}
