//! SPDY/3.1 framing, the transport of Kubernetes' remote command and port-forward streams, as far
//! as a client that opens streams needs it: encoding SYN_STREAM, DATA, RST_STREAM, PING and GOAWAY
//! frames, and decoding every frame a server sends.
//!
//! Header blocks are zlib streams with the SPDY/3 preset dictionary, one stream per direction for
//! the whole session. Outgoing blocks are written as stored (uncompressed) deflate blocks, each
//! header block ending with the empty block of a sync flush: a valid zlib stream that any inflater
//! (Go's `compress/zlib` in containerd) reads, with no compressor state to keep. Incoming header blocks are skipped: the only server headers the remote command
//! and port-forward protocols send are empty `SYN_REPLY`s, so they are never decompressed.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The protocol version in every control frame.
const VERSION: u16 = 3;
/// `FLAG_FIN` of data frames and of SYN_STREAM / SYN_REPLY / HEADERS.
pub const FLAG_FIN: u8 = 0x01;
/// The largest payload a frame's 24-bit length can carry.
pub const MAX_DATA: usize = 0x00ff_ffff;
/// RST_STREAM status CANCEL.
pub const CANCEL: u32 = 5;

/// Control frame types (SPDY/3 §2.6).
mod kind {
    pub const SYN_STREAM: u16 = 1;
    pub const SYN_REPLY: u16 = 2;
    pub const RST_STREAM: u16 = 3;
    pub const SETTINGS: u16 = 4;
    pub const PING: u16 = 6;
    pub const GOAWAY: u16 = 7;
    pub const HEADERS: u16 = 8;
    pub const WINDOW_UPDATE: u16 = 9;
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Data on a stream; `fin` half-closes it from the sender's side.
    Data {
        /// The stream.
        stream_id: u32,
        /// Whether the sender is done with the stream.
        fin: bool,
        /// The payload.
        data: Bytes,
    },
    /// The peer opened a stream (its header block is not decoded).
    SynStream {
        /// The new stream.
        stream_id: u32,
        /// Whether the peer opened it already half-closed.
        fin: bool,
    },
    /// The peer accepted a stream this side opened.
    SynReply {
        /// The stream.
        stream_id: u32,
        /// Whether the peer half-closed it at once.
        fin: bool,
    },
    /// The peer ended a stream abnormally.
    RstStream {
        /// The stream.
        stream_id: u32,
        /// The RST_STREAM status code.
        status: u32,
    },
    /// A ping to echo (or the echo of one of ours).
    Ping {
        /// The ping id.
        id: u32,
    },
    /// The peer will open no more streams and is closing the session.
    GoAway {
        /// The last stream the peer accepted.
        last_good_stream_id: u32,
    },
    /// Extra headers on a stream.
    Headers {
        /// The stream.
        stream_id: u32,
        /// Whether the peer half-closed the stream.
        fin: bool,
    },
    /// SETTINGS, WINDOW_UPDATE and unknown control frames: nothing to act on.
    Ignored,
}

/// A malformed frame.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// A control frame of a version other than 3.
    #[error("unsupported SPDY version {0}")]
    Version(u16),
    /// A control frame shorter than its type requires.
    #[error("SPDY control frame of type {kind} is too short ({length} bytes)")]
    Short {
        /// The frame type.
        kind: u16,
        /// Its length.
        length: usize,
    },
}

