//! Reads, compare-and-swap writes and counts, each as one etcd request.
//!
//! Writes are transactions whose failure branch reads the key, so a lost compare-and-swap reports
//! the current value without a second round trip. etcd compares a missing key as if all its
//! revisions were 0, so an expected revision of 0 or less is never sent as a compare (it would let
//! an update create the key, or a delete "succeed" on nothing): deletes also require
//! `create_revision > 0`, and updates expecting such a revision only read the key.

use bytes::Bytes;
use etcd_client::{
    Compare, CompareOp, DeleteOptions, GetOptions, TxnOp, TxnOpResponse, TxnResponse,
};

use super::EtcdStore;
use crate::{
    Deleted, Error, KeyValue, ListRequest, ListResponse, Result, Revision, validate_key,
    validate_prefix, validate_value,
};

impl EtcdStore {
    pub(super) async fn get_key(&self, key: &str) -> Result<Option<KeyValue>> {
        validate_key(key)?;
        let mut response = self
            .range(self.keys.etcd_key(key), GetOptions::new())
            .await
            .map_err(|failure| self.fail(failure, &format!("get {key:?}")))?;
        if let Some(header) = response.header() {
            self.saw_revision(header.revision());
        }
        match response.take_kvs().into_iter().next() {
            Some(found) => Ok(Some(self.keys.key_value(found)?)),
            None => Ok(None),
        }
    }

    pub(super) async fn list_range(&self, request: &ListRequest) -> Result<ListResponse> {
        validate_prefix(&request.prefix)?;
        let mut start = self.keys.etcd_key(&request.prefix);
        if let Some(after) = &request.after {
            validate_prefix(after)?;
            // The smallest key greater than `after`; a page never starts before the prefix.
            let mut next = self.keys.etcd_key(after);
            next.push(0);
            start = start.max(next);
        }
        let mut options = GetOptions::new().with_range(self.keys.range_end(&request.prefix));
        if request.revision > 0 {
            options = options.with_revision(request.revision);
        }
        if request.limit > 0 {
            options = options.with_limit(i64::try_from(request.limit).unwrap_or(i64::MAX));
        }
        self.check_not_compacted(request.revision)?;
        let context = || format!("list {:?} at revision {}", request.prefix, request.revision);
        let mut response = match self.range(start, options).await {
            Ok(response) => response,
            Err(failure) if failure.is_compacted() => {
                return Err(Error::Compacted {
                    requested: request.revision,
                });
            }
            Err(failure) if failure.is_future_revision() => {
                return Err(Error::FutureRevision {
                    requested: request.revision,
                    current: self.read_current_revision().await.unwrap_or(0),
                });
            }
            Err(failure) => return Err(self.fail(failure, &context())),
        };
        let header_revision = response.header().map_or(0, |header| header.revision());
        self.saw_revision(header_revision);
        // etcd counts the whole range at that revision, whatever the limit.
        let total = u64::try_from(response.count()).unwrap_or(0);
        let items = response
            .take_kvs()
            .into_iter()
            .map(|found| self.keys.key_value(found))
            .collect::<Result<Vec<_>>>()?;
        Ok(ListResponse {
            remaining: total.saturating_sub(items.len() as u64),
            revision: if request.revision > 0 {
                request.revision
            } else {
                header_revision
            },
            items,
        })
    }

    pub(super) async fn create_key(&self, key: &str, value: Bytes) -> Result<Revision> {
        validate_key(key)?;
        validate_value(key, &value)?;
        let etcd_key = self.keys.etcd_key(key);
        let txn = etcd_client::Txn::new()
            .when([Compare::create_revision(
                etcd_key.clone(),
                CompareOp::Equal,
                0,
            )])
            .and_then([TxnOp::put(etcd_key, Vec::from(value), None)]);
        let response = self.txn(txn, || format!("create {key:?}")).await?;
        if response.succeeded() {
            Ok(self.written(&response))
        } else {
            Err(Error::AlreadyExists {
                key: key.to_owned(),
            })
        }
    }

