package iamcheck

import (
	"cloud.google.com/go/firestore/apiv1/firestorepb"
)

// firestoreDoc is Firestore's "Required permissions for API methods" table: batchGet ->
// datastore.entities.get; beginTransaction and rollback -> datastore.databases.get; commit (and
// batchWrite) update or transform with exists=false -> datastore.entities.create, with
// exists=true -> datastore.entities.update, with no precondition -> both; commit delete ->
// datastore.entities.delete; get -> get; list -> get and list; listCollectionIds -> list;
// runQuery -> get and list; createDocument -> create; patch -> update; delete -> delete.
//
// The stored copy of the table ends before runAggregationQuery and listen. Those two are
// mapped by what they return: an aggregation returns no document data, so
// datastore.entities.list alone (the MongoDB-compatibility table of the same docs maps Count to
// datastore.entities.list); a listen target reads documents as a query (get and list) or by name
// (get).
const firestoreDoc = "https://firebase.google.com/docs/firestore/security/iam"

const fsPrefix = "/google.firestore.v1.Firestore/"

var firestoreMethods = map[string]rule{
	fsPrefix + "GetDocument": method(Firestore, firestoreDoc, func(r *firestorepb.GetDocumentRequest) []need {
		return one("datastore.entities.get", r.GetName())
	}),
	fsPrefix + "BatchGetDocuments": method(Firestore, firestoreDoc, func(r *firestorepb.BatchGetDocumentsRequest) []need {
		needs := make([]need, 0, len(r.GetDocuments()))
		for _, d := range r.GetDocuments() {
			needs = append(needs, need{perm: "datastore.entities.get", resource: d})
		}
		if len(needs) == 0 {
			return one("datastore.entities.get", r.GetDatabase())
		}
		return needs
	}),
	fsPrefix + "ListDocuments": method(Firestore, firestoreDoc, func(r *firestorepb.ListDocumentsRequest) []need {
		res := collection(r.GetParent(), r.GetCollectionId())
		return []need{{perm: "datastore.entities.get", resource: res}, {perm: "datastore.entities.list", resource: res}}
	}),
	fsPrefix + "ListCollectionIds": method(Firestore, firestoreDoc, func(r *firestorepb.ListCollectionIdsRequest) []need {
		return one("datastore.entities.list", r.GetParent())
	}),
	fsPrefix + "RunQuery": method(Firestore, firestoreDoc, func(r *firestorepb.RunQueryRequest) []need {
		return []need{{perm: "datastore.entities.get", resource: r.GetParent()}, {perm: "datastore.entities.list", resource: r.GetParent()}}
	}),
	fsPrefix + "RunAggregationQuery": method(Firestore, firestoreDoc, func(r *firestorepb.RunAggregationQueryRequest) []need {
		return one("datastore.entities.list", r.GetParent())
	}),
	fsPrefix + "CreateDocument": method(Firestore, firestoreDoc, func(r *firestorepb.CreateDocumentRequest) []need {
		res := collection(r.GetParent(), r.GetCollectionId())
		if id := r.GetDocumentId(); id != "" {
			res += "/" + id
		}
		return one("datastore.entities.create", res)
	}),
	fsPrefix + "UpdateDocument": method(Firestore, firestoreDoc, func(r *firestorepb.UpdateDocumentRequest) []need {
		return one("datastore.entities.update", r.GetDocument().GetName())
	}),
	fsPrefix + "DeleteDocument": method(Firestore, firestoreDoc, func(r *firestorepb.DeleteDocumentRequest) []need {
		return one("datastore.entities.delete", r.GetName())
	}),
	fsPrefix + "BeginTransaction": method(Firestore, firestoreDoc, func(r *firestorepb.BeginTransactionRequest) []need {
		return one("datastore.databases.get", r.GetDatabase())
	}),
	fsPrefix + "Rollback": method(Firestore, firestoreDoc, func(r *firestorepb.RollbackRequest) []need {
		return one("datastore.databases.get", r.GetDatabase())
	}),
	fsPrefix + "Commit": method(Firestore, firestoreDoc, func(r *firestorepb.CommitRequest) []need {
		return writesNeeds(r.GetDatabase(), r.GetWrites())
	}),
	fsPrefix + "BatchWrite": method(Firestore, firestoreDoc, func(r *firestorepb.BatchWriteRequest) []need {
		return writesNeeds(r.GetDatabase(), r.GetWrites())
	}),
	fsPrefix + "Listen": method(Firestore, firestoreDoc, func(r *firestorepb.ListenRequest) []need {
		t := r.GetAddTarget()
		switch {
		case t.GetQuery() != nil:
			p := t.GetQuery().GetParent()
			return []need{{perm: "datastore.entities.get", resource: p}, {perm: "datastore.entities.list", resource: p}}
		case t.GetDocuments() != nil:
			var needs []need
			for _, d := range t.GetDocuments().GetDocuments() {
				needs = append(needs, need{perm: "datastore.entities.get", resource: d})
			}
			return needs
		}
		// Removing a target reads nothing.
		return nil
	}),
}

// collection names a collection under parent (a database's documents root or a document).
func collection(parent, id string) string {
	if id == "" {
		return parent
	}
	return parent + "/" + id
}

// writesNeeds is what a Commit or BatchWrite needs: per write as the table says, and for an
// empty commit (which only ends a transaction) datastore.databases.get, as Datastore mode
// documents it ("Begin or rollback a transaction. Commit with empty mutations.",
// https://cloud.google.com/datastore/docs/access/iam).
func writesNeeds(database string, writes []*firestorepb.Write) []need {
	if len(writes) == 0 {
		return one("datastore.databases.get", database)
	}
	var needs []need
	for _, w := range writes {
		switch op := w.GetOperation().(type) {
		case *firestorepb.Write_Delete:
			needs = append(needs, need{perm: "datastore.entities.delete", resource: op.Delete})
		case *firestorepb.Write_Update:
			needs = append(needs, upsertNeeds(op.Update.GetName(), w.GetCurrentDocument())...)
		case *firestorepb.Write_Transform:
			needs = append(needs, upsertNeeds(op.Transform.GetDocument(), w.GetCurrentDocument())...)
		default:
			// A write with no operation is refused by the service; asking for create on the
			// database keeps it from passing unchecked.
			needs = append(needs, need{perm: "datastore.entities.create", resource: database})
		}
	}
	return needs
}

// upsertNeeds is an update or transform of doc under precondition pre.
func upsertNeeds(doc string, pre *firestorepb.Precondition) []need {
	switch c := pre.GetConditionType().(type) {
	case *firestorepb.Precondition_Exists:
		if c.Exists {
			return one("datastore.entities.update", doc)
		}
		return one("datastore.entities.create", doc)
	case *firestorepb.Precondition_UpdateTime:
		// An update time can only match a document that exists: an update.
		return one("datastore.entities.update", doc)
	}
	return []need{{perm: "datastore.entities.create", resource: doc}, {perm: "datastore.entities.update", resource: doc}}
}
