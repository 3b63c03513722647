//! `GET /containerLogs/{namespace}/{pod}/{container}`: a container's output from the CRI log file
//! containerd writes, with upstream's options (`follow`, `previous`, `tailLines`, `sinceSeconds`,
//! `sinceTime`, `timestamps`, `limitBytes`) and error messages.

pub mod cri_format;
pub mod options;
pub mod reader;

use std::path::PathBuf;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use tokio::sync::mpsc;

use super::http::{self, Body, Failure};
use super::pods;
use crate::pods::NodeContext;
use options::{LogOptions, OptionsError};

/// Serves one log request.
pub async fn serve(
    context: Arc<NodeContext>,
    query: &str,
    namespace: &str,
    name: &str,
    container: &str,
) -> Result<hyper::Response<Body>, Failure> {
    let options = options::parse(query, chrono::Utc::now()).map_err(|error| match error {
        OptionsError::Decode => Failure::bad_request(r#"{"message": "Unable to decode query."}"#),
        OptionsError::Invalid => Failure::new(
            hyper::StatusCode::UNPROCESSABLE_ENTITY,
            r#"{"message": "Invalid request."}"#,
        ),
    })?;
    let pod = pods::find(
        &context,
        namespace,
        name,
        &format!("pod {name:?} does not exist"),
    )
    .await?;
    if !pods::has_container(&pod, container) {
        return Err(Failure::not_found(format!(
            "container {container:?} not found in pod {name:?}"
        )));
    }
    let id = container_id(&pod, container, options.previous).map_err(Failure::bad_request)?;
    let status = pods::container_status(&context, &id)
        .await
        .map_err(|status| {
            Failure::bad_request(format!(
                "failed to get container status {id:?}: {}",
                status.message()
            ))
        })?
        .ok_or_else(|| {
            Failure::bad_request(format!("failed to get container status {id:?}: not found"))
        })?;
    let path = PathBuf::from(&status.log_path);
    // Open now, so a missing file is an error response rather than an empty stream.
    if let Err(error) = tokio::fs::metadata(&path).await {
        return Err(Failure::bad_request(format!(
            "failed to open log file {:?}: {error}",
            path.display()
        )));
    }
    let (sink, chunks) = mpsc::channel(8);
    tokio::spawn(stream(context, id, path, options, sink));
    Ok(hyper::Response::new(http::channel(chunks)))
}

async fn stream(
    context: Arc<NodeContext>,
    id: String,
    path: PathBuf,
    options: LogOptions,
    sink: mpsc::Sender<bytes::Bytes>,
) {
    let running = || {
        let context = Arc::clone(&context);
        let id = id.clone();
        async move {
            matches!(
                pods::container_status(&context, &id).await,
                Ok(Some(status)) if status.state == k8s_cri::v1::ContainerState::ContainerRunning as i32
            )
        }
    };
    if let Err(error) = reader::read(&path, &options, &sink, running).await {
        tracing::warn!(path = %path.display(), %error, "reading a container log failed");
    }
}

/// The CRI id of the container instance whose log is wanted, as upstream's
/// `validateContainerLogStatus` picks it from the pod status; the error is upstream's message.
pub fn container_id(pod: &Pod, container: &str, previous: bool) -> Result<String, String> {
    let name = pod.metadata.name.as_deref().unwrap_or("");
    let status = pod.status.as_ref().and_then(|status| {
        [
            status.container_statuses.as_ref(),
            status.init_container_statuses.as_ref(),
            status.ephemeral_container_statuses.as_ref(),
        ]
        .into_iter()
        .flatten()
        .flatten()
        .find(|status| status.name == container)
    });
    let Some(status) = status else {
        return Err(format!(
            "container {container:?} in pod {name:?} is not available"
        ));
    };
    let id = pick(status, previous).map_err(|problem| match problem {
        Problem::NoPrevious => {
            format!("previous terminated container {container:?} in pod {name:?} not found")
        }
        Problem::Terminated => format!("container {container:?} in pod {name:?} is terminated"),
        Problem::Waiting(reason) => {
            let reason = match reason.as_str() {
                "ErrImagePull" => "image can't be pulled".to_string(),
                "ImagePullBackOff" => "trying and failing to pull image".to_string(),
                _ => reason,
            };
            format!("container {container:?} in pod {name:?} is waiting to start: {reason}")
        }
        Problem::Unknown => {
            format!("container {container:?} in pod {name:?} is waiting to start - no logs yet")
        }
    })?;
    // `containerd://<id>`.
    Ok(id
        .split_once("://")
        .map_or(id.as_str(), |(_, id)| id)
        .to_string())
}

enum Problem {
    NoPrevious,
    Terminated,
    Waiting(String),
    Unknown,
}

fn pick(status: &ContainerStatus, previous: bool) -> Result<String, Problem> {
    let nonempty = |id: Option<&String>| id.filter(|id| !id.is_empty()).cloned();
    let last_terminated = status
        .last_state
        .as_ref()
        .and_then(|state| state.terminated.as_ref());
    let state = status.state.clone().unwrap_or_default();
    if previous {
        return last_terminated
            .and_then(|terminated| nonempty(terminated.container_id.as_ref()))
            .ok_or(Problem::NoPrevious);
    }
    if state.running.is_some() {
        return nonempty(status.container_id.as_ref()).ok_or(Problem::Unknown);
    }
    if let Some(terminated) = state.terminated.as_ref() {
        // When the next instance did not start, the terminated id may be empty.
        return nonempty(terminated.container_id.as_ref())
            .or_else(|| last_terminated.and_then(|last| nonempty(last.container_id.as_ref())))
            .ok_or(Problem::Terminated);
    }
    if let Some(last) = last_terminated {
        return nonempty(last.container_id.as_ref()).ok_or(Problem::Terminated);
    }
    if let Some(waiting) = state.waiting.as_ref() {
        return Err(Problem::Waiting(waiting.reason.clone().unwrap_or_default()));
    }
    Err(Problem::Unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web"},
            "spec": {"containers": [{"name": "app"}]},
            "status": {"containerStatuses": [status]},
        }))
        .expect("a pod")
    }

    #[test]
    fn picks_the_instance_like_upstream() {
        let running = pod(serde_json::json!({
            "name": "app", "image": "x", "imageID": "", "ready": true, "restartCount": 1,
            "containerID": "containerd://new",
            "state": {"running": {}},
            "lastState": {"terminated": {"exitCode": 1, "containerID": "containerd://old"}},
        }));
        assert_eq!(container_id(&running, "app", false), Ok("new".to_string()));
        assert_eq!(container_id(&running, "app", true), Ok("old".to_string()));
        assert_eq!(
            container_id(&running, "other", false),
            Err(r#"container "other" in pod "web" is not available"#.to_string())
        );

        let creating = pod(serde_json::json!({
            "name": "app", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ContainerCreating"}},
        }));
        assert_eq!(
            container_id(&creating, "app", false),
            Err(
                r#"container "app" in pod "web" is waiting to start: ContainerCreating"#
                    .to_string()
            )
        );
        assert_eq!(
            container_id(&creating, "app", true),
            Err(r#"previous terminated container "app" in pod "web" not found"#.to_string())
        );

        let pull = pod(serde_json::json!({
            "name": "app", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff"}},
        }));
        assert_eq!(
            container_id(&pull, "app", false),
            Err(r#"container "app" in pod "web" is waiting to start: trying and failing to pull image"#.to_string())
        );

        let crashing = pod(serde_json::json!({
            "name": "app", "image": "x", "imageID": "", "ready": false, "restartCount": 3,
            "containerID": "containerd://third",
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "containerID": "containerd://third"}},
        }));
        assert_eq!(
            container_id(&crashing, "app", false),
            Ok("third".to_string())
        );

        let done = pod(serde_json::json!({
            "name": "app", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "containerID": "containerd://only",
            "state": {"terminated": {"exitCode": 0, "containerID": "containerd://only"}},
        }));
        assert_eq!(container_id(&done, "app", false), Ok("only".to_string()));
    }
}
