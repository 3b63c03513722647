//! The probe handlers: exec (CRI ExecSync), httpGet (HTTP/1.1 GET, status 200-399), tcpSocket (a TCP
//! connection) and grpc (the standard health-checking protocol), with upstream's failure messages.

use std::time::Duration;

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::Probe;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::ProbeTarget;

/// Runs one check; the error is the output upstream reports.
pub async fn check(target: &ProbeTarget, probe: &Probe, timeout: Duration) -> Result<(), String> {
    if let Some(exec) = &probe.exec {
        return exec_check(target, exec.command.clone().unwrap_or_default(), timeout).await;
    }
    if let Some(http) = &probe.http_get {
        let host = http
            .host
            .clone()
            .filter(|host| !host.is_empty())
            .unwrap_or_else(|| target.pod_ip.clone());
        let port = resolve_port(target, &http.port)?;
        let scheme = http
            .scheme
            .clone()
            .unwrap_or_else(|| "HTTP".to_string())
            .to_lowercase();
        let path = http
            .path
            .clone()
            .filter(|path| !path.is_empty())
            .unwrap_or_else(|| "/".to_string());
        let headers: Vec<(String, String)> = http
            .http_headers
            .iter()
            .flatten()
            .map(|header| (header.name.clone(), header.value.clone()))
            .collect();
        let url = format!(
            "{scheme}://{}/{}",
            join_host_port(&host, port),
            path.trim_start_matches('/')
        );
        return match tokio::time::timeout(
            timeout,
            http_check(&scheme, &host, port, &path, &headers),
        )
        .await
        {
            Ok(Ok(code)) if (200..400).contains(&code) => Ok(()),
            Ok(Ok(code)) => Err(format!("HTTP probe failed with statuscode: {code}")),
            Ok(Err(error)) => Err(format!("Get \"{url}\": {error}")),
            Err(_) => Err(format!(
                "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
            )),
        };
    }
    if let Some(tcp) = &probe.tcp_socket {
        let host = tcp
            .host
            .clone()
            .filter(|host| !host.is_empty())
            .unwrap_or_else(|| target.pod_ip.clone());
        let port = resolve_port(target, &tcp.port)?;
        let address = join_host_port(&host, port);
        return match tokio::time::timeout(timeout, TcpStream::connect(&address)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(format!("dial tcp {address}: connect: {}", describe(&error))),
            Err(_) => Err(format!("dial tcp {address}: i/o timeout")),
        };
    }
    if let Some(grpc) = &probe.grpc {
        return grpc_check(
            &target.pod_ip,
            grpc.port,
            grpc.service.clone().unwrap_or_default(),
            timeout,
        )
        .await;
    }
    Ok(())
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn describe(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        _ => error.to_string(),
    }
}

/// A port number, or a named container port.
fn resolve_port(target: &ProbeTarget, port: &IntOrString) -> Result<u16, String> {
    match port {
        IntOrString::Int(number) => {
            u16::try_from(*number).map_err(|_| format!("invalid port number: {number}"))
        }
        IntOrString::String(name) => target
            .container
            .ports
            .iter()
            .flatten()
            .find(|candidate| candidate.name.as_deref() == Some(name.as_str()))
            .and_then(|candidate| u16::try_from(candidate.container_port).ok())
            .ok_or_else(|| format!("couldn't find port: {name} in {}", target.container.name)),
    }
}

async fn exec_check(
    target: &ProbeTarget,
    command: Vec<String>,
    timeout: Duration,
) -> Result<(), String> {
    let request = cri::ExecSyncRequest {
        container_id: target.container_id.clone(),
        cmd: command.clone(),
        timeout: timeout.as_secs() as i64,
    };
    let mut runtime = target.cri.runtime.clone();
    match tokio::time::timeout(timeout + Duration::from_secs(1), runtime.exec_sync(request)).await {
        Ok(Ok(response)) => {
            let response = response.into_inner();
            if response.exit_code == 0 {
                Ok(())
            } else {
                let mut output = String::from_utf8_lossy(&response.stdout).to_string();
                output.push_str(&String::from_utf8_lossy(&response.stderr));
                Err(output)
            }
        }
        Ok(Err(status)) => Err(status.message().to_string()),
        Err(_) => Err(format!("command {command:?} timed out")),
    }
}

