//! Remote command stream translation, as upstream's `StreamTranslator`: a client speaking
//! WebSocket `v5.channel.k8s.io` (kubectl 1.30 and later) is served by a SPDY/3.1
//! `v4.channel.k8s.io` session with containerd's streaming server, which knows no v5.
//!
//! Client to server: channel 0 becomes data on the stdin stream, channel 4 on the resize stream,
//! and the v5 close signal for channel 0 half-closes stdin (`echo hi | kubectl exec -i ... cat`
//! ends). Server to client: stdout and stderr data go out on channels 1 and 2 as they arrive; the
//! `Status` the server writes on its error stream (with the `ExitCode` cause of a non-zero exit) is
//! sent on channel 3 once the session ends, followed by a normal WebSocket close.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::Mutex;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::backend;
use super::spdy::{self, Frame, HeaderWriter};
use super::websocket::{self, Socket, channel};

/// The remote command protocol spoken with the streaming server.
const BACKEND_PROTOCOL: &str = "v4.channel.k8s.io";
/// The `Status` of a command that ended well (what v4 servers write, and an empty error stream
/// means).
const SUCCESS: &[u8] = br#"{"metadata":{},"status":"Success"}"#;
/// How long the client may take to answer the closing handshake.
const CLOSE_WAIT: Duration = Duration::from_secs(60);

/// Which streams a command has, from the request's `stdin`, `stdout`, `stderr` and `tty`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamOptions {
    /// Standard input is attached.
    pub stdin: bool,
    /// Standard output is attached.
    pub stdout: bool,
    /// Standard error is attached (never with a terminal, whose output is all on stdout).
    pub stderr: bool,
    /// A terminal is allocated (resize events flow).
    pub tty: bool,
}

/// The SPDY streams of a session, by id.
#[derive(Debug, Default)]
struct Streams {
    error: u32,
    stdin: Option<u32>,
    stdout: Option<u32>,
    stderr: Option<u32>,
    resize: Option<u32>,
}

impl Streams {
    fn all(&self) -> impl Iterator<Item = u32> + '_ {
        [
            Some(self.error),
            self.stdin,
            self.stdout,
            self.stderr,
            self.resize,
        ]
        .into_iter()
        .flatten()
    }
}

type BackendIo = TokioIo<hyper::upgrade::Upgraded>;

/// The write half of the SPDY session, shared by both directions.
struct Writer<B>(Arc<Mutex<WriteHalf<B>>>);

impl<B> Clone for Writer<B> {
    fn clone(&self) -> Self {
        Writer(Arc::clone(&self.0))
    }
}

impl<B: AsyncWrite> Writer<B> {
    async fn write(&self, frame: &[u8]) -> std::io::Result<()> {
        let mut half = self.0.lock().await;
        half.write_all(frame).await?;
        half.flush().await
    }
}

/// Serves the client's `socket` from the streaming server at `url` until the command ends or the
/// client goes away.
pub async fn run(socket: Socket, url: String, options: StreamOptions) {
    serve(socket, connect(&url), options).await;
}

/// Serves `socket` from the SPDY session `backend` resolves to.
async fn serve<W, B>(
    socket: WebSocketStream<W>,
    backend: impl Future<Output = Result<B, String>>,
    options: StreamOptions,
) where
    W: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (mut sink, mut client) = socket.split();
    // Tell the client the session is up: an empty message on the lowest writable channel.
    let first = if options.stdout {
        channel::STDOUT
    } else if options.stderr {
        channel::STDERR
    } else {
        channel::ERROR
    };
    if sink
        .send(Message::Binary(websocket::frame(first, b"")))
        .await
        .is_err()
    {
        return;
    }
    let status = match backend.await {
        Ok(io) => {
            let (reader, writer) = tokio::io::split(io);
            let writer = Writer(Arc::new(Mutex::new(writer)));
            let mut session = Session {
                reader,
                buffer: BytesMut::with_capacity(16 * 1024),
                writer,
                headers: HeaderWriter::default(),
                streams: Streams::default(),
            };
            match session.open(options).await {
                Ok(()) => {
                    let pump = session.pump_input(&mut client, options);
                    let output = session.forward_output(&mut sink);
                    // The command ends when its output does; a client that goes away first ends it.
                    let status = tokio::select! {
                        status = output => status,
                        () = pump => None,
                    };
                    session.close().await;
                    status
                }
                Err(message) => Some(internal_error(&message)),
            }
        }
        Err(message) => Some(internal_error(&message)),
    };
    let Some(status) = status else {
        return;
    };
    let _ = sink
        .send(Message::Binary(websocket::frame(channel::ERROR, &status)))
        .await;
    let _ = sink
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        })))
        .await;
    // Let the client read everything and answer the close before the connection goes.
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(message)) = client.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Opens the SPDY session with the streaming server.
async fn connect(url: &str) -> Result<BackendIo, String> {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    headers.insert(
        "x-stream-protocol-version",
        HeaderValue::from_static(BACKEND_PROTOCOL),
    );
    let response = backend::send(url, Method::POST, &headers)
        .await
        .map_err(|failure| failure.message)?;
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        let status = response.status();
        let answer = backend::passthrough(response).await;
        let body = http_body_util::BodyExt::collect(answer.into_body())
            .await
            .map(|collected| collected.to_bytes())
            .unwrap_or_default();
        return Err(format!(
            "unable to upgrade connection: {} ({status})",
            String::from_utf8_lossy(&body).trim()
        ));
    }
    let upgraded = backend::upgraded(response)
        .await
        .map_err(|failure| failure.message)?;
    Ok(TokioIo::new(upgraded))
}

