//! A tiny OCI distribution registry for image pull tests: plain HTTP on 127.0.0.1 inside a test
//! node's network namespace (so containerd there reaches it as `localhost:PORT`, which it speaks
//! HTTP to), serving one image from an OCI image-layout archive (the testkit's busybox) under one
//! repository and tag, behind HTTP basic authentication.
//!
//! It answers what a pull needs of the distribution API: `GET /v2/`, `GET|HEAD
//! /v2/<repository>/manifests/<tag or digest>` and `GET|HEAD /v2/<repository>/blobs/<digest>`,
//! with `Docker-Content-Digest` headers, `WWW-Authenticate: Basic` challenges (401) without valid
//! credentials, and the API's JSON errors. Requests are logged for assertions.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use base64::Engine as _;
use nix::sched::{CloneFlags, setns};

use crate::netns::NetNs;

/// The media type of the manifests the testkit's archives hold.
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// How long the accept loop sleeps when idle before looking at the stop flag again.
const IDLE: Duration = Duration::from_millis(20);

/// What the registry serves and to whom.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// The repository, e.g. `busybox`.
    pub repository: String,
    /// The tag, e.g. `1`.
    pub tag: String,
    /// The user name basic authentication expects.
    pub username: String,
    /// Its password.
    pub password: String,
}

/// A running registry; stopped when dropped.
#[derive(Debug)]
pub struct TestRegistry {
    port: u16,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<String>>>,
}

/// The image as blobs.
struct Content {
    manifest_digest: String,
    blobs: HashMap<String, Vec<u8>>,
}

impl TestRegistry {
    /// Serves the first image of the OCI archive `archive` on 127.0.0.1:`port` in `netns`.
    pub fn start(
        netns: &NetNs,
        port: u16,
        archive: &[u8],
        config: RegistryConfig,
    ) -> io::Result<TestRegistry> {
        let content = Arc::new(read_archive(archive)?);
        let namespace = std::fs::File::open(netns.path())?;
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", config.username, config.password))
        );
        let (bound, bind_result) = mpsc::channel();
        let (thread_stop, thread_log) = (Arc::clone(&stop), Arc::clone(&log));
        std::thread::spawn(move || {
            // Sockets belong to the namespace of the thread that creates them.
            let listener = setns(&namespace, CloneFlags::CLONE_NEWNET)
                .map_err(|error| io::Error::other(format!("setns: {error}")))
                .and_then(|()| TcpListener::bind(("127.0.0.1", port)))
                .and_then(|listener| listener.set_nonblocking(true).map(|()| listener));
            let listener = match listener {
                Ok(listener) => {
                    let _ = bound.send(Ok(()));
                    listener
                }
                Err(error) => {
                    let _ = bound.send(Err(error));
                    return;
                }
            };
            let site = Arc::new(Site {
                content,
                config,
                expected,
                log: thread_log,
            });
            while !thread_stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let site = Arc::clone(&site);
                        std::thread::spawn(move || site.serve(stream));
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(IDLE);
                    }
                    Err(_) => std::thread::sleep(IDLE),
                }
            }
        });
        bind_result
            .recv()
            .map_err(|_| io::Error::other("the registry thread ended"))??;
        Ok(TestRegistry { port, stop, log })
    }

    /// The registry's host as images name it: `localhost:PORT`.
    pub fn host(&self) -> String {
        format!("localhost:{}", self.port)
    }

    /// Every request so far: `METHOD PATH -> STATUS`.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().map(|log| log.clone()).unwrap_or_default()
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// What connection threads share.
struct Site {
    content: Arc<Content>,
    config: RegistryConfig,
    expected: String,
    log: Arc<Mutex<Vec<String>>>,
}