    pub(super) async fn update_key(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
    ) -> Result<Revision> {
        validate_key(key)?;
        validate_value(key, &value)?;
        if expected <= 0 {
            // No key has such a revision, but etcd would compare a missing key's as 0.
            return Err(match self.get_key(key).await? {
                None => Error::NotFound {
                    key: key.to_owned(),
                },
                Some(current) => Error::Conflict {
                    key: key.to_owned(),
                    expected,
                    current: Box::new(current),
                },
            });
        }
        // Each copy of the key counts against etcd's request limit (see `MAX_VALUE_BYTES`), so
        // the key is named only three times: the compare, the put and the read if the compare fails.
        let etcd_key = self.keys.etcd_key(key);
        let txn = etcd_client::Txn::new()
            .when([Compare::mod_revision(
                etcd_key.clone(),
                CompareOp::Equal,
                expected,
            )])
            .and_then([TxnOp::put(etcd_key.clone(), Vec::from(value), None)])
            .or_else([TxnOp::get(etcd_key, None)]);
        let response = self.txn(txn, || format!("update {key:?}")).await?;
        if response.succeeded() {
            Ok(self.written(&response))
        } else {
            Err(self.lost(key, expected, &response)?)
        }
    }

    pub(super) async fn delete_key(
        &self,
        key: &str,
        expected: Option<Revision>,
    ) -> Result<Deleted> {
        validate_key(key)?;
        let etcd_key = self.keys.etcd_key(key);
        let mut compares = vec![Compare::create_revision(
            etcd_key.clone(),
            CompareOp::Greater,
            0,
        )];
        if let Some(expected) = expected {
            compares.push(Compare::mod_revision(
                etcd_key.clone(),
                CompareOp::Equal,
                expected,
            ));
        }
        let txn = etcd_client::Txn::new()
            .when(compares)
            .and_then([TxnOp::delete(
                etcd_key.clone(),
                Some(DeleteOptions::new().with_prev_key()),
            )])
            .or_else([TxnOp::get(etcd_key, None)]);
        let response = self.txn(txn, || format!("delete {key:?}")).await?;
        if !response.succeeded() {
            return Err(self.lost(key, expected.unwrap_or(0), &response)?);
        }
        let revision = self.written(&response);
        let prev = response.op_responses().into_iter().find_map(|op| match op {
            TxnOpResponse::Delete(mut deleted) => deleted.take_prev_kvs().into_iter().next(),
            _ => None,
        });
        match prev {
            Some(prev) => Ok(Deleted {
                revision,
                prev: self.keys.key_value(prev)?,
            }),
            None => Err(Error::backend(
                format!("etcd delete {key:?} failed"),
                "etcd returned no previous value for the deleted key",
            )),
        }
    }

    pub(super) async fn count_range(&self, prefix: &str) -> Result<u64> {
        validate_prefix(prefix)?;
        let options = GetOptions::new()
            .with_range(self.keys.range_end(prefix))
            .with_count_only();
        let response = self
            .range(self.keys.etcd_key(prefix), options)
            .await
            .map_err(|failure| self.fail(failure, &format!("count {prefix:?}")))?;
        if let Some(header) = response.header() {
            self.saw_revision(header.revision());
        }
        Ok(u64::try_from(response.count()).unwrap_or(0))
    }

    pub(super) async fn read_current_revision(&self) -> Result<Revision> {
        // Any read answers with the current revision in its header; counting one key is the cheapest.
        let options = GetOptions::new().with_count_only().with_limit(1);
        let response = self
            .range(self.keys.etcd_key("/"), options)
            .await
            .map_err(|failure| self.fail(failure, "current revision read"))?;
        let revision = response.header().map_or(0, |header| header.revision());
        self.saw_revision(revision);
        Ok(revision)
    }

    async fn txn(
        &self,
        txn: etcd_client::Txn,
        context: impl FnOnce() -> String,
    ) -> Result<TxnResponse> {
        self.write(txn)
            .await
            .map_err(|failure| self.fail(failure, &context()))
    }

    /// The revision of a successful write transaction.
    fn written(&self, response: &TxnResponse) -> Revision {
        let revision = response.header().map_or(0, |header| header.revision());
        self.saw_revision(revision);
        revision
    }

    /// The error for a compare-and-swap on `key` that lost, from the read in its failure branch.
    fn lost(&self, key: &str, expected: Revision, response: &TxnResponse) -> Result<Error> {
        let current = response.op_responses().into_iter().find_map(|op| match op {
            TxnOpResponse::Get(mut read) => read.take_kvs().into_iter().next(),
            _ => None,
        });
        Ok(match current {
            None => Error::NotFound {
                key: key.to_owned(),
            },
            Some(current) => Error::Conflict {
                key: key.to_owned(),
                expected,
                current: Box::new(self.keys.key_value(current)?),
            },
        })
    }
}
