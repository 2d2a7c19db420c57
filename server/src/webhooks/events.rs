//! The events webhooks report, built as Harbor's Default payload and recorded in the
//! transaction of the change they report ([`crate::db::webhooks::record`]). The other formats
//! are derived from the Default one when a task is sent ([`cloud_event`], [`slack_message`]).

use frontend::types::WebhookEvent;
use serde_json::{Value, json};

use crate::db;

/// What a payload says about a repository.
#[derive(Debug, Clone)]
pub struct RepoInfo {
    /// `<project>/<path>`.
    pub full_name: String,
    /// When it was created, unix ms.
    pub created_at: i64,
    /// Whether its project is public.
    pub public: bool,
}

impl RepoInfo {
    fn json(&self) -> Value {
        let (namespace, name) = self.full_name.split_once('/').unwrap_or(("", self.full_name.as_str()));
        json!({
            "date_created": self.created_at / 1000,
            "name": name,
            "namespace": namespace,
            "repo_full_name": self.full_name,
            "repo_type": if self.public { "public" } else { "private" },
        })
    }
}

/// Harbor's envelope around `event_data`.
fn envelope(event: WebhookEvent, operator: &str, event_data: Value) -> String {
    json!({
        "type": event.as_str(),
        "occur_at": db::now_ms() / 1000,
        "operator": operator,
        "event_data": event_data,
    })
    .to_string()
}

/// A push, pull or delete of `digest` (under `tags`, or by digest when there are none) in
/// `repo`; `host` is the registry host clients use.
pub fn artifact(
    event: WebhookEvent,
    operator: &str,
    host: &str,
    repo: &RepoInfo,
    digest: &str,
    tags: &[String],
) -> String {
    let resource = |tag: Option<&str>| match tag {
        Some(t) => {
            json!({"digest": digest, "tag": t, "resource_url": format!("{host}/{}:{t}", repo.full_name)})
        }
        None => {
            json!({"digest": digest, "tag": digest, "resource_url": format!("{host}/{}@{digest}", repo.full_name)})
        }
    };
    let resources: Vec<Value> =
        if tags.is_empty() { vec![resource(None)] } else { tags.iter().map(|t| resource(Some(t))).collect() };
    envelope(event, operator, json!({"resources": resources, "repository": repo.json()}))
}

/// A quota event (`QUOTA_EXCEED` or `QUOTA_WARNING`) about a push of `digest` to `repo`.
pub fn quota(event: WebhookEvent, operator: &str, repo: &RepoInfo, digest: &str, details: &str) -> String {
    let mut data = json!({"resources": [{"digest": digest}], "repository": repo.json()});
    data["custom_attributes"] = json!({"Details": details});
    envelope(event, operator, data)
}

/// A finished tag retention run.
pub fn retention(operator: &str, host: &str, project: &str, policy_id: i64, body: RetentionResult) -> String {
    envelope(
        WebhookEvent::TagRetention,
        operator,
        json!({"retention": {
            "total": body.total,
            "retained": body.retained,
            "harbor_hostname": host,
            "project_name": project,
            "retention_policy_id": policy_id,
            "retention_rule": body.rules,
            "result": body.result,
            "deleted_artifact": body.deleted.iter().map(|name_tag| json!({"type": "image", "status": "SUCCESS", "name_tag": name_tag})).collect::<Vec<_>>(),
        }}),
    )
}

/// What a retention run did, for its event.
#[derive(Debug, Clone, Default)]
pub struct RetentionResult {
    /// Candidates across repositories.
    pub total: usize,
    /// Retained.
    pub retained: usize,
    /// The policy's rules, in Harbor's shape.
    pub rules: Value,
    /// `SUCCESS` or `FAILURE`.
    pub result: &'static str,
    /// `repository:tag` (or `@digest`) of what was deleted.
    pub deleted: Vec<String>,
}

/// A finished replication execution.
pub fn replication(operator: &str, replication: Value) -> String {
    envelope(WebhookEvent::Replication, operator, json!({ "replication": replication }))
}