/// Decodes the first complete frame in `buffer`, removing it; `None` until a whole frame is there.
pub fn decode(buffer: &mut BytesMut) -> Result<Option<Frame>, Error> {
    if buffer.len() < 8 {
        return Ok(None);
    }
    let length =
        (usize::from(buffer[5]) << 16) | (usize::from(buffer[6]) << 8) | usize::from(buffer[7]);
    if buffer.len() < 8 + length {
        return Ok(None);
    }
    let first = buffer.get_u32();
    let flags = buffer.get_u8();
    buffer.advance(3);
    let mut payload = buffer.split_to(length).freeze();
    let fin = flags & FLAG_FIN != 0;
    if first & 0x8000_0000 == 0 {
        return Ok(Some(Frame::Data {
            stream_id: first & 0x7fff_ffff,
            fin,
            data: payload,
        }));
    }
    let version = ((first >> 16) & 0x7fff) as u16;
    if version != VERSION {
        return Err(Error::Version(version));
    }
    let frame_kind = (first & 0xffff) as u16;
    let need = match frame_kind {
        kind::SYN_STREAM => 10,
        kind::SYN_REPLY | kind::HEADERS | kind::PING => 4,
        kind::RST_STREAM | kind::GOAWAY => 8,
        _ => 0,
    };
    if payload.len() < need {
        return Err(Error::Short {
            kind: frame_kind,
            length: payload.len(),
        });
    }
    let frame = match frame_kind {
        kind::SYN_STREAM => Frame::SynStream {
            stream_id: payload.get_u32() & 0x7fff_ffff,
            fin,
        },
        kind::SYN_REPLY => Frame::SynReply {
            stream_id: payload.get_u32() & 0x7fff_ffff,
            fin,
        },
        kind::RST_STREAM => Frame::RstStream {
            stream_id: payload.get_u32() & 0x7fff_ffff,
            status: payload.get_u32(),
        },
        kind::PING => Frame::Ping {
            id: payload.get_u32(),
        },
        kind::GOAWAY => Frame::GoAway {
            last_good_stream_id: payload.get_u32() & 0x7fff_ffff,
        },
        kind::HEADERS => Frame::Headers {
            stream_id: payload.get_u32() & 0x7fff_ffff,
            fin,
        },
        kind::SETTINGS | kind::WINDOW_UPDATE => Frame::Ignored,
        _ => Frame::Ignored,
    };
    Ok(Some(frame))
}

/// A DATA frame.
pub fn data(stream_id: u32, fin: bool, data: &[u8]) -> Bytes {
    let mut frame = BytesMut::with_capacity(8 + data.len());
    frame.put_u32(stream_id & 0x7fff_ffff);
    frame.put_u8(if fin { FLAG_FIN } else { 0 });
    put_u24(&mut frame, data.len());
    frame.put_slice(data);
    frame.freeze()
}

/// A RST_STREAM frame.
pub fn rst_stream(stream_id: u32, status: u32) -> Bytes {
    let mut frame = control(kind::RST_STREAM, 0, 8);
    frame.put_u32(stream_id & 0x7fff_ffff);
    frame.put_u32(status);
    frame.freeze()
}

/// A PING frame (also the echo of the peer's ping).
pub fn ping(id: u32) -> Bytes {
    let mut frame = control(kind::PING, 0, 4);
    frame.put_u32(id);
    frame.freeze()
}

/// A GOAWAY frame with status OK.
pub fn goaway(last_good_stream_id: u32) -> Bytes {
    let mut frame = control(kind::GOAWAY, 0, 8);
    frame.put_u32(last_good_stream_id & 0x7fff_ffff);
    frame.put_u32(0);
    frame.freeze()
}

fn control(frame_kind: u16, flags: u8, length: usize) -> BytesMut {
    let mut frame = BytesMut::with_capacity(8 + length);
    frame.put_u16(0x8000 | VERSION);
    frame.put_u16(frame_kind);
    frame.put_u8(flags);
    put_u24(&mut frame, length);
    frame
}

fn put_u24(frame: &mut BytesMut, value: usize) {
    let value = value.min(MAX_DATA) as u32;
    frame.put_u8((value >> 16) as u8);
    frame.put_u8((value >> 8) as u8);
    frame.put_u8(value as u8);
}

/// The sending side of a session's header compression: one zlib stream for every header block
/// this side writes.
#[derive(Debug, Default)]
pub struct HeaderWriter {
    started: bool,
}

