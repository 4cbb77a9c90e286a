package iamcheck

import (
	"net/http"
	"strings"
)

// restDoc is BigQuery's REST reference; each method's page has an "IAM Permissions" section,
// for example tabledata.insertAll: "bigquery.tables.updateData on the table.
// bigquery.tables.get on the table. bigquery.datasets.get on the dataset."; tables.insert:
// "the bigquery.tables.create permission on the dataset"; jobs.insert and jobs.query: "the
// bigquery.jobs.create permission on the project resource".
const restDoc = "https://cloud.google.com/bigquery/docs/reference/rest/v2"

// restNeeds maps a BigQuery REST call (method and URL path, as google.golang.org/api/bigquery/v2
// sends it) to its method name and needs; ok is false for a call not in the table.
func restNeeds(httpMethod, path string) (op string, needs []need, ok bool) {
	rest, upload := strings.CutPrefix(path, "/upload/bigquery/v2/projects/")
	if !upload {
		var found bool
		if rest, found = strings.CutPrefix(path, "/bigquery/v2/projects/"); !found {
			return "", nil, false
		}
	}
	seg := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	if seg[0] == "" {
		return "", nil, false
	}
	project := "projects/" + seg[0]
	seg = seg[1:]
	if upload {
		if httpMethod == http.MethodPost && len(seg) == 1 && seg[0] == "jobs" {
			return "bigquery.jobs.insert", one("bigquery.jobs.create", project), true
		}
		return "", nil, false
	}
	// shape is the path after the project with ids as *; ids are the dataset and table (or
	// job) ids in order.
	var shape string
	var ids []string
	for i, s := range seg {
		isID := i%2 == 1 && i < 4 && (seg[0] == "datasets" || i == 1)
		if isID {
			ids = append(ids, s)
			shape += "/*"
		} else {
			shape += "/" + s
		}
	}
	type route struct{ method, shape string }
	r := route{httpMethod, shape}
	id := func(i int) string {
		if i < len(ids) {
			return ids[i]
		}
		return ""
	}
	dataset := project + "/datasets/" + id(0)
	table := dataset + "/tables/" + id(1)
	job := project + "/jobs/" + id(0)
	switch r {
	case route{"POST", "/datasets"}:
		return "bigquery.datasets.insert", one("bigquery.datasets.create", project), true
	case route{"GET", "/datasets/*"}:
		return "bigquery.datasets.get", one("bigquery.datasets.get", dataset), true
	case route{"PATCH", "/datasets/*"}:
		return "bigquery.datasets.patch", one("bigquery.datasets.update", dataset), true
	case route{"PUT", "/datasets/*"}:
		return "bigquery.datasets.update", one("bigquery.datasets.update", dataset), true
	case route{"DELETE", "/datasets/*"}:
		return "bigquery.datasets.delete", one("bigquery.datasets.delete", dataset), true
	case route{"POST", "/datasets/*/tables"}:
		return "bigquery.tables.insert", one("bigquery.tables.create", dataset), true
	case route{"GET", "/datasets/*/tables"}:
		return "bigquery.tables.list", one("bigquery.tables.list", dataset), true
	case route{"GET", "/datasets/*/tables/*"}:
		return "bigquery.tables.get", one("bigquery.tables.get", table), true
	case route{"PATCH", "/datasets/*/tables/*"}:
		return "bigquery.tables.patch", one("bigquery.tables.update", table), true
	case route{"PUT", "/datasets/*/tables/*"}:
		return "bigquery.tables.update", one("bigquery.tables.update", table), true
	case route{"DELETE", "/datasets/*/tables/*"}:
		return "bigquery.tables.delete", one("bigquery.tables.delete", table), true
	case route{"POST", "/datasets/*/tables/*/insertAll"}:
		return "bigquery.tabledata.insertAll", []need{
			{perm: "bigquery.tables.updateData", resource: table},
			{perm: "bigquery.tables.get", resource: table},
			{perm: "bigquery.datasets.get", resource: dataset},
		}, true
	case route{"GET", "/datasets/*/tables/*/data"}:
		return "bigquery.tabledata.list", one("bigquery.tables.getData", table), true
	case route{"POST", "/jobs"}:
		return "bigquery.jobs.insert", one("bigquery.jobs.create", project), true
	case route{"GET", "/jobs"}:
		return "bigquery.jobs.list", one("bigquery.jobs.list", project), true
	case route{"GET", "/jobs/*"}:
		return "bigquery.jobs.get", []need{{perm: "bigquery.jobs.get", resource: job, byCreator: true}}, true
	case route{"POST", "/jobs/*/cancel"}:
		return "bigquery.jobs.cancel", []need{{perm: "bigquery.jobs.update", resource: job, byCreator: true}}, true
	case route{"DELETE", "/jobs/*/delete"}:
		return "bigquery.jobs.delete", one("bigquery.jobs.delete", job), true
	case route{"POST", "/queries"}:
		return "bigquery.jobs.query", one("bigquery.jobs.create", project), true
	case route{"GET", "/queries/*"}:
		return "bigquery.jobs.getQueryResults", []need{{perm: "bigquery.jobs.get", resource: job, byCreator: true}}, true
	}
	return "", nil, false
}