/// The CloudEvents 1.0 envelope Harbor sends for a Default `payload`, from policy `policy_id`
/// of project `project_id`. `id` stays the same across retries of one delivery, so a receiver
/// can drop a repeat.
pub fn cloud_event(payload: &Value, id: &str, project_id: i64, policy_id: i64) -> Value {
    let event = payload["type"].as_str().and_then(WebhookEvent::parse);
    let time = payload["occur_at"].as_i64().map(|s| crate::time::rfc3339_ms(s * 1000)).unwrap_or_default();
    json!({
        "specversion": "1.0",
        "id": id,
        "requestid": id,
        "source": format!("/projects/{project_id}/webhook/policies/{policy_id}"),
        "type": event.map_or("", WebhookEvent::cloud_type),
        "datacontenttype": "application/json",
        "time": time,
        "data": payload["event_data"],
        "operator": payload["operator"],
    })
}

/// The message a Slack incoming webhook shows for a Default `payload`.
pub fn slack_message(payload: &Value) -> Value {
    let when = payload["occur_at"].as_i64().map(|s| crate::time::rfc3339_ms(s * 1000)).unwrap_or_default();
    let data = serde_json::to_string_pretty(&payload["event_data"]).unwrap_or_default();
    let text = format!(
        "Harbor webhook events\nevent_type: {}\noccur_at: {when}\noperator: {}\nevent_data:\n```{data}```",
        payload["type"].as_str().unwrap_or(""),
        payload["operator"].as_str().unwrap_or("")
    );
    json!({ "text": text })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> RepoInfo {
        RepoInfo { full_name: "harbor/alpine".into(), created_at: 1_680_501_893_000, public: false }
    }

    #[test]
    fn default_payloads_have_harbors_fields() {
        let p: Value = serde_json::from_str(&artifact(
            WebhookEvent::PushArtifact,
            "admin",
            "localhost",
            &repo(),
            "sha256:954b",
            &["3.8".to_owned()],
        ))
        .expect("json");
        assert_eq!(p["type"], "PUSH_ARTIFACT");
        assert_eq!(p["operator"], "admin");
        assert!(p["occur_at"].as_i64().is_some_and(|t| t > 1_600_000_000));
        assert_eq!(
            p["event_data"]["resources"][0],
            json!({"digest": "sha256:954b", "tag": "3.8", "resource_url": "localhost/harbor/alpine:3.8"})
        );
        assert_eq!(
            p["event_data"]["repository"],
            json!({"date_created": 1_680_501_893, "name": "alpine", "namespace": "harbor", "repo_full_name": "harbor/alpine", "repo_type": "private"})
        );
        // Untagged: the digest stands in for the tag, as Harbor does.
        let p: Value =
            serde_json::from_str(&artifact(WebhookEvent::PullArtifact, "r", "h", &repo(), "sha256:1", &[]))
                .expect("json");
        assert_eq!(p["event_data"]["resources"][0]["tag"], "sha256:1");
        assert_eq!(p["event_data"]["resources"][0]["resource_url"], "h/harbor/alpine@sha256:1");
        let q: Value =
            serde_json::from_str(&quota(WebhookEvent::QuotaExceed, "", &repo(), "sha256:4", "adding …"))
                .expect("json");
        assert_eq!(q["event_data"]["custom_attributes"]["Details"], "adding …");
    }

    #[test]
    fn cloud_events_and_slack_wrap_the_same_data() {
        let p: Value = serde_json::from_str(&artifact(
            WebhookEvent::DeleteArtifact,
            "admin",
            "h",
            &repo(),
            "sha256:2",
            &[],
        ))
        .expect("json");
        let c = cloud_event(&p, "wharf-7", 2, 15);
        assert_eq!(c["specversion"], "1.0");
        assert_eq!(c["type"], "harbor.artifact.deleted");
        assert_eq!(c["source"], "/projects/2/webhook/policies/15");
        assert_eq!(c["datacontenttype"], "application/json");
        assert_eq!(c["data"], p["event_data"]);
        assert_eq!(c["id"], "wharf-7");
        assert!(c["time"].as_str().is_some_and(|t| t.ends_with('Z')));
        let s = slack_message(&p);
        assert!(
            s["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("Harbor webhook events\nevent_type: DELETE_ARTIFACT"))
        );
    }
}
