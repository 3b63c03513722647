//! Translation between the store's view and etcd's: the key prefix, key-values and watch events.
//!
//! The conversions work on borrowed, plain descriptions of etcd's values ([`RawKeyValue`],
//! [`RawEvent`]) so that they are tested without an etcd server.

use bytes::Bytes;

use crate::{Error, Event, EventKind, KeyValue, Result, Revision, prefix_end};

/// Maps store keys to etcd keys and back by adding and removing the configured key prefix.
#[derive(Clone, Debug)]
pub(super) struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys stored in etcd under `prefix` (empty for none).
    pub(super) fn new(prefix: impl Into<String>) -> Self {
        Keys {
            prefix: prefix.into(),
        }
    }

    /// The etcd key of the store key (or key prefix) `key`.
    pub(super) fn etcd_key(&self, key: &str) -> Vec<u8> {
        let mut etcd_key = Vec::with_capacity(self.prefix.len() + key.len());
        etcd_key.extend_from_slice(self.prefix.as_bytes());
        etcd_key.extend_from_slice(key.as_bytes());
        etcd_key
    }

    /// The end of the etcd range holding every store key that starts with `prefix`.
    pub(super) fn range_end(&self, prefix: &str) -> Vec<u8> {
        prefix_end(&format!("{}{prefix}", self.prefix))
    }

    /// The store key of the etcd key `etcd_key`, or `None` when it is outside the key prefix.
    pub(super) fn store_key(&self, etcd_key: &[u8]) -> Result<Option<String>> {
        let Some(key) = etcd_key.strip_prefix(self.prefix.as_bytes()) else {
            return Ok(None);
        };
        match std::str::from_utf8(key) {
            Ok(key) => Ok(Some(key.to_owned())),
            Err(error) => Err(Error::backend(
                format!("etcd returned key {:?}", String::from_utf8_lossy(etcd_key)),
                error,
            )),
        }
    }

    /// The store's key-value for an owned etcd key-value read by a range request.
    pub(super) fn key_value(&self, kv: etcd_client::KeyValue) -> Result<KeyValue> {
        let (create_revision, mod_revision) = (kv.create_revision(), kv.mod_revision());
        let (etcd_key, value) = kv.into_key_value();
        let key = self.required_key(&etcd_key)?;
        Ok(KeyValue {
            key,
            value: Bytes::from(value),
            create_revision,
            mod_revision,
        })
    }

    /// The store's view of a watch event; `None` when its key is outside the key prefix.
    pub(super) fn event(&self, event: &RawEvent<'_>) -> Result<Option<Event>> {
        let Some(key) = self.store_key(event.kv.key)? else {
            return Ok(None);
        };
        let prev = match &event.prev {
            Some(prev) => Some(self.raw_key_value(prev)?),
            None => None,
        };
        let converted = match event.kind {
            RawEventKind::Put if event.kv.create_revision == event.kv.mod_revision => Event {
                kind: EventKind::Create,
                kv: self.raw_key_value(&event.kv)?,
                prev: None,
            },
            RawEventKind::Put => Event {
                kind: EventKind::Update,
                kv: self.raw_key_value(&event.kv)?,
                prev,
            },
            RawEventKind::Delete => Event {
                kind: EventKind::Delete,
                kv: KeyValue {
                    key,
                    value: Bytes::new(),
                    create_revision: 0,
                    mod_revision: event.kv.mod_revision,
                },
                prev,
            },
        };
        Ok(Some(converted))
    }

    fn raw_key_value(&self, kv: &RawKeyValue<'_>) -> Result<KeyValue> {
        Ok(KeyValue {
            key: self.required_key(kv.key)?,
            value: Bytes::copy_from_slice(kv.value),
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
        })
    }

    fn required_key(&self, etcd_key: &[u8]) -> Result<String> {
        self.store_key(etcd_key)?.ok_or_else(|| {
            Error::backend(
                format!("etcd returned key {:?}", String::from_utf8_lossy(etcd_key)),
                format!("the key is outside the key prefix {:?}", self.prefix),
            )
        })
    }
}

/// An etcd key-value as a watch event carries it.
#[derive(Clone, Copy, Debug)]
pub(super) struct RawKeyValue<'a> {
    /// The etcd key, with the key prefix.
    pub key: &'a [u8],
    /// The value (empty in a delete).
    pub value: &'a [u8],
    /// The revision that created the key (0 in a delete).
    pub create_revision: Revision,
    /// The revision of the write (of the delete, in a delete).
    pub mod_revision: Revision,
}