/// A `Status` JSON for an error of the server's own (upstream's `NewInternalError`).
fn internal_error(message: &str) -> Vec<u8> {
    serde_json::json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("Internal error occurred: {message}"),
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    })
    .to_string()
    .into_bytes()
}

/// One SPDY client session with the streaming server.
struct Session<B> {
    reader: ReadHalf<B>,
    buffer: BytesMut,
    writer: Writer<B>,
    headers: HeaderWriter,
    streams: Streams,
}

impl<B: AsyncRead + AsyncWrite> Session<B> {
    /// The next frame; `None` once the server closed the connection.
    async fn frame(&mut self) -> Result<Option<Frame>, String> {
        loop {
            if let Some(frame) =
                spdy::decode(&mut self.buffer).map_err(|error| error.to_string())?
            {
                return Ok(Some(frame));
            }
            match self.reader.read_buf(&mut self.buffer).await {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(error) => return Err(error.to_string()),
            }
        }
    }

    /// Opens the streams the options call for, in client-go's order, one after the other, each
    /// once the server accepted the previous.
    async fn open(&mut self, options: StreamOptions) -> Result<(), String> {
        let mut kinds = vec!["error"];
        if options.stdin {
            kinds.push("stdin");
        }
        if options.stdout {
            kinds.push("stdout");
        }
        if options.stderr && !options.tty {
            kinds.push("stderr");
        }
        if options.tty {
            kinds.push("resize");
        }
        for (index, kind) in kinds.into_iter().enumerate() {
            let id = 2 * index as u32 + 1;
            let frame = self.headers.syn_stream(id, &[("streamtype", kind)], false);
            self.writer
                .write(&frame)
                .await
                .map_err(|error| format!("opening the {kind} stream: {error}"))?;
            loop {
                match self.frame().await? {
                    Some(Frame::SynReply { stream_id, .. }) if stream_id == id => break,
                    Some(Frame::Ping { id }) => self
                        .writer
                        .write(&spdy::ping(id))
                        .await
                        .map_err(|error| error.to_string())?,
                    Some(Frame::RstStream { stream_id, status }) if stream_id == id => {
                        return Err(format!("the {kind} stream was refused (status {status})"));
                    }
                    Some(Frame::GoAway { .. }) | None => {
                        return Err(format!(
                            "the streaming server closed before the {kind} stream was accepted"
                        ));
                    }
                    Some(_) => {}
                }
            }
            match kind {
                "error" => self.streams.error = id,
                "stdin" => self.streams.stdin = Some(id),
                "stdout" => self.streams.stdout = Some(id),
                "stderr" => self.streams.stderr = Some(id),
                _ => self.streams.resize = Some(id),
            }
        }
        Ok(())
    }

