//! Container lifecycle hooks (postStart, preStop): exec in the container, an HTTP GET, or a sleep,
//! bounded by a time limit, with upstream's failure messages.

use std::time::Duration;

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::{Container, LifecycleHandler};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::NodeContext;

/// Runs a hook handler; the error describes the failure.
pub async fn run(
    context: &NodeContext,
    container_id: &str,
    container: &Container,
    pod_ip: &str,
    handler: &LifecycleHandler,
    limit: Duration,
) -> Result<(), String> {
    if let Some(exec) = &handler.exec {
        let command = exec.command.clone().unwrap_or_default();
        let request = cri::ExecSyncRequest {
            container_id: container_id.to_string(),
            cmd: command.clone(),
            timeout: limit.as_secs() as i64,
        };
        let mut runtime = context.cri.runtime.clone();
        return match tokio::time::timeout(
            limit + Duration::from_secs(1),
            runtime.exec_sync(request),
        )
        .await
        {
            Ok(Ok(response)) => {
                let response = response.into_inner();
                if response.exit_code == 0 {
                    Ok(())
                } else {
                    Err(format!(
                        "command '{}' exited with {}: {}",
                        command.join(" "),
                        response.exit_code,
                        String::from_utf8_lossy(&response.stderr)
                    ))
                }
            }
            Ok(Err(status)) => Err(status.message().to_string()),
            Err(_) => Err(format!("command '{}' timed out", command.join(" "))),
        };
    }
    if let Some(http) = &handler.http_get {
        let host = http
            .host
            .clone()
            .filter(|host| !host.is_empty())
            .unwrap_or_else(|| pod_ip.to_string());
        let port = match &http.port {
            IntOrString::Int(number) => *number,
            IntOrString::String(name) => container
                .ports
                .iter()
                .flatten()
                .find(|port| port.name.as_deref() == Some(name.as_str()))
                .map(|port| port.container_port)
                .ok_or_else(|| format!("couldn't find port: {name} in {}", container.name))?,
        };
        let path = http
            .path
            .clone()
            .filter(|path| !path.is_empty())
            .unwrap_or_else(|| "/".to_string());
        let scheme = http
            .scheme
            .clone()
            .unwrap_or_else(|| "HTTP".to_string())
            .to_lowercase();
        let headers: Vec<(String, String)> = http
            .http_headers
            .iter()
            .flatten()
            .map(|header| (header.name.clone(), header.value.clone()))
            .collect();
        let port = u16::try_from(port).map_err(|_| format!("invalid port {port}"))?;
        return match tokio::time::timeout(
            limit,
            crate::probes::http_get(&scheme, &host, port, &path, &headers),
        )
        .await
        {
            Ok(Ok(code)) if (200..400).contains(&code) => Ok(()),
            Ok(Ok(code)) => Err(format!(
                "HTTP lifecycle hook ({path}) for Container \"{}\" returned status {code}",
                container.name
            )),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("timed out".to_string()),
        };
    }
    if let Some(sleep) = &handler.sleep {
        tokio::time::sleep(Duration::from_secs(sleep.seconds.max(0) as u64).min(limit)).await;
    }
    Ok(())
}
