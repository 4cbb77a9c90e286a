package iamcheck

import (
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
)

// tasksDoc is Cloud Tasks' permission table: "GetTask | cloudtasks.tasks.get on the specified
// queue", "CreateTask | cloudtasks.tasks.create on the specified queue", "ListTasks |
// cloudtasks.tasks.list", "DeleteTask | cloudtasks.tasks.delete", "RunTask |
// cloudtasks.tasks.run on the specified task", "ListQueues | cloudtasks.queues.list on the
// specified project", GetQueue/CreateQueue/UpdateQueue/PurgeQueue/DeleteQueue/PauseQueue/
// ResumeQueue -> cloudtasks.queues.{get,create,update,purge,delete,pause,resume} on the queue.
// A task is under its queue, so a binding on the queue covers GetTask's task name.
const tasksDoc = "https://cloud.google.com/tasks/docs/reference-access-control"

// actAsDoc: OidcToken.service_account_email (and OAuthToken's) — "The caller must have
// iam.serviceAccounts.actAs permission for the service account."
const actAsDoc = "https://cloud.google.com/dotnet/docs/reference/Google.Cloud.Tasks.V2/latest/Google.Cloud.Tasks.V2.OidcToken"

const tasksPrefix = "/google.cloud.tasks.v2.CloudTasks/"

var tasksMethods = map[string]rule{
	tasksPrefix + "ListQueues": method(CloudTasks, tasksDoc, func(r *cloudtaskspb.ListQueuesRequest) []need {
		return one("cloudtasks.queues.list", r.GetParent())
	}),
	tasksPrefix + "GetQueue": method(CloudTasks, tasksDoc, func(r *cloudtaskspb.GetQueueRequest) []need {
		return one("cloudtasks.queues.get", r.GetName())
	}),
	tasksPrefix + "CreateQueue": method(CloudTasks, tasksDoc, func(r *cloudtaskspb.CreateQueueRequest) []need {
		res := r.GetQueue().GetName()
		if res == "" {
			res = r.GetParent()
		}
		return one("cloudtasks.queues.create", res)
	}),
	tasksPrefix + "UpdateQueue": method(CloudTasks, tasksDoc, func(r *cloudtaskspb.UpdateQueueRequest) []need {
		return one("cloudtasks.queues.update", r.GetQueue().GetName())
	}),
	tasksPrefix + "DeleteQueue": method(CloudTasks, tasksDoc, func(r *cloudtaskspb.DeleteQueueRequest) []need {
		return one("cloudtasks.queues.delete", r.GetName())
	}),
	tasksPrefix + "PurgeQueue": method(CloudTasks, tasksDoc, func(r *cloudtaskspb.PurgeQueueRequest) []need {
		return one("cloudtasks.queues.purge", r.GetName())
	}),
	tasksPrefix + "PauseQueue": method(CloudTasks, tasksDoc, func(r *cloudtaskspb.PauseQueueRequest) []need {
		return one("cloudtasks.queues.pause", r.GetName())
	}),
	tasksPrefix + "ResumeQueue": method(CloudTasks, tasksDoc, func(r *cloudtaskspb.ResumeQueueRequest) []need {
		return one("cloudtasks.queues.resume", r.GetName())
	}),
	tasksPrefix + "ListTasks": method(CloudTasks, tasksDoc, func(r *cloudtaskspb.ListTasksRequest) []need {
		return one("cloudtasks.tasks.list", r.GetParent())
	}),
	tasksPrefix + "GetTask": method(CloudTasks, tasksDoc, func(r *cloudtaskspb.GetTaskRequest) []need {
		return one("cloudtasks.tasks.get", r.GetName())
	}),
	tasksPrefix + "CreateTask": method(CloudTasks, tasksDoc+" and "+actAsDoc, func(r *cloudtaskspb.CreateTaskRequest) []need {
		needs := one("cloudtasks.tasks.create", r.GetParent())
		if email := tokenAccount(r.GetTask().GetHttpRequest()); email != "" {
			needs = append(needs, need{perm: "iam.serviceAccounts.actAs", resource: ServiceAccountName(email)})
		}
		return needs
	}),
	tasksPrefix + "DeleteTask": method(CloudTasks, tasksDoc, func(r *cloudtaskspb.DeleteTaskRequest) []need {
		return one("cloudtasks.tasks.delete", r.GetName())
	}),
	tasksPrefix + "RunTask": method(CloudTasks, tasksDoc, func(r *cloudtaskspb.RunTaskRequest) []need {
		return one("cloudtasks.tasks.run", r.GetName())
	}),
}

// tokenAccount is the service account whose token Cloud Tasks will mint for an HTTP task.
func tokenAccount(h *cloudtaskspb.HttpRequest) string {
	if e := h.GetOidcToken().GetServiceAccountEmail(); e != "" {
		return e
	}
	return h.GetOauthToken().GetServiceAccountEmail()
}
