//! Port-forward tunnelled through a WebSocket, as upstream's `TunnelingHandler`: kubectl 1.31 and
//! later offer `SPDY/3.1+portforward.k8s.io` and then speak a SPDY session inside binary messages.
//! The streaming server is asked for the same session as a plain SPDY upgrade and the bytes are
//! passed through both ways: message boundaries mean nothing, the tunnel is a byte stream.

use futures::{SinkExt, StreamExt};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::backend;
use super::websocket::{self, SPDY_TUNNEL_PREFIX};
use crate::server::http::{Body, Failure};

/// The SPDY protocols a tunnelling request offers (its WebSocket subprotocols without the
/// `SPDY/3.1+` prefix), if it is one.
pub fn tunnelled_protocols(headers: &HeaderMap) -> Vec<String> {
    if !websocket::is_upgrade(headers) {
        return Vec::new();
    }
    websocket::protocols(headers)
        .into_iter()
        .filter_map(|protocol| {
            protocol
                .strip_prefix(SPDY_TUNNEL_PREFIX)
                .filter(|spdy| spdy.ends_with(".k8s.io"))
                .map(str::to_string)
        })
        .collect()
}

/// Serves a tunnelling request from the streaming server at `url`.
pub async fn serve(
    mut request: Request<hyper::body::Incoming>,
    url: &str,
    spdy_protocols: &[String],
) -> Result<Response<Body>, Failure> {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    for protocol in spdy_protocols {
        let value = HeaderValue::from_str(protocol)
            .map_err(|error| Failure::bad_request(error.to_string()))?;
        headers.append("x-stream-protocol-version", value);
    }
    let response = backend::send(url, Method::POST, &headers).await?;
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Ok(backend::passthrough(response).await);
    }
    let chosen = response
        .headers()
        .get("x-stream-protocol-version")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("portforward.k8s.io")
        .to_string();
    let answer = websocket::accept(request.headers(), &format!("{SPDY_TUNNEL_PREFIX}{chosen}"))?;
    let client = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let (client, backend) = match tokio::join!(client, backend::upgraded(response)) {
            (Ok(client), Ok(backend)) => (client, backend),
            _ => return,
        };
        relay(websocket::socket(client).await, TokioIo::new(backend)).await;
    });
    Ok(answer)
}

/// Passes bytes between the WebSocket's binary messages and the streaming connection until
/// either side ends.
async fn relay<W, B>(socket: WebSocketStream<W>, backend: B)
where
    W: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite,
{
    let (mut sink, mut client) = socket.split();
    let (mut reader, mut writer) = tokio::io::split(backend);
    let inbound = async {
        while let Some(Ok(message)) = client.next().await {
            match message {
                Message::Binary(data) if writer.write_all(&data).await.is_err() => break,
                Message::Close(_) => break,
                _ => {}
            }
        }
        let _ = writer.shutdown().await;
    };
    let outbound = async {
        let mut buffer = vec![0u8; 32 * 1024];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => {
                    let message = Message::Binary(buffer[..read].to_vec().into());
                    if sink.send(message).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = sink.send(Message::Close(None)).await;
    };
    tokio::select! {
        () = inbound => {}
        () = outbound => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::protocol::Role;

    #[test]
    fn tunnelled_protocols_are_stripped() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("SPDY/3.1+portforward.k8s.io, v4.channel.k8s.io"),
        );
        assert_eq!(tunnelled_protocols(&headers), ["portforward.k8s.io"]);
        headers.remove(header::UPGRADE);
        assert!(tunnelled_protocols(&headers).is_empty());
    }

    #[tokio::test]
    async fn relays_a_byte_stream() {
        let (server, client) = tokio::io::duplex(4096);
        let server = WebSocketStream::from_raw_socket(server, Role::Server, None).await;
        let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        let (backend, mut streaming) = tokio::io::duplex(4096);
        let relayed = tokio::spawn(relay(server, backend));
        // Message boundaries mean nothing: a frame may arrive in pieces.
        for piece in [&b"\x80\x03"[..], b"\x00\x01", b"rest"] {
            client
                .send(Message::Binary(piece.to_vec().into()))
                .await
                .expect("sent");
        }
        let mut received = [0u8; 8];
        streaming.read_exact(&mut received).await.expect("relayed");
        assert_eq!(&received, b"\x80\x03\x00\x01rest");
        streaming.write_all(b"answer").await.expect("written");
        let answer = client.next().await.and_then(Result::ok);
        assert_eq!(answer, Some(Message::Binary(b"answer".to_vec().into())));
        // The streaming server closing ends the tunnel.
        drop(streaming);
        assert!(matches!(client.next().await, Some(Ok(Message::Close(_)))));
        relayed.await.expect("relay ended");
    }
}
