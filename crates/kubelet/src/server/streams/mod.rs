//! `/exec`, `/attach` and `/portForward`: the container's stream URL from CRI, then the client's
//! upgrade served from containerd's streaming server. Clients speaking a protocol containerd
//! knows (SPDY/3.1 remote command v1 to v4 and port-forward, WebSocket v4 and older) are proxied
//! unchanged; WebSocket `v5.channel.k8s.io` is translated to SPDY (`translate`) and port-forward
//! tunnelled in WebSocket is unwrapped (`tunnel`), as upstream's kubelet does.

pub mod backend;
pub mod spdy;
pub mod translate;
pub mod tunnel;
pub mod websocket;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use k8s_cri::v1 as cri;

use super::http::{Body, Failure};
use super::pods;
use crate::pods::NodeContext;
use translate::StreamOptions;

/// Which remote command a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Run a new process in the container.
    Exec,
    /// Attach to the container's main process.
    Attach,
}

/// The command's argv and streams from the query, as upstream's `remotecommand.NewOptions`.
fn command_options(query: &str) -> Result<(Vec<String>, StreamOptions), Failure> {
    let mut argv = Vec::new();
    let mut options = StreamOptions::default();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let on = matches!(value.as_ref(), "1" | "true");
        match name.as_ref() {
            "command" => argv.push(value.into_owned()),
            "stdin" => options.stdin = on,
            "stdout" => options.stdout = on,
            "stderr" => options.stderr = on,
            "tty" => options.tty = on,
            _ => {}
        }
    }
    // A terminal merges standard error into its output.
    if options.tty {
        options.stderr = false;
    }
    if !options.stdin && !options.stdout && !options.stderr {
        return Err(Failure::bad_request(
            "you must specify at least 1 of stdin, stdout, stderr",
        ));
    }
    Ok((argv, options))
}

/// A CRI error as upstream's `streaming.WriteError` answers it.
fn runtime_failure(call: &str, status: &tonic::Status) -> Failure {
    let code = match status.code() {
        tonic::Code::NotFound => StatusCode::NOT_FOUND,
        tonic::Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    Failure::new(code, format!("{call}: {}", status.message()))
}

/// Serves `/exec/...` or `/attach/...` for `container` of pod `namespace/name` (and `uid`, when the
/// URL names it).
pub async fn serve_command(
    context: &NodeContext,
    request: Request<Incoming>,
    command: Command,
    target: &Target<'_>,
) -> Result<Response<Body>, Failure> {
    let (argv, options) = command_options(request.uri().query().unwrap_or(""))?;
    let pod = pods::find(context, target.namespace, target.pod, "pod does not exist").await?;
    if target.uid.is_some_and(|uid| uid != pods::uid(&pod)) {
        return Err(Failure::not_found("pod not found"));
    }
    let container = target.container.unwrap_or("");
    let Some(id) = pods::running_container(context, pods::uid(&pod), container).await? else {
        return Err(Failure::internal(format!(
            "container not found ({container:?})"
        )));
    };
    let mut runtime = context.cri.runtime.clone();
    let url = match command {
        Command::Exec => {
            runtime
                .exec(cri::ExecRequest {
                    container_id: id,
                    cmd: argv,
                    tty: options.tty,
                    stdin: options.stdin,
                    stdout: options.stdout,
                    stderr: options.stderr,
                })
                .await
                .map_err(|status| runtime_failure("Exec", &status))?
                .into_inner()
                .url
        }
        Command::Attach => {
            runtime
                .attach(cri::AttachRequest {
                    container_id: id,
                    stdin: options.stdin,
                    tty: options.tty,
                    stdout: options.stdout,
                    stderr: options.stderr,
                })
                .await
                .map_err(|status| runtime_failure("Attach", &status))?
                .into_inner()
                .url
        }
    };
    if websocket::is_upgrade(request.headers())
        && websocket::protocols(request.headers())
            .iter()
            .any(|protocol| protocol == websocket::V5_CHANNEL)
    {
        let answer = websocket::accept(request.headers(), websocket::V5_CHANNEL)?;
        let upgrade = hyper::upgrade::on(request);
        tokio::spawn(async move {
            match upgrade.await {
                Ok(upgraded) => {
                    translate::run(websocket::socket(upgraded).await, url, options).await
                }
                Err(error) => tracing::debug!(%error, "the client did not complete the upgrade"),
            }
        });
        return Ok(answer);
    }
    Ok(backend::proxy(request, &url).await)
}

/// Serves `/portForward/...` for pod `namespace/name`.
pub async fn serve_port_forward(
    context: &NodeContext,
    request: Request<Incoming>,
    target: &Target<'_>,
) -> Result<Response<Body>, Failure> {
    let pod = pods::find(context, target.namespace, target.pod, "pod does not exist").await?;
    if target.uid.is_some_and(|uid| uid != pods::uid(&pod)) {
        return Err(Failure::not_found("pod not found"));
    }
    let Some(sandbox) = pods::ready_sandbox(context, pods::uid(&pod)).await? else {
        return Err(Failure::not_found(format!(
            "pod not found ({:?})",
            target.pod
        )));
    };
    let ports = form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .filter(|(name, _)| name == "port")
        .flat_map(|(_, value)| {
            value
                .split(',')
                .filter_map(|port| port.trim().parse::<i32>().ok())
                .collect::<Vec<_>>()
        })
        .collect();
    let url = context
        .cri
        .runtime
        .clone()
        .port_forward(cri::PortForwardRequest {
            pod_sandbox_id: sandbox,
            port: ports,
        })
        .await
        .map_err(|status| runtime_failure("PortForward", &status))?
        .into_inner()
        .url;
    let tunnelled = tunnel::tunnelled_protocols(request.headers());
    if !tunnelled.is_empty() {
        return tunnel::serve(request, &url, &tunnelled).await;
    }
    Ok(backend::proxy(request, &url).await)
}

/// What a stream URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// The pod's namespace.
    pub namespace: &'a str,
    /// The pod's name.
    pub pod: &'a str,
    /// The pod's UID, when the URL has one.
    pub uid: Option<&'a str>,
    /// The container (exec and attach).
    pub container: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_queries() {
        let (argv, options) =
            command_options("command=sh&command=-c&command=exit+3&stdin=1&stdout=1&stderr=1")
                .expect("valid");
        assert_eq!(argv, ["sh", "-c", "exit 3"]);
        assert_eq!(
            options,
            StreamOptions {
                stdin: true,
                stdout: true,
                stderr: true,
                tty: false
            }
        );
        let (_, options) = command_options("command=sh&stdout=1&stderr=1&tty=1").expect("valid");
        assert!(options.tty && options.stdout && !options.stderr);
        assert_eq!(
            command_options("command=ls").map_err(|failure| failure.message),
            Err("you must specify at least 1 of stdin, stdout, stderr".to_string())
        );
    }
}
