//! A lean HTTP/1.1 client for load benchmarks: one keep-alive TLS connection per worker, as the
//! connection pool of kbench's aiohttp client has, with the admin's client certificate. It has none
//! of the layers of a general client (no buffer task between caller and connection, no retries, no
//! tracing), so a load generator sharing the machine with the server takes as little of its CPU as
//! it can, and what is measured is the server.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use kubers_core::tls::{self, ClientIdentity, ServerCheck};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::server::TestServer;

/// Where and how to connect: the server's address, its TLS name and the client configuration.
#[derive(Clone)]
pub struct Target {
    address: SocketAddr,
    connector: TlsConnector,
    authority: HeaderValue,
}

impl Target {
    /// The API server of `server`, as its admin (`system:masters`).
    pub fn admin_of(server: &TestServer) -> io::Result<Target> {
        let dir = server.tls_dir();
        let read = |name: &str| std::fs::read(dir.join(name));
        Target::new(
            server.port(),
            &read("ca.crt")?,
            &read("admin.crt")?,
            &read("admin.key")?,
        )
    }

    /// `https://127.0.0.1:port` checked against `ca_pem`, authenticated by a client certificate.
    pub fn new(port: u16, ca_pem: &[u8], cert_pem: &[u8], key_pem: &[u8]) -> io::Result<Target> {
        let roots = tls::roots_from_pem(ca_pem).map_err(io::Error::other)?;
        let identity = ClientIdentity::from_pem(cert_pem, key_pem).map_err(io::Error::other)?;
        let config = tls::client_config(ServerCheck::Roots(roots), Some(identity))
            .map_err(io::Error::other)?;
        let authority =
            HeaderValue::try_from(format!("127.0.0.1:{port}")).map_err(io::Error::other)?;
        Ok(Target {
            address: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            connector: TlsConnector::from(Arc::new(config)),
            authority,
        })
    }

    /// Opens one connection: TCP, the TLS handshake and the HTTP/1.1 handshake.
    pub async fn connect(&self) -> io::Result<Connection> {
        let tcp = TcpStream::connect(self.address).await?;
        tcp.set_nodelay(true)?;
        let name = ServerName::IpAddress(self.address.ip().into());
        let stream = self.connector.connect(name, tcp).await?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(io::Error::other)?;
        tokio::spawn(connection);
        Ok(Connection {
            sender,
            authority: self.authority.clone(),
        })
    }
}

/// One keep-alive connection; requests on it go one at a time.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    authority: HeaderValue,
}

impl Connection {
    /// Sends a request and reads the whole answer. `body` goes with `content_type` when given.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<(&'static str, Bytes)>,
    ) -> io::Result<(StatusCode, Bytes)> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.authority.clone())
            .header(header::ACCEPT, "application/json");
        let body = match body {
            Some((content_type, bytes)) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                bytes
            }
            None => Bytes::new(),
        };
        let request = request.body(Full::new(body)).map_err(io::Error::other)?;
        self.sender.ready().await.map_err(io::Error::other)?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(io::Error::other)?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(io::Error::other)?
            .to_bytes();
        Ok((status, bytes))
    }
}
