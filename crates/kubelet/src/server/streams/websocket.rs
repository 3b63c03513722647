//! The WebSocket side of streams: recognising an upgrade and the subprotocols it offers, answering
//! the handshake (RFC 6455) and the channel framing of the `channel.k8s.io` protocols, where the
//! first byte of every binary message names the stream.

use bytes::{BufMut, Bytes, BytesMut};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::upgrade::Upgraded;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::server::http::{self, Body, Failure};

/// Remote command protocol version 5 (binary channels and the close signal).
pub const V5_CHANNEL: &str = "v5.channel.k8s.io";
/// The prefix of subprotocols that tunnel a SPDY session through binary messages.
pub const SPDY_TUNNEL_PREFIX: &str = "SPDY/3.1+";

/// Channel numbers of the remote command protocols.
pub mod channel {
    /// Standard input (client to server).
    pub const STDIN: u8 = 0;
    /// Standard output.
    pub const STDOUT: u8 = 1;
    /// Standard error.
    pub const STDERR: u8 = 2;
    /// The final `Status`.
    pub const ERROR: u8 = 3;
    /// Terminal size changes (client to server).
    pub const RESIZE: u8 = 4;
    /// v5: the client will send no more on the channel in the next byte.
    pub const CLOSE: u8 = 255;
}

/// A server-side WebSocket over an upgraded connection.
pub type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// Whether the request asks for a WebSocket upgrade.
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    let upgrade = headers
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.trim().eq_ignore_ascii_case("websocket"));
    let connection = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    upgrade && connection
}

/// Every subprotocol offered in `Sec-WebSocket-Protocol` (repeated and comma-separated).
pub fn protocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|protocol| protocol.trim().to_string())
        .filter(|protocol| !protocol.is_empty())
        .collect()
}

/// The `101 Switching Protocols` answer accepting the upgrade with `protocol`.
pub fn accept(headers: &HeaderMap, protocol: &str) -> Result<Response<Body>, Failure> {
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or_else(|| Failure::bad_request("missing Sec-WebSocket-Key"))?;
    let version = headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .and_then(|value| value.to_str().ok());
    if version != Some("13") {
        return Err(Failure::bad_request("unsupported WebSocket version"));
    }
    let accept = HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
        .map_err(|error| Failure::internal(error.to_string()))?;
    let protocol =
        HeaderValue::from_str(protocol).map_err(|error| Failure::internal(error.to_string()))?;
    let mut response = Response::new(http::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let response_headers = response.headers_mut();
    response_headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    response_headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    response_headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    response_headers.insert(header::SEC_WEBSOCKET_PROTOCOL, protocol);
    Ok(response)
}

/// The server side of the WebSocket once the connection is upgraded.
pub async fn socket(upgraded: Upgraded) -> Socket {
    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await
}

/// A binary message on `channel`.
pub fn frame(channel: u8, data: &[u8]) -> Bytes {
    let mut message = BytesMut::with_capacity(data.len() + 1);
    message.put_u8(channel);
    message.put_slice(data);
    message.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                header::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    #[test]
    fn recognises_upgrades_and_protocols() {
        let request = headers(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "WebSocket"),
            (
                "sec-websocket-protocol",
                "v5.channel.k8s.io, v4.channel.k8s.io",
            ),
            ("sec-websocket-protocol", "SPDY/3.1+portforward.k8s.io"),
        ]);
        assert!(is_upgrade(&request));
        assert_eq!(
            protocols(&request),
            [
                "v5.channel.k8s.io",
                "v4.channel.k8s.io",
                "SPDY/3.1+portforward.k8s.io"
            ]
        );
        assert!(!is_upgrade(&headers(&[
            ("connection", "Upgrade"),
            ("upgrade", "SPDY/3.1")
        ])));
    }

    #[test]
    fn accepts_with_the_rfc_key() {
        let request = headers(&[
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("sec-websocket-version", "13"),
        ]);
        let response = accept(&request, V5_CHANNEL).expect("accepted");
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(
            response.headers()[header::SEC_WEBSOCKET_ACCEPT],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(
            response.headers()[header::SEC_WEBSOCKET_PROTOCOL],
            V5_CHANNEL
        );
        assert!(accept(&headers(&[("sec-websocket-version", "13")]), V5_CHANNEL).is_err());
    }

    #[test]
    fn channel_frames() {
        assert_eq!(&frame(channel::STDOUT, b"hi")[..], b"\x01hi");
        assert_eq!(&frame(channel::ERROR, b"")[..], b"\x03");
    }
}