impl HeaderWriter {
    /// A SYN_STREAM frame opening `stream_id` with `headers` (names must be lowercase).
    pub fn syn_stream(&mut self, stream_id: u32, headers: &[(&str, &str)], fin: bool) -> Bytes {
        let block = self.header_block(headers);
        let mut frame = control(
            kind::SYN_STREAM,
            if fin { FLAG_FIN } else { 0 },
            10 + block.len(),
        );
        frame.put_u32(stream_id & 0x7fff_ffff);
        frame.put_u32(0);
        frame.put_u8(0);
        frame.put_u8(0);
        frame.put_slice(&block);
        frame.freeze()
    }

    /// The compressed form of one header block: the zlib header first (once per session, naming
    /// the SPDY dictionary), then the block as stored deflate blocks.
    fn header_block(&mut self, headers: &[(&str, &str)]) -> Vec<u8> {
        let mut plain = Vec::new();
        plain.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        for (name, value) in headers {
            plain.extend_from_slice(&(name.len() as u32).to_be_bytes());
            plain.extend_from_slice(name.as_bytes());
            plain.extend_from_slice(&(value.len() as u32).to_be_bytes());
            plain.extend_from_slice(value.as_bytes());
        }
        let mut out = Vec::with_capacity(plain.len() + 16);
        if !self.started {
            self.started = true;
            // CMF 0x78 (deflate, 32 KiB window); FLG 0x20: FDICT set, (CMF << 8 | FLG) % 31 == 0.
            out.extend_from_slice(&[0x78, 0x20]);
            out.extend_from_slice(&adler32(&dictionary()).to_be_bytes());
        }
        for chunk in plain.chunks(0xffff) {
            let len = chunk.len() as u16;
            // BFINAL 0, BTYPE 00 (stored), then the byte-aligned LEN and its complement.
            out.push(0);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(chunk);
        }
        // An empty stored block, as zlib's Z_SYNC_FLUSH ends every block: an inflater hands out
        // the data only when it reaches one (Go's otherwise reads on into the next frame and fails).
        out.extend_from_slice(&[0, 0, 0, 0xff, 0xff]);
        out
    }
}

/// The Adler-32 checksum zlib uses to name a preset dictionary.
fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % MOD;
        b = (b + a) % MOD;
    }
    (b << 16) | a
}

/// Header names the SPDY/3 dictionary starts with, each length-prefixed.
const DICTIONARY_WORDS: [&str; 65] = [
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
];

/// The dictionary's tail: status codes, reasons, dates and common values, unprefixed.
const DICTIONARY_TAIL: &str = "100101201202205206300302303304305306307402405406407408409410411412\
413414415416417502504505203 Non-Authoritative Information204 No Content301 Moved Permanently400 \
Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not \
Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, \
Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/xml,\
application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=\
utf-8charset=iso-8859-1,utf-,*,enq=0.";