/// One answer.
struct Answer {
    status: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Site {
    /// Serves the requests of one connection until it closes.
    fn serve(&self, stream: TcpStream) {
        let _ = stream.set_nonblocking(false);
        let Ok(writer) = stream.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(stream);
        let mut writer = writer;
        loop {
            let Some((method, path, headers)) = read_head(&mut reader) else {
                return;
            };
            let length = headers
                .get("content-length")
                .and_then(|value| value.parse::<u64>().ok())
                .unwrap_or(0);
            if io::copy(&mut (&mut reader).take(length), &mut io::sink()).is_err() {
                return;
            }
            let answer = self.answer(&path, headers.get("authorization"));
            if let Ok(mut log) = self.log.lock() {
                log.push(format!("{method} {path} -> {}", answer.status));
            }
            let close = headers
                .get("connection")
                .is_some_and(|value| value.eq_ignore_ascii_case("close"));
            if write_answer(&mut writer, &answer, method == "HEAD").is_err() || close {
                return;
            }
        }
    }

    fn answer(&self, path: &str, authorization: Option<&String>) -> Answer {
        let path = path.split('?').next().unwrap_or(path);
        if authorization != Some(&self.expected) {
            return error(
                "401 Unauthorized",
                "UNAUTHORIZED",
                "authentication required",
                vec![(
                    "WWW-Authenticate",
                    "Basic realm=\"kubers-test-registry\"".to_string(),
                )],
            );
        }
        if path == "/v2/" || path == "/v2" {
            return Answer {
                status: "200 OK",
                headers: vec![("Content-Type", "application/json".to_string())],
                body: b"{}".to_vec(),
            };
        }
        let prefix = format!("/v2/{}/", self.config.repository);
        let Some(rest) = path.strip_prefix(&prefix) else {
            return error(
                "404 Not Found",
                "NAME_UNKNOWN",
                "repository name not known to registry",
                Vec::new(),
            );
        };
        if let Some(reference) = rest.strip_prefix("manifests/") {
            let digest = &self.content.manifest_digest;
            if reference != self.config.tag && reference != digest {
                return error(
                    "404 Not Found",
                    "MANIFEST_UNKNOWN",
                    "manifest unknown",
                    Vec::new(),
                );
            }
            return self.blob(digest, MANIFEST_TYPE);
        }
        if let Some(digest) = rest.strip_prefix("blobs/") {
            return self.blob(digest, "application/octet-stream");
        }
        error(
            "404 Not Found",
            "UNSUPPORTED",
            "the operation is unsupported",
            Vec::new(),
        )
    }

    fn blob(&self, digest: &str, content_type: &str) -> Answer {
        match self.content.blobs.get(digest) {
            Some(bytes) => Answer {
                status: "200 OK",
                headers: vec![
                    ("Content-Type", content_type.to_string()),
                    ("Docker-Content-Digest", digest.to_string()),
                ],
                body: bytes.clone(),
            },
            None => error(
                "404 Not Found",
                "BLOB_UNKNOWN",
                "blob unknown to registry",
                Vec::new(),
            ),
        }
    }
}

/// A distribution API error.
fn error(
    status: &'static str,
    code: &str,
    message: &str,
    mut headers: Vec<(&'static str, String)>,
) -> Answer {
    headers.push(("Content-Type", "application/json".to_string()));
    let body = serde_json::json!({"errors": [{"code": code, "message": message, "detail": null}]});
    Answer {
        status,
        headers,
        body: body.to_string().into_bytes(),
    }
}

/// Reads a request line and headers (names lowercased); `None` at the end of the connection.
fn read_head(reader: &mut impl BufRead) -> Option<(String, String, HashMap<String, String>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            return Some((method, path, headers));
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
}

fn write_answer(writer: &mut impl Write, answer: &Answer, head_only: bool) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {}\r\nDocker-Distribution-API-Version: registry/2.0\r\nContent-Length: {}\r\n",
        answer.status,
        answer.body.len()
    );
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    writer.write_all(head.as_bytes())?;
    if !head_only {
        writer.write_all(&answer.body)?;
    }
    writer.flush()
}

/// The blobs of an OCI image-layout archive and the digest of its first manifest.
fn read_archive(archive: &[u8]) -> io::Result<Content> {
    let mut blobs = HashMap::new();
    let mut index = None;
    for entry in tar::Archive::new(archive).entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        if path == "index.json" {
            index = Some(bytes);
        } else if let Some(hex) = path.strip_prefix("blobs/sha256/") {
            if !hex.is_empty() {
                blobs.insert(format!("sha256:{hex}"), bytes);
            }
        }
    }
    let index: serde_json::Value = serde_json::from_slice(
        &index.ok_or_else(|| io::Error::other("the archive has no index.json"))?,
    )
    .map_err(io::Error::other)?;
    let manifest_digest = index
        .pointer("/manifests/0/digest")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| io::Error::other("the archive's index names no manifest"))?
        .to_string();
    Ok(Content {
        manifest_digest,
        blobs,
    })
}
