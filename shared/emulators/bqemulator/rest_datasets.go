package bqemulator

import (
	"net/http"
	"strconv"

	bq "google.golang.org/api/bigquery/v2"
)

func (s *Server) handleDatasetInsert(w http.ResponseWriter, r *http.Request) (any, error) {
	project := r.PathValue("project")
	var ds bq.Dataset
	if err := decodeBody(r, &ds, false); err != nil {
		return nil, err
	}
	if ds.DatasetReference == nil || ds.DatasetReference.DatasetId == "" {
		return nil, errInvalid("Dataset reference is missing the datasetId")
	}
	if ds.DatasetReference.ProjectId == "" {
		ds.DatasetReference.ProjectId = project
	}
	if !fieldNameRE.MatchString(ds.DatasetReference.DatasetId) {
		return nil, errInvalid("Invalid dataset ID %q. Dataset IDs must be alphanumeric (plus underscores) and must be at most 1024 characters long.", ds.DatasetReference.DatasetId)
	}
	return s.insertDataset(r.Context(), &ds)
}

func (s *Server) handleDatasetList(w http.ResponseWriter, r *http.Request) (any, error) {
	project := r.PathValue("project")
	list := &bq.DatasetList{Kind: "bigquery#datasetList", Datasets: []*bq.DatasetListDatasets{}}
	for _, ds := range s.cat.listDatasets(project) {
		list.Datasets = append(list.Datasets, &bq.DatasetListDatasets{
			Kind:             "bigquery#dataset",
			Id:               ds.Id,
			DatasetReference: ds.DatasetReference,
			FriendlyName:     ds.FriendlyName,
			Labels:           ds.Labels,
			Location:         ds.Location,
		})
	}
	return list, nil
}

func (s *Server) handleDatasetGet(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.cat.dataset(r.PathValue("project"), r.PathValue("dataset"))
}

func (s *Server) handleDatasetPatch(w http.ResponseWriter, r *http.Request) (any, error) {
	project, dataset := r.PathValue("project"), r.PathValue("dataset")
	cur, err := s.cat.dataset(project, dataset)
	if err != nil {
		return nil, err
	}
	var patch bq.Dataset
	if err := decodeBody(r, &patch, false); err != nil {
		return nil, err
	}
	next := *cur
	if patch.Description != "" || r.Method == http.MethodPut {
		next.Description = patch.Description
	}
	if patch.FriendlyName != "" || r.Method == http.MethodPut {
		next.FriendlyName = patch.FriendlyName
	}
	if patch.Labels != nil || r.Method == http.MethodPut {
		next.Labels = patch.Labels
	}
	if patch.DefaultTableExpirationMs != 0 || r.Method == http.MethodPut {
		next.DefaultTableExpirationMs = patch.DefaultTableExpirationMs
	}
	next.LastModifiedTime = s.now().UnixMilli()
	next.Etag = strconv.FormatInt(next.LastModifiedTime, 36)
	if err := s.cat.updateDataset(r.Context(), &next); err != nil {
		return nil, err
	}
	return &next, nil
}

func (s *Server) handleDatasetDelete(w http.ResponseWriter, r *http.Request) (any, error) {
	return nil, s.cat.deleteDataset(r.Context(), r.PathValue("project"), r.PathValue("dataset"), queryBool(r, "deleteContents"))
}
