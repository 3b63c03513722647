//! Objects as stored, written into a response without decoding them: the stored JSON is scanned for
//! its top-level members and those of `metadata`, and copied with `apiVersion` and `kind` of the
//! served version and `metadata.resourceVersion` of the revision spliced in. Lists read from the store
//! (continued pages) are written this way; scanning is several times cheaper than building a
//! `serde_json::Value` of each object and serialising it again.

use std::io::Write;

use kubers_store::Revision;

/// The stored bytes are not a JSON object.
#[derive(Debug, thiserror::Error)]
#[error("stored object is not a JSON object (at byte {0})")]
pub struct Malformed(usize);

/// Appends `stored` (an object's JSON) at `revision` to `out`, opened by `type_head` (the served
/// apiVersion and kind, `cache::type_head`). On an error `out` may hold part of the object.
pub fn render(
    out: &mut Vec<u8>,
    stored: &[u8],
    type_head: &[u8],
    revision: Revision,
) -> Result<(), Malformed> {
    let top = members(stored)?;
    out.extend_from_slice(type_head);
    for (key, value) in top {
        match key {
            b"\"apiVersion\"" | b"\"kind\"" => continue,
            b"\"metadata\"" if value.first() == Some(&b'{') => {
                out.extend_from_slice(b",\"metadata\":{\"resourceVersion\":\"");
                // Writing to a Vec cannot fail.
                let _ = write!(out, "{revision}");
                out.push(b'"');
                for (key, value) in members(value)? {
                    if key != b"\"resourceVersion\"" {
                        push_member(out, key, value);
                    }
                }
                out.push(b'}');
            }
            _ => push_member(out, key, value),
        }
    }
    out.push(b'}');
    Ok(())
}

fn push_member(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    out.push(b',');
    out.extend_from_slice(key);
    out.push(b':');
    out.extend_from_slice(value);
}

/// A member of a JSON object as written: its key (with the quotes) and its value.
type Member<'a> = (&'a [u8], &'a [u8]);

/// The members of the JSON object `text`.
fn members(text: &[u8]) -> Result<Vec<Member<'_>>, Malformed> {
    let mut scanner = Scanner { text, at: 0 };
    scanner.expect(b'{')?;
    let mut members = Vec::new();
    if scanner.peek() == Some(b'}') {
        return Ok(members);
    }
    loop {
        let key = scanner.string()?;
        scanner.expect(b':')?;
        let value = scanner.value()?;
        members.push((key, value));
        match scanner.next()? {
            b',' => {}
            b'}' => return Ok(members),
            _ => return Err(Malformed(scanner.at)),
        }
    }
}

/// A cursor over JSON text that skips values without decoding them.
struct Scanner<'a> {
    text: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    /// The next byte that is not whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        while let Some(&byte) = self.text.get(self.at) {
            if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(byte);
            }
            self.at += 1;
        }
        None
    }

    fn next(&mut self) -> Result<u8, Malformed> {
        let byte = self.peek().ok_or(Malformed(self.at))?;
        self.at += 1;
        Ok(byte)
    }

    fn expect(&mut self, wanted: u8) -> Result<(), Malformed> {
        match self.next()? {
            byte if byte == wanted => Ok(()),
            _ => Err(Malformed(self.at - 1)),
        }
    }

    /// A string, with its quotes.
    fn string(&mut self) -> Result<&'a [u8], Malformed> {
        self.peek();
        let start = self.at;
        self.expect(b'"')?;
        self.string_rest(start)
    }

    /// The rest of a string whose opening quote at `start` was consumed.
    fn string_rest(&mut self, start: usize) -> Result<&'a [u8], Malformed> {
        loop {
            match self.text.get(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(&self.text[start..self.at]);
                }
                Some(b'\\') => self.at += 2,
                Some(_) => self.at += 1,
                None => return Err(Malformed(self.at)),
            }
        }
    }

    /// Any value, as written.
    fn value(&mut self) -> Result<&'a [u8], Malformed> {
        self.peek();
        let start = self.at;
        match self.next()? {
            b'"' => self.string_rest(start),
            b'{' | b'[' => {
                let mut depth = 1usize;
                while depth > 0 {
                    match self.text.get(self.at) {
                        Some(b'"') => {
                            self.at += 1;
                            self.string_rest(self.at - 1)?;
                        }
                        Some(b'{' | b'[') => {
                            depth += 1;
                            self.at += 1;
                        }
                        Some(b'}' | b']') => {
                            depth -= 1;
                            self.at += 1;
                        }
                        Some(_) => self.at += 1,
                        None => return Err(Malformed(self.at)),
                    }
                }
                Ok(&self.text[start..self.at])
            }
            _ => {
                while let Some(byte) = self.text.get(self.at) {
                    if matches!(byte, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.at += 1;
                }
                Ok(&self.text[start..self.at])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn rendered(stored: &[u8], revision: Revision) -> Result<Value, Malformed> {
        let mut out = Vec::new();
        render(
            &mut out,
            stored,
            &crate::cache::type_head("apps/v1", "Deployment"),
            revision,
        )?;
        Ok(serde_json::from_slice(&out).expect("valid JSON"))
    }

    #[test]
    fn stored_objects_render_like_decoded_ones() {
        for stored in [
            json!({"apiVersion": "extensions/v1beta1", "kind": "Old",
                "metadata": {"name": "a", "labels": {"x": "}{\"\\"}, "resourceVersion": "3"},
                "spec": {"replicas": 2, "list": [1, {"a": [true, null]}, "]"], "f": -1.5e3}}),
            json!({"metadata": {}, "status": {}}),
            json!({"data": {"k": "ünïcode \u{1F600} \n"}, "metadata": {"name": "b"}}),
            json!({"metadata": {"name": "c", "annotations": {"a\"b": "c\\"}}, "empty": [], "s": ""}),
        ] {
            let mut expected = stored.clone();
            expected["apiVersion"] = json!("apps/v1");
            expected["kind"] = json!("Deployment");
            expected["metadata"]["resourceVersion"] = json!("42");
            let compact = serde_json::to_vec(&stored).expect("json");
            assert_eq!(rendered(&compact, 42).expect("renders"), expected);
            let pretty = serde_json::to_vec_pretty(&stored).expect("json");
            assert_eq!(rendered(&pretty, 42).expect("renders"), expected);
        }
    }

    #[test]
    fn an_object_without_metadata_gets_none() {
        assert_eq!(
            rendered(br#"{"spec":1}"#, 5).expect("renders"),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": 1})
        );
        assert_eq!(
            rendered(b"{}", 5).expect("renders"),
            json!({"apiVersion": "apps/v1", "kind": "Deployment"})
        );
    }

    #[test]
    fn what_is_not_an_object_is_refused() {
        for bad in [
            &b""[..],
            b"[1]",
            b"{\"a\":1",
            b"{\"a\":\"open}",
            b"{\"a\" 1}",
            b"{\"a\":{\"b\":[1,2}",
            b"{\"metadata\":{\"x\"}}",
        ] {
            assert!(
                rendered(bad, 1).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
