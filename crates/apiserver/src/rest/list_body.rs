//! A list answered from the watch cache, written as it is sent: the JSON is rendered into chunks of
//! [`CHUNK`] bytes, one chunk each time the connection asks for more. Nothing holds the whole list
//! (thousands of objects would be megabytes, copied once more than needed and mostly out of the CPU's
//! caches by the time TLS reads them), and the client reads the first objects while the server still
//! renders the last.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{self, Stream};

use crate::cache::CachedObject;

/// About how many bytes each chunk holds: a chunk ends at the first object boundary past it.
const CHUNK: usize = 64 * 1024;

/// The parts of a list document around its items.
pub struct ListDocument {
    /// Everything before the first item: kind, apiVersion, metadata, `"items":[`.
    pub head: Vec<u8>,
    /// The objects, in order.
    pub items: Vec<Arc<CachedObject>>,
    /// The opening of every object: its apiVersion and kind (`cache::type_head`).
    pub type_head: Vec<u8>,
}

impl ListDocument {
    /// The document as a stream of chunks, rendered one at a time when polled.
    pub fn into_stream(mut self) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
        let mut chunks = Chunks {
            buffer: std::mem::take(&mut self.head),
            document: self,
            next: 0,
            done: false,
        };
        stream::iter(std::iter::from_fn(move || chunks.next_chunk().map(Ok)))
    }
}

/// The rendering state of a [`ListDocument`].
struct Chunks {
    document: ListDocument,
    /// What is rendered and not yet sent.
    buffer: Vec<u8>,
    /// The index of the next object to render.
    next: usize,
    done: bool,
}

impl Chunks {
    fn next_chunk(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        let ListDocument {
            items, type_head, ..
        } = &self.document;
        while self.buffer.len() < CHUNK {
            let Some(item) = items.get(self.next) else {
                self.buffer.extend_from_slice(b"]}");
                self.done = true;
                break;
            };
            if self.next > 0 {
                self.buffer.push(b',');
            }
            item.render_after(&mut self.buffer, type_head, item.revision);
            self.next += 1;
        }
        let capacity = if self.done { 0 } else { CHUNK + CHUNK / 4 };
        Some(Bytes::from(std::mem::replace(
            &mut self.buffer,
            Vec::with_capacity(capacity),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::type_head;
    use futures::StreamExt;
    use kubers_store::KeyValue;
    use serde_json::{Value, json};

    fn object(index: usize, payload: usize) -> Arc<CachedObject> {
        let value = json!({"metadata": {"name": format!("cm-{index}"), "namespace": "ns"},
            "data": {"payload": "x".repeat(payload)}});
        let kv = KeyValue {
            key: format!("/registry/configmaps/ns/cm-{index}"),
            value: Bytes::from(value.to_string()),
            create_revision: 1,
            mod_revision: index as i64 + 1,
        };
        Arc::new(CachedObject::from_kv(&kv, &[]).expect("object"))
    }

    async fn render(count: usize, payload: usize) -> (Vec<Bytes>, Value) {
        let document = ListDocument {
            head: br#"{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"9"},"items":["#
                .to_vec(),
            items: (0..count).map(|index| object(index, payload)).collect(),
            type_head: type_head("v1", "ConfigMap"),
        };
        let chunks: Vec<Bytes> = document
            .into_stream()
            .map(|chunk| match chunk {
                Ok(bytes) => bytes,
                Err(never) => match never {},
            })
            .collect()
            .await;
        let whole: Vec<u8> = chunks.iter().flatten().copied().collect();
        (chunks, serde_json::from_slice(&whole).expect("valid JSON"))
    }

    #[tokio::test]
    async fn a_long_list_is_sent_in_chunks_that_make_one_document() {
        let (chunks, list) = render(500, 1024).await;
        assert!(chunks.len() > 5, "{} chunks", chunks.len());
        assert!(chunks.iter().all(|chunk| chunk.len() < 2 * CHUNK));
        let items = list["items"].as_array().expect("items");
        assert_eq!(items.len(), 500);
        assert_eq!(items[499]["metadata"]["name"], "cm-499");
        assert_eq!(items[499]["metadata"]["resourceVersion"], "500");
        assert_eq!(items[0]["apiVersion"], "v1");
    }

    #[tokio::test]
    async fn short_and_empty_lists_are_one_chunk() {
        let (chunks, list) = render(0, 0).await;
        assert_eq!(chunks.len(), 1);
        assert_eq!(list["items"], json!([]));
        let (chunks, list) = render(3, 10).await;
        assert_eq!(chunks.len(), 1);
        assert_eq!(list["items"].as_array().map(Vec::len), Some(3));
    }
}
