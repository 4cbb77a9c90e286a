package storagewrite

import (
	"errors"
	"fmt"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// storageStatus builds a status carrying a StorageError detail, as the real service does for
// stream and offset problems, so clients that inspect details see the same code.
func storageStatus(c codes.Code, sc storagepb.StorageError_StorageErrorCode, entity, msg string) *status.Status {
	st := status.New(c, fmt.Sprintf("%s Entity: %s", msg, entity))
	if d, err := st.WithDetails(&storagepb.StorageError{Code: sc, Entity: entity, ErrorMessage: msg}); err == nil {
		return d
	}
	return st
}

// tableNotFound is the status for a table the backend does not have.
func tableNotFound(entity string) *status.Status {
	return storageStatus(codes.NotFound, storagepb.StorageError_TABLE_NOT_FOUND, entity, "Requested entity was not found.")
}

// streamNotFound is the status for an explicit stream that was never created.
func streamNotFound(entity string) *status.Status {
	return storageStatus(codes.NotFound, storagepb.StorageError_STREAM_NOT_FOUND, entity, "Requested entity was not found.")
}

// backendStatus maps a Backend error: ErrNotFound is NOT_FOUND, anything else INTERNAL, which
// clients retry as the real service's transient failures.
func backendStatus(err error, entity string) *status.Status {
	if errors.Is(err, ErrNotFound) {
		return tableNotFound(entity)
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		return st
	}
	return status.Newf(codes.Internal, "backend failed: %v Entity: %s", err, entity)
}

// toRowErrors converts row errors to the response form; every one is a FIELDS_ERROR, the code
// BigQuery uses for values that do not fit the schema.
func toRowErrors(errs []RowError) []*storagepb.RowError {
	out := make([]*storagepb.RowError, len(errs))
	for i, e := range errs {
		out[i] = &storagepb.RowError{Index: int64(e.Index), Code: storagepb.RowError_FIELDS_ERROR, Message: e.Message}
	}
	return out
}

// rowErrorsStatus is the response error accompanying row errors.
func rowErrorsStatus(entity string) *status.Status {
	return status.Newf(codes.InvalidArgument,
		"Errors found while processing rows. Please refer to the row_errors field for details. The list may not be complete because of the size limitations. Entity: %s", entity)
}