impl<'a> From<&'a etcd_client::KeyValue> for RawKeyValue<'a> {
    fn from(kv: &'a etcd_client::KeyValue) -> Self {
        RawKeyValue {
            key: kv.key(),
            value: kv.value(),
            create_revision: kv.create_revision(),
            mod_revision: kv.mod_revision(),
        }
    }
}

/// What an etcd watch event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RawEventKind {
    /// The key was written (created or updated).
    Put,
    /// The key was deleted.
    Delete,
}

/// An etcd watch event.
#[derive(Clone, Debug)]
pub(super) struct RawEvent<'a> {
    /// What happened.
    pub kind: RawEventKind,
    /// The key after the event (only key and revision, for a delete).
    pub kv: RawKeyValue<'a>,
    /// The key before the event, when etcd still had it.
    pub prev: Option<RawKeyValue<'a>>,
}

impl<'a> RawEvent<'a> {
    /// The plain description of `event`; `None` for an event without a key-value (etcd always
    /// sends one).
    pub(super) fn from_etcd(event: &'a etcd_client::Event) -> Option<Self> {
        let kind = match event.event_type() {
            etcd_client::EventType::Put => RawEventKind::Put,
            etcd_client::EventType::Delete => RawEventKind::Delete,
        };
        Some(RawEvent {
            kind,
            kv: event.kv()?.into(),
            prev: event.prev_kv().map(RawKeyValue::from),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw<'a>(
        key: &'a str,
        value: &'a str,
        created: Revision,
        modified: Revision,
    ) -> RawKeyValue<'a> {
        RawKeyValue {
            key: key.as_bytes(),
            value: value.as_bytes(),
            create_revision: created,
            mod_revision: modified,
        }
    }

    fn kv(key: &str, value: &'static str, created: Revision, modified: Revision) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Bytes::from_static(value.as_bytes()),
            create_revision: created,
            mod_revision: modified,
        }
    }

    #[test]
    fn keys_get_and_lose_the_prefix() {
        let keys = Keys::new("/test-1");
        assert_eq!(keys.etcd_key("/registry/a"), b"/test-1/registry/a".to_vec());
        assert_eq!(keys.range_end("/registry/"), b"/test-1/registry0".to_vec());
        assert!(matches!(
            keys.store_key(b"/test-1/registry/a"),
            Ok(Some(key)) if key == "/registry/a"
        ));
        assert!(matches!(keys.store_key(b"/other/registry/a"), Ok(None)));
        assert!(matches!(
            keys.store_key(b"/test-1/\xff"),
            Err(Error::Backend { .. })
        ));

        let plain = Keys::new("");
        assert_eq!(plain.etcd_key("/a"), b"/a".to_vec());
        assert_eq!(plain.range_end("/"), b"0".to_vec());
        assert!(matches!(plain.store_key(b"/a"), Ok(Some(key)) if key == "/a"));
    }

    #[test]
    fn a_first_put_is_a_create() {
        let keys = Keys::new("/p");
        let event = RawEvent {
            kind: RawEventKind::Put,
            kv: raw("/p/a", "v1", 5, 5),
            prev: None,
        };
        let expected = Event {
            kind: EventKind::Create,
            kv: kv("/a", "v1", 5, 5),
            prev: None,
        };
        assert_eq!(keys.event(&event).ok().flatten(), Some(expected));
    }

    #[test]
    fn a_later_put_is_an_update_with_the_previous_value() {
        let keys = Keys::new("/p");
        let event = RawEvent {
            kind: RawEventKind::Put,
            kv: raw("/p/a", "v2", 5, 7),
            prev: Some(raw("/p/a", "v1", 5, 5)),
        };
        let expected = Event {
            kind: EventKind::Update,
            kv: kv("/a", "v2", 5, 7),
            prev: Some(kv("/a", "v1", 5, 5)),
        };
        assert_eq!(keys.event(&event).ok().flatten(), Some(expected));
    }

    #[test]
    fn a_delete_has_an_empty_value_and_its_own_revision() {
        let keys = Keys::new("");
        let event = RawEvent {
            kind: RawEventKind::Delete,
            kv: raw("/a", "", 0, 9),
            prev: Some(raw("/a", "v2", 5, 7)),
        };
        let expected = Event {
            kind: EventKind::Delete,
            kv: kv("/a", "", 0, 9),
            prev: Some(kv("/a", "v2", 5, 7)),
        };
        assert_eq!(keys.event(&event).ok().flatten(), Some(expected));
    }

    #[test]
    fn events_outside_the_prefix_are_skipped() {
        let keys = Keys::new("/p");
        let event = RawEvent {
            kind: RawEventKind::Put,
            kv: raw("/q/a", "v1", 5, 5),
            prev: None,
        };
        assert!(matches!(keys.event(&event), Ok(None)));
    }
}