    /// Client to server: stdin, resize and the stdin close signal, until the client goes away.
    fn pump_input<'a, W>(
        &self,
        client: &'a mut SplitStream<WebSocketStream<W>>,
        options: StreamOptions,
    ) -> impl Future<Output = ()> + use<'a, W, B>
    where
        W: AsyncRead + AsyncWrite + Unpin,
    {
        let writer = self.writer.clone();
        let stdin = self.streams.stdin.filter(|_| options.stdin);
        let resize = self.streams.resize;
        async move {
            let mut stdin_open = stdin.is_some();
            while let Some(Ok(message)) = client.next().await {
                let data = match message {
                    Message::Binary(data) => data,
                    Message::Close(_) => return,
                    _ => continue,
                };
                let Some((&channel, payload)) = data.split_first() else {
                    continue;
                };
                let frame = match (channel, stdin, resize) {
                    (channel::STDIN, Some(id), _) if stdin_open => spdy::data(id, false, payload),
                    (channel::RESIZE, _, Some(id)) => spdy::data(id, false, payload),
                    (channel::CLOSE, Some(id), _)
                        if payload.first() == Some(&channel::STDIN) && stdin_open =>
                    {
                        stdin_open = false;
                        spdy::data(id, true, b"")
                    }
                    _ => continue,
                };
                if writer.write(&frame).await.is_err() {
                    // The command is over; wait for the client to finish reading.
                    std::future::pending::<()>().await;
                }
            }
        }
    }

    /// Server to client: stdout and stderr as they come; the error stream is collected. Returns
    /// the final `Status` (`None` when the client went away) once the server ended the session.
    async fn forward_output<W>(
        &mut self,
        sink: &mut SplitSink<WebSocketStream<W>, Message>,
    ) -> Option<Vec<u8>>
    where
        W: AsyncRead + AsyncWrite + Unpin,
    {
        let mut status = Vec::new();
        let mut error_open = true;
        let mut stdout_open = self.streams.stdout.is_some();
        let mut stderr_open = self.streams.stderr.is_some();
        while error_open || stdout_open || stderr_open {
            let frame = match self.frame().await {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(error) => {
                    tracing::debug!(%error, "the streaming session failed");
                    break;
                }
            };
            let (stream_id, fin) = match frame {
                Frame::Data {
                    stream_id,
                    fin,
                    data,
                } => {
                    let target = if Some(stream_id) == self.streams.stdout {
                        Some(channel::STDOUT)
                    } else if Some(stream_id) == self.streams.stderr {
                        Some(channel::STDERR)
                    } else {
                        None
                    };
                    if stream_id == self.streams.error {
                        status.extend_from_slice(&data);
                    } else if let Some(target) = target.filter(|_| !data.is_empty()) {
                        let message = Message::Binary(websocket::frame(target, &data));
                        if sink.send(message).await.is_err() {
                            return None;
                        }
                    }
                    (stream_id, fin)
                }
                Frame::RstStream { stream_id, .. } => (stream_id, true),
                Frame::SynReply { stream_id, fin } | Frame::Headers { stream_id, fin } => {
                    (stream_id, fin)
                }
                Frame::Ping { id } => {
                    if self.writer.write(&spdy::ping(id)).await.is_err() {
                        break;
                    }
                    continue;
                }
                Frame::GoAway { .. } => break,
                Frame::SynStream { .. } | Frame::Ignored => continue,
            };
            if fin {
                if stream_id == self.streams.error {
                    error_open = false;
                } else if Some(stream_id) == self.streams.stdout {
                    stdout_open = false;
                } else if Some(stream_id) == self.streams.stderr {
                    stderr_open = false;
                }
            }
        }
        Some(if status.is_empty() {
            SUCCESS.to_vec()
        } else {
            status
        })
    }

    /// Ends the session as client-go does: every stream reset, then GOAWAY.
    async fn close(&mut self) {
        let mut frames = Vec::new();
        for id in self.streams.all() {
            frames.extend_from_slice(&spdy::rst_stream(id, spdy::CANCEL));
        }
        frames.extend_from_slice(&spdy::goaway(0));
        let _ = self.writer.write(&frames).await;
        let _ = self.writer.0.lock().await.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::DuplexStream;
    use tokio_tungstenite::tungstenite::protocol::Role;

    const EXIT_3: &[u8] = br#"{"metadata":{},"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#;

    /// A SYN_REPLY for stream `id` without a header block.
    fn syn_reply(id: u32) -> Vec<u8> {
        let mut frame = vec![0x80, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x04];
        frame.extend_from_slice(&id.to_be_bytes());
        frame
    }

    /// A streaming server that accepts every stream, reads stdin to its end, answers with it on
    /// stdout, writes on stderr and ends with exit code 3; returns the streams it saw opened and
    /// whether the client reset them and went away.
    async fn fake_server(io: DuplexStream) -> (Vec<u32>, usize, bool) {
        let (mut reader, mut writer) = tokio::io::split(io);
        let mut buffer = BytesMut::new();
        let mut opened = Vec::new();
        let mut stdin = Vec::new();
        let next = async |reader: &mut ReadHalf<DuplexStream>, buffer: &mut BytesMut| loop {
            if let Some(frame) = spdy::decode(buffer).expect("valid frames") {
                return Some(frame);
            }
            if reader.read_buf(buffer).await.expect("read") == 0 {
                return None;
            }
        };
        while let Some(frame) = next(&mut reader, &mut buffer).await {
            match frame {
                Frame::SynStream { stream_id, .. } => {
                    opened.push(stream_id);
                    writer
                        .write_all(&syn_reply(stream_id))
                        .await
                        .expect("reply");
                }
                Frame::Data {
                    stream_id: 3,
                    fin,
                    data,
                } => {
                    stdin.extend_from_slice(&data);
                    if fin {
                        break;
                    }
                }
                _ => {}
            }
        }
        for frame in [
            spdy::data(5, false, &stdin),
            spdy::data(7, false, b"oops\n"),
            spdy::data(1, false, EXIT_3),
            spdy::goaway(0),
        ] {
            writer.write_all(&frame).await.expect("write");
        }
        let (mut resets, mut gone) = (0, false);
        while let Some(frame) = next(&mut reader, &mut buffer).await {
            match frame {
                Frame::RstStream { .. } => resets += 1,
                Frame::GoAway { .. } => gone = true,
                _ => {}
            }
        }
        (opened, resets, gone)
    }

    async fn sockets() -> (WebSocketStream<DuplexStream>, WebSocketStream<DuplexStream>) {
        let (server, client) = tokio::io::duplex(64 * 1024);
        (
            WebSocketStream::from_raw_socket(server, Role::Server, None).await,
            WebSocketStream::from_raw_socket(client, Role::Client, None).await,
        )
    }

    /// Binary messages until the server's close.
    async fn messages(client: &mut WebSocketStream<DuplexStream>) -> Vec<Vec<u8>> {
        let mut seen = Vec::new();
        while let Some(Ok(message)) = client.next().await {
            match message {
                Message::Binary(data) => seen.push(data.to_vec()),
                Message::Close(_) => break,
                _ => {}
            }
        }
        seen
    }

    #[tokio::test]
    async fn v5_session_over_spdy() {
        let (server, mut client) = sockets().await;
        let (backend, fake) = tokio::io::duplex(64 * 1024);
        let fake = tokio::spawn(fake_server(fake));
        let options = StreamOptions {
            stdin: true,
            stdout: true,
            stderr: true,
            tty: false,
        };
        let served = tokio::spawn(serve(server, async { Ok(backend) }, options));
        let hello = client.next().await.and_then(Result::ok);
        assert_eq!(hello, Some(Message::Binary(vec![channel::STDOUT].into())));
        client
            .send(Message::Binary(b"\x00hi\n".to_vec().into()))
            .await
            .expect("stdin");
        client
            .send(Message::Binary(vec![channel::CLOSE, channel::STDIN].into()))
            .await
            .expect("close stdin");
        let seen = messages(&mut client).await;
        let mut status = vec![channel::ERROR];
        status.extend_from_slice(EXIT_3);
        assert_eq!(seen, [b"\x01hi\n".to_vec(), b"\x02oops\n".to_vec(), status]);
        // tungstenite queued the answer to the server's close; send it.
        let _ = client.flush().await;
        served.await.expect("served");
        // error, stdin, stdout, stderr: client-go's order; every stream reset, then GOAWAY.
        assert_eq!(
            fake.await.expect("fake server"),
            (vec![1, 3, 5, 7], 4, true)
        );
    }

    #[tokio::test]
    async fn unreachable_streaming_server_is_an_internal_error() {
        let (server, mut client) = sockets().await;
        let options = StreamOptions {
            stdout: true,
            ..StreamOptions::default()
        };
        let backend = async { Err::<DuplexStream, _>("connection refused".to_string()) };
        let served = tokio::spawn(serve(server, backend, options));
        let seen = messages(&mut client).await;
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[0], [channel::STDOUT]);
        let status: serde_json::Value = serde_json::from_slice(&seen[1][1..]).expect("a Status");
        assert_eq!(status["reason"], "InternalError");
        assert_eq!(
            status["message"],
            "Internal error occurred: connection refused"
        );
        // tungstenite queued the answer to the server's close; send it.
        let _ = client.flush().await;
        served.await.expect("served");
    }
}
