package iamcheck

import (
	"fmt"
	"strings"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/protobuf/encoding/protowire"
)

// storageWriteDoc: "To use the Storage Write API, you must have bigquery.tables.updateData
// permissions." — on the destination table, which every BigQueryWrite method names (a stream is
// under its table).
const storageWriteDoc = "https://cloud.google.com/bigquery/docs/write-api"

const writePrefix = "/google.cloud.bigquery.storage.v1.BigQueryWrite/"

var storageWriteMethods = map[string]rule{
	writePrefix + "CreateWriteStream": method(BigQuery, storageWriteDoc, func(r *storagepb.CreateWriteStreamRequest) []need {
		return one("bigquery.tables.updateData", r.GetParent())
	}),
	writePrefix + "AppendRows": appendRowsRule(),
	writePrefix + "GetWriteStream": method(BigQuery, storageWriteDoc, func(r *storagepb.GetWriteStreamRequest) []need {
		return one("bigquery.tables.updateData", tableOfStream(r.GetName()))
	}),
	writePrefix + "FinalizeWriteStream": method(BigQuery, storageWriteDoc, func(r *storagepb.FinalizeWriteStreamRequest) []need {
		return one("bigquery.tables.updateData", tableOfStream(r.GetName()))
	}),
	writePrefix + "BatchCommitWriteStreams": method(BigQuery, storageWriteDoc, func(r *storagepb.BatchCommitWriteStreamsRequest) []need {
		return one("bigquery.tables.updateData", r.GetParent())
	}),
	writePrefix + "FlushRows": method(BigQuery, storageWriteDoc, func(r *storagepb.FlushRowsRequest) []need {
		return one("bigquery.tables.updateData", tableOfStream(r.GetWriteStream()))
	}),
}

// appendRowsRule checks each AppendRows message that names a stream; later messages on the
// same connection may leave write_stream empty and then write to the stream already checked.
func appendRowsRule() rule {
	needs := func(stream string) []need {
		if stream == "" {
			return nil
		}
		return one("bigquery.tables.updateData", tableOfStream(stream))
	}
	r := method(BigQuery, storageWriteDoc, func(r *storagepb.AppendRowsRequest) []need { return needs(r.GetWriteStream()) })
	r.scan = func(b []byte) ([]need, error) {
		// write_stream is field 1 of AppendRowsRequest.
		stream, err := scanString(b, 1)
		if err != nil {
			return nil, fmt.Errorf("decoding google.cloud.bigquery.storage.v1.AppendRowsRequest: %w", err)
		}
		return needs(stream), nil
	}
	return r
}

// tableOfStream returns projects/P/datasets/D/tables/T of a write stream name
// (projects/P/datasets/D/tables/T/streams/S, _default included).
func tableOfStream(stream string) string {
	if i := strings.Index(stream, "/streams/"); i >= 0 {
		return stream[:i]
	}
	return stream
}

// scanString returns the last value of string field num at the top level of a serialized
// message (proto3 keeps the last of repeated scalar occurrences), without decoding the rest.
func scanString(b []byte, num protowire.Number) (string, error) {
	var out string
	for len(b) > 0 {
		n, typ, tagLen := protowire.ConsumeTag(b)
		if tagLen < 0 {
			return "", protowire.ParseError(tagLen)
		}
		b = b[tagLen:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return "", protowire.ParseError(l)
			}
			out = string(v)
			b = b[l:]
			continue
		}
		l := protowire.ConsumeFieldValue(n, typ, b)
		if l < 0 {
			return "", protowire.ParseError(l)
		}
		b = b[l:]
	}
	return out, nil
}

// secretsDoc: AccessSecretVersion — "Authorization requires the following IAM permission on the
// specified resource name: secretmanager.versions.access". A version is under its secret, so a
// binding on the secret covers it.
const secretsDoc = "https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets.versions/access"

var secretManagerMethods = map[string]rule{
	"/google.cloud.secretmanager.v1.SecretManagerService/AccessSecretVersion": method(SecretManager, secretsDoc, func(r *secretmanagerpb.AccessSecretVersionRequest) []need {
		return one("secretmanager.versions.access", r.GetName())
	}),
}
