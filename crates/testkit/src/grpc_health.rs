//! A gRPC health server for probe tests: the standard `grpc.health.v1.Health/Check` over cleartext
//! HTTP/2 (as the kubelet's grpc prober speaks it), listening on an address inside a test node's
//! network namespace, with a serving status per service name that the test sets and changes.
//!
//! Written by hand over hyper's HTTP/2 server (gRPC's framing and the two one-field messages are a
//! few lines): a known service answers its status; an unknown one answers `NOT_FOUND` with
//! `unknown service`, as grpc-go's health server does; any other method answers `UNIMPLEMENTED`.
//! The services asked about are logged for assertions.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::{HeaderMap, Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use nix::sched::{CloneFlags, setns};
use tokio::sync::oneshot;

use crate::netns::NetNs;

/// The method the kubelet calls.
const CHECK_PATH: &str = "/grpc.health.v1.Health/Check";
/// gRPC status codes used here.
const NOT_FOUND: u8 = 5;
const UNIMPLEMENTED: u8 = 12;
const INTERNAL: u8 = 13;

/// `grpc.health.v1.HealthCheckResponse.ServingStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServingStatus {
    /// `UNKNOWN` (0).
    Unknown,
    /// `SERVING` (1).
    Serving,
    /// `NOT_SERVING` (2).
    NotServing,
    /// `SERVICE_UNKNOWN` (3, for `Watch`).
    ServiceUnknown,
}

impl ServingStatus {
    fn number(self) -> u8 {
        match self {
            ServingStatus::Unknown => 0,
            ServingStatus::Serving => 1,
            ServingStatus::NotServing => 2,
            ServingStatus::ServiceUnknown => 3,
        }
    }
}

/// A running health server; stopped when dropped.
#[derive(Debug)]
pub struct GrpcHealthServer {
    address: SocketAddr,
    state: Arc<State>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// What the server and the test share.
#[derive(Debug, Default)]
struct State {
    statuses: Mutex<HashMap<String, ServingStatus>>,
    checks: Mutex<Vec<String>>,
}

impl GrpcHealthServer {
    /// Listens on `address` inside `netns` (e.g. the node IP and a port) with no service known.
    pub fn start(netns: &NetNs, address: SocketAddr) -> io::Result<GrpcHealthServer> {
        let namespace = std::fs::File::open(netns.path())?;
        let state = Arc::new(State::default());
        let (bound, bind_result) = mpsc::channel();
        let (stop, stopped) = oneshot::channel();
        let thread_state = Arc::clone(&state);
        let thread = std::thread::spawn(move || {
            // Sockets belong to the namespace of the thread that creates them.
            let listener = setns(&namespace, CloneFlags::CLONE_NEWNET)
                .map_err(|error| io::Error::other(format!("setns: {error}")))
                .and_then(|()| std::net::TcpListener::bind(address))
                .and_then(|listener| listener.set_nonblocking(true).map(|()| listener));
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let (listener, runtime) = match (listener, runtime) {
                (Ok(listener), Ok(runtime)) => (listener, runtime),
                (Err(error), _) | (_, Err(error)) => {
                    let _ = bound.send(Err(error));
                    return;
                }
            };
            let _ = bound.send(Ok(()));
            runtime.block_on(serve(listener, thread_state, stopped));
        });
        bind_result
            .recv()
            .map_err(|_| io::Error::other("the health server thread ended"))??;
        Ok(GrpcHealthServer {
            address,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Sets the status `Check` answers for `service` (`""` is the server as a whole).
    pub fn set_status(&self, service: &str, status: ServingStatus) {
        if let Ok(mut statuses) = self.state.statuses.lock() {
            statuses.insert(service.to_string(), status);
        }
    }

    /// The services asked about so far, in order.
    pub fn checks(&self) -> Vec<String> {
        self.state
            .checks
            .lock()
            .map(|checks| checks.clone())
            .unwrap_or_default()
    }
}

impl Drop for GrpcHealthServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Accepts connections until told to stop; each is served as HTTP/2 on its own task.
async fn serve(
    listener: std::net::TcpListener,
    state: Arc<State>,
    mut stopped: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(answer(&state, request).await) }
                    });
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

/// A response body: gRPC messages, then the trailers.
type GrpcBody =
    StreamBody<futures::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

async fn answer(state: &State, request: Request<Incoming>) -> Response<GrpcBody> {
    if request.uri().path() != CHECK_PATH {
        return reply(None, UNIMPLEMENTED, "unknown method");
    }
    let Ok(body) = request.into_body().collect().await else {
        return reply(None, INTERNAL, "the request could not be read");
    };
    let Some(service) = unframe(&body.to_bytes()).and_then(decode_service) else {
        return reply(None, INTERNAL, "malformed HealthCheckRequest");
    };
    if let Ok(mut checks) = state.checks.lock() {
        checks.push(service.clone());
    }
    let status = state
        .statuses
        .lock()
        .ok()
        .and_then(|statuses| statuses.get(&service).copied());
    match status {
        // HealthCheckResponse { status = 1 (varint) }.
        Some(status) => reply(Some(vec![0x08, status.number()]), 0, ""),
        None => reply(None, NOT_FOUND, "unknown service"),
    }
}

/// A gRPC response: 200, `application/grpc`, the message if any, then `grpc-status` trailers.
fn reply(message: Option<Vec<u8>>, code: u8, text: &str) -> Response<GrpcBody> {
    let mut frames = Vec::new();
    if let Some(message) = message {
        let mut framed = Vec::with_capacity(message.len() + 5);
        framed.push(0);
        framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
        framed.extend_from_slice(&message);
        frames.push(Ok(Frame::data(Bytes::from(framed))));
    }
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", u16::from(code).into());
    if let Ok(text) = text.parse() {
        if code != 0 {
            trailers.insert("grpc-message", text);
        }
    }
    frames.push(Ok(Frame::trailers(trailers)));
    let mut response = Response::new(StreamBody::new(futures::stream::iter(frames)));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/grpc"),
    );
    response
}

/// The one uncompressed message of a gRPC request body.
fn unframe(body: &[u8]) -> Option<&[u8]> {
    let (&compressed, rest) = body.split_first()?;
    let length = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    (compressed == 0).then_some(())?;
    rest.get(4..4 + length)
}

/// `HealthCheckRequest.service` (field 1, a string; absent is `""`).
fn decode_service(mut message: &[u8]) -> Option<String> {
    let mut service = String::new();
    while !message.is_empty() {
        let key = varint(&mut message)?;
        match key & 7 {
            0 => {
                varint(&mut message)?;
            }
            1 => message = message.get(8..)?,
            2 => {
                let length = varint(&mut message)? as usize;
                let value = message.get(..length)?;
                if key >> 3 == 1 {
                    service = String::from_utf8(value.to_vec()).ok()?;
                }
                message = &message[length..];
            }
            5 => message = message.get(4..)?,
            _ => return None,
        }
    }
    Some(service)
}

/// Reads a protobuf varint off the front of `input`.
fn varint(input: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_unframed_and_their_service_read() {
        let body = [0, 0, 0, 0, 3, 0x0a, 1, b'x'];
        assert_eq!(
            unframe(&body).and_then(decode_service).as_deref(),
            Some("x")
        );
        assert_eq!(
            unframe(&[0, 0, 0, 0, 0])
                .and_then(decode_service)
                .as_deref(),
            Some("")
        );
        assert_eq!(unframe(&[1, 0, 0, 0, 0]), None);
        assert_eq!(unframe(&[0, 0, 0, 0, 9, 1]), None);
    }
}