pub(crate) async fn http_check(
    scheme: &str,
    host: &str,
    port: u16,
    path: &str,
    headers: &[(String, String)],
) -> std::io::Result<u16> {
    let stream = TcpStream::connect(join_host_port(host, port))
        .await
        .map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!(
                    "dial tcp {}: connect: {}",
                    join_host_port(host, port),
                    describe(&error)
                ),
            )
        })?;
    let mut request = format!("GET {path} HTTP/1.1\r\n");
    let has = |name: &str| {
        headers
            .iter()
            .any(|(key, _)| key.eq_ignore_ascii_case(name))
    };
    if !has("host") {
        request.push_str(&format!("Host: {}\r\n", join_host_port(host, port)));
    }
    if !has("user-agent") {
        request.push_str("User-Agent: kube-probe/1.34\r\n");
    }
    if !has("accept") {
        request.push_str("Accept: */*\r\n");
    }
    for (key, value) in headers {
        request.push_str(&format!("{key}: {value}\r\n"));
    }
    request.push_str("Connection: close\r\n\r\n");
    if scheme == "https" {
        let stream = super::tls::connect(stream, host).await?;
        exchange(stream, request).await
    } else {
        exchange(stream, request).await
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: String,
) -> std::io::Result<u16> {
    stream.write_all(request.as_bytes()).await?;
    let mut buffer = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !buffer.windows(2).any(|window| window == b"\r\n") && buffer.len() < 4096 {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let line = String::from_utf8_lossy(&buffer);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("malformed HTTP response"))
}

#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    service: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct HealthCheckResponse {
    #[prost(int32, tag = "1")]
    status: i32,
}

async fn grpc_check(ip: &str, port: i32, service: String, timeout: Duration) -> Result<(), String> {
    let address = join_host_port(ip, port as u16);
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .map_err(|error| error.to_string())?
        .connect_timeout(timeout)
        .timeout(timeout);
    // Upstream's messages (pkg/probe/grpc): its dial blocks until the deadline, so every connection
    // failure reads as a timeout.
    let seconds = timeout.as_secs();
    let channel = match endpoint.connect().await {
        Ok(channel) => channel,
        Err(_) => {
            return Err(format!(
                "timeout: failed to connect service {address:?} within {seconds}s: context deadline exceeded"
            ));
        }
    };
    let mut client = tonic::client::Grpc::new(channel);
    client
        .ready()
        .await
        .map_err(|error| format!("error: health rpc probe failed: {error}"))?;
    let path = http::uri::PathAndQuery::from_static("/grpc.health.v1.Health/Check");
    let codec = tonic_prost::ProstCodec::<HealthCheckRequest, HealthCheckResponse>::default();
    let call = client.unary(
        tonic::Request::new(HealthCheckRequest { service }),
        path,
        codec,
    );
    let response = match tokio::time::timeout(timeout, call).await {
        Ok(Ok(response)) => response.into_inner(),
        Ok(Err(status)) => return Err(grpc_failure(&status, seconds)),
        Err(_) => {
            return Err(format!(
                "timeout: health rpc did not complete within {seconds}s"
            ));
        }
    };
    let names = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];
    match response.status {
        1 => Ok(()),
        other => Err(format!(
            "service unhealthy (responded with {:?})",
            names.get(other as usize).copied().unwrap_or("UNKNOWN")
        )),
    }
}

/// Upstream's message for a failed health RPC.
fn grpc_failure(status: &tonic::Status, timeout_seconds: u64) -> String {
    match status.code() {
        tonic::Code::Unimplemented => format!(
            "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): {}",
            status.message()
        ),
        tonic::Code::DeadlineExceeded => {
            format!("timeout: health rpc did not complete within {timeout_seconds}s")
        }
        code => format!(
            "error: health rpc probe failed: rpc error: code = {} desc = {}",
            go_code_name(code),
            status.message()
        ),
    }
}

/// A status code as grpc-go names it (`codes.Code.String()`).
fn go_code_name(code: tonic::Code) -> String {
    match code {
        tonic::Code::Ok => "OK".to_string(),
        tonic::Code::Cancelled => "Canceled".to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_failures_read_as_upstream_words_them() {
        assert_eq!(
            grpc_failure(&tonic::Status::not_found("unknown service"), 1),
            "error: health rpc probe failed: rpc error: code = NotFound desc = unknown service"
        );
        assert_eq!(
            grpc_failure(&tonic::Status::cancelled("gone"), 1),
            "error: health rpc probe failed: rpc error: code = Canceled desc = gone"
        );
        assert_eq!(
            grpc_failure(&tonic::Status::unimplemented("unknown method"), 1),
            "error: this server does not implement the grpc health protocol \
             (grpc.health.v1.Health): unknown method"
        );
        assert_eq!(
            grpc_failure(&tonic::Status::deadline_exceeded("late"), 2),
            "timeout: health rpc did not complete within 2s"
        );
    }
}