/// The SPDY/3 header compression dictionary (1423 bytes, §2.6.10.1 of the draft).
fn dictionary() -> Vec<u8> {
    let mut dictionary = Vec::with_capacity(1423);
    for word in DICTIONARY_WORDS {
        dictionary.extend_from_slice(&(word.len() as u32).to_be_bytes());
        dictionary.extend_from_slice(word.as_bytes());
    }
    dictionary.extend_from_slice(DICTIONARY_TAIL.as_bytes());
    dictionary
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inflates a zlib stream made only of stored blocks (what [`HeaderWriter`] writes).
    fn inflate_stored(mut input: &[u8], expect_header: bool) -> Vec<u8> {
        if expect_header {
            assert_eq!(&input[..2], &[0x78, 0x20]);
            let check = u32::from(input[0]) << 8 | u32::from(input[1]);
            assert_eq!(check % 31, 0, "zlib header check bits");
            input = &input[6..];
        }
        let mut out = Vec::new();
        while !input.is_empty() {
            assert_eq!(input[0], 0, "stored, not final");
            let len = u16::from_le_bytes([input[1], input[2]]);
            let nlen = u16::from_le_bytes([input[3], input[4]]);
            assert_eq!(len, !nlen);
            out.extend_from_slice(&input[5..5 + usize::from(len)]);
            input = &input[5 + usize::from(len)..];
        }
        out
    }

    #[test]
    fn dictionary_is_the_spdy3_one() {
        let dictionary = dictionary();
        assert_eq!(dictionary.len(), 1423);
        assert!(dictionary.starts_with(b"\x00\x00\x00\x07options\x00\x00\x00\x04head"));
        assert!(dictionary.ends_with(b"utf-,*,enq=0."));
        // The dictionary id containerd's zlib reader checks (also what zlib.adler32 computes).
        assert_eq!(adler32(&dictionary), 0xe3c6_a7c2);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
    }

    #[test]
    fn syn_stream_frames() {
        let mut writer = HeaderWriter::default();
        let first = writer.syn_stream(1, &[("streamtype", "error")], false);
        assert_eq!(&first[..4], &[0x80, 0x03, 0x00, 0x01]);
        assert_eq!(first[4], 0);
        let length =
            usize::from(first[5]) << 16 | usize::from(first[6]) << 8 | usize::from(first[7]);
        assert_eq!(length, first.len() - 8);
        assert_eq!(&first[8..12], &1u32.to_be_bytes());
        assert_eq!(&first[12..18], &[0, 0, 0, 0, 0, 0]);
        assert!(first.ends_with(&[0, 0, 0, 0xff, 0xff]), "sync flush");
        let block = inflate_stored(&first[18..], true);
        assert_eq!(
            block,
            b"\x00\x00\x00\x01\x00\x00\x00\x0astreamtype\x00\x00\x00\x05error"
        );
        // Later blocks continue the same zlib stream: no second header.
        let second = writer.syn_stream(3, &[("streamtype", "stdout")], true);
        assert!(second.ends_with(&[0, 0, 0, 0xff, 0xff]), "sync flush");
        assert_eq!(second[4], FLAG_FIN);
        let block = inflate_stored(&second[18..], false);
        assert_eq!(
            block,
            b"\x00\x00\x00\x01\x00\x00\x00\x0astreamtype\x00\x00\x00\x06stdout"
        );
    }

    #[test]
    fn decodes_what_it_encodes_and_waits_for_whole_frames() {
        let mut buffer = BytesMut::new();
        buffer.extend_from_slice(&data(3, true, b"hello"));
        buffer.extend_from_slice(&ping(2));
        buffer.extend_from_slice(&rst_stream(5, CANCEL));
        buffer.extend_from_slice(&goaway(7));
        let tail = data(9, false, b"partial");
        buffer.extend_from_slice(&tail[..10]);
        let frames: Vec<Frame> =
            std::iter::from_fn(|| decode(&mut buffer).expect("valid")).collect();
        assert_eq!(
            frames,
            vec![
                Frame::Data {
                    stream_id: 3,
                    fin: true,
                    data: Bytes::from_static(b"hello"),
                },
                Frame::Ping { id: 2 },
                Frame::RstStream {
                    stream_id: 5,
                    status: CANCEL,
                },
                Frame::GoAway {
                    last_good_stream_id: 7,
                },
            ]
        );
        buffer.extend_from_slice(&tail[10..]);
        assert_eq!(
            decode(&mut buffer).expect("valid"),
            Some(Frame::Data {
                stream_id: 9,
                fin: false,
                data: Bytes::from_static(b"partial"),
            })
        );
        assert!(buffer.is_empty());
    }

    #[test]
    fn decodes_server_control_frames() {
        // SYN_REPLY for stream 1 with an (opaque) compressed empty header block.
        let mut buffer = BytesMut::from(
            &[
                0x80, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x78, 0xf9,
                0xe3, 0xc6, 0xa7, 0xc2,
            ][..],
        );
        assert_eq!(
            decode(&mut buffer).expect("valid"),
            Some(Frame::SynReply {
                stream_id: 1,
                fin: false,
            })
        );
        let mut bad = BytesMut::from(&[0x80, 0x02, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 1][..]);
        assert_eq!(decode(&mut bad), Err(Error::Version(2)));
        let mut short = BytesMut::from(&[0x80, 0x03, 0x00, 0x03, 0, 0, 0, 4, 0, 0, 0, 1][..]);
        assert!(matches!(
            decode(&mut short),
            Err(Error::Short { kind: 3, .. })
        ));
    }
}
