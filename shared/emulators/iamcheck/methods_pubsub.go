package iamcheck

import (
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
)

// pubsubDoc is the table of required permissions per Pub/Sub method ("Required permissions
// for topics" / "... for subscriptions"): pubsub.topics.create on the containing project,
// pubsub.topics.publish on the requested topic, pubsub.subscriptions.consume on the requested
// subscription for acknowledge/modifyAckDeadline/pull/streamingPull, pubsub.subscriptions.create
// on the project and pubsub.topics.attachSubscription on the topic for create, ...
const pubsubDoc = "https://cloud.google.com/pubsub/docs/access-control"

const (
	pubPrefix = "/google.pubsub.v1.Publisher/"
	subPrefix = "/google.pubsub.v1.Subscriber/"
)

var pubsubMethods = map[string]rule{
	pubPrefix + "CreateTopic": method(PubSub, pubsubDoc, func(r *pubsubpb.Topic) []need {
		return one("pubsub.topics.create", projectOf(r.GetName()))
	}),
	pubPrefix + "UpdateTopic": method(PubSub, pubsubDoc, func(r *pubsubpb.UpdateTopicRequest) []need {
		return one("pubsub.topics.update", r.GetTopic().GetName())
	}),
	pubPrefix + "Publish": method(PubSub, pubsubDoc, func(r *pubsubpb.PublishRequest) []need {
		return one("pubsub.topics.publish", r.GetTopic())
	}),
	pubPrefix + "GetTopic": method(PubSub, pubsubDoc, func(r *pubsubpb.GetTopicRequest) []need {
		return one("pubsub.topics.get", r.GetTopic())
	}),
	pubPrefix + "ListTopics": method(PubSub, pubsubDoc, func(r *pubsubpb.ListTopicsRequest) []need {
		return one("pubsub.topics.list", r.GetProject())
	}),
	pubPrefix + "ListTopicSubscriptions": method(PubSub, pubsubDoc, func(r *pubsubpb.ListTopicSubscriptionsRequest) []need {
		return one("pubsub.topics.get", r.GetTopic())
	}),
	pubPrefix + "ListTopicSnapshots": method(PubSub, pubsubDoc, func(r *pubsubpb.ListTopicSnapshotsRequest) []need {
		return one("pubsub.topics.get", r.GetTopic())
	}),
	pubPrefix + "DeleteTopic": method(PubSub, pubsubDoc, func(r *pubsubpb.DeleteTopicRequest) []need {
		return one("pubsub.topics.delete", r.GetTopic())
	}),
	subPrefix + "CreateSubscription": method(PubSub, pubsubDoc, func(r *pubsubpb.Subscription) []need {
		return []need{
			{perm: "pubsub.subscriptions.create", resource: projectOf(r.GetName())},
			{perm: "pubsub.topics.attachSubscription", resource: r.GetTopic()},
		}
	}),
	subPrefix + "GetSubscription": method(PubSub, pubsubDoc, func(r *pubsubpb.GetSubscriptionRequest) []need {
		return one("pubsub.subscriptions.get", r.GetSubscription())
	}),
	subPrefix + "UpdateSubscription": method(PubSub, pubsubDoc, func(r *pubsubpb.UpdateSubscriptionRequest) []need {
		return one("pubsub.subscriptions.update", r.GetSubscription().GetName())
	}),
	subPrefix + "ListSubscriptions": method(PubSub, pubsubDoc, func(r *pubsubpb.ListSubscriptionsRequest) []need {
		return one("pubsub.subscriptions.list", r.GetProject())
	}),
	subPrefix + "DeleteSubscription": method(PubSub, pubsubDoc, func(r *pubsubpb.DeleteSubscriptionRequest) []need {
		return one("pubsub.subscriptions.delete", r.GetSubscription())
	}),
	subPrefix + "ModifyAckDeadline": method(PubSub, pubsubDoc, func(r *pubsubpb.ModifyAckDeadlineRequest) []need {
		return one("pubsub.subscriptions.consume", r.GetSubscription())
	}),
	subPrefix + "Acknowledge": method(PubSub, pubsubDoc, func(r *pubsubpb.AcknowledgeRequest) []need {
		return one("pubsub.subscriptions.consume", r.GetSubscription())
	}),
	subPrefix + "Pull": method(PubSub, pubsubDoc, func(r *pubsubpb.PullRequest) []need {
		return one("pubsub.subscriptions.consume", r.GetSubscription())
	}),
	// Only the first message of a StreamingPull names the subscription; the acks and deadline
	// changes that follow act on it.
	subPrefix + "StreamingPull": method(PubSub, pubsubDoc, func(r *pubsubpb.StreamingPullRequest) []need {
		if r.GetSubscription() == "" {
			return nil
		}
		return one("pubsub.subscriptions.consume", r.GetSubscription())
	}),
	subPrefix + "ModifyPushConfig": method(PubSub, pubsubDoc, func(r *pubsubpb.ModifyPushConfigRequest) []need {
		return one("pubsub.subscriptions.update", r.GetSubscription())
	}),
	subPrefix + "Seek": method(PubSub, pubsubDoc, func(r *pubsubpb.SeekRequest) []need {
		needs := one("pubsub.subscriptions.consume", r.GetSubscription())
		if snap := r.GetSnapshot(); snap != "" {
			needs = append(needs, need{perm: "pubsub.snapshots.seek", resource: snap})
		}
		return needs
	}),
}
