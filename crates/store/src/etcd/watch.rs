//! Watches: one etcd watch (on its own gRPC stream) per [`Watch`], forwarded by a task that
//! converts events, answers progress requests and reports compaction.
//!
//! - The watch starts at `after + 1` with the previous values; a start already compacted fails at
//!   once, one compacted later (or a watcher so slow that etcd dropped its history) ends the stream
//!   with [`Error::Compacted`] for the last revision delivered. A broken or canceled etcd stream
//!   ends it with [`Error::Unavailable`]. Dropping the [`Watch`] cancels the etcd watch.
//! - Progress: [`Watch::request_progress`] and [`WatchOptions::progress_interval`] (one interval
//!   after the last notification) send etcd's progress request; etcd's periodic notifications are
//!   forwarded too. A request made while an earlier one is unanswered for a second is sent again.
//!
//! etcd before 3.4.24 and 3.5.8 answers a progress request at once with its current revision,
//! without waiting for the events before it to be sent (etcd issue 15220), so the answer can
//! overtake them. For those servers a requested progress notification is held back for a short
//! settle time, during which the events already on their way arrive first; see [`progress_settle`].
//! etcd 3.4.24 to 3.4.30 and 3.5.8 to 3.5.12 instead answer nothing to a request made while a new
//! watch is still catching up on a quiet range, until an event arrives (etcd issue 17507).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use etcd_client::{WatchResponse, WatchStream, Watcher};
use tokio::time::Instant;

use super::EtcdStore;
use super::convert::{Keys, RawEvent};
use crate::watch::WatchSender;
use crate::{
    Error, Event, EventKind, Result, Revision, Watch, WatchItem, WatchOptions, validate_prefix,
};

/// How long a requested progress notification is held back on servers that may send it ahead of
/// earlier events.
const PROGRESS_SETTLE: Duration = Duration::from_millis(100);

/// How long a progress request may go unanswered before another request is sent.
const PROGRESS_RETRY: Duration = Duration::from_secs(1);

/// How long to hold back requested progress notifications from a server of `version` (from its
/// status): `None` for servers that order them after earlier events (3.4.24+, 3.5.8+, 3.6+).
pub(super) fn progress_settle(version: &str) -> Option<Duration> {
    let mut parts = version
        .split(['.', '-', '+'])
        .map(|part| part.parse::<u64>().ok());
    let fixed = match (
        parts.next().flatten(),
        parts.next().flatten(),
        parts.next().flatten(),
    ) {
        (Some(major), Some(minor), Some(patch)) => match (major, minor) {
            (3, 4) => patch >= 24,
            (3, 5) => patch >= 8,
            (3, minor) => minor > 5,
            (major, _) => major > 3,
        },
        _ => false,
    };
    (!fixed).then_some(PROGRESS_SETTLE)
}

impl EtcdStore {
    pub(super) async fn open_watch(
        &self,
        prefix: &str,
        after: Revision,
        options: WatchOptions,
    ) -> Result<Watch> {
        validate_prefix(prefix)?;
        let after = if after > 0 {
            self.check_history(prefix, after).await?;
            after
        } else {
            self.read_current_revision().await?
        };
        self.start_watch(prefix, after, options).await
    }

    /// Starts the etcd watch for changes under `prefix` after `after` and its forwarding task.
    pub(super) async fn start_watch(
        &self,
        prefix: &str,
        after: Revision,
        options: WatchOptions,
    ) -> Result<Watch> {
        let etcd_options = etcd_client::WatchOptions::new()
            .with_range(self.keys.range_end(prefix))
            .with_start_revision(after + 1)
            .with_prev_key()
            .with_progress_notify();
        let (watcher, stream) = self
            .watch_stream(self.keys.etcd_key(prefix), etcd_options)
            .await
            .map_err(|failure| self.fail(failure, &format!("watch {prefix:?}")))?;
        let (sender, watch) = Watch::channel();
        let forwarder = Forwarder {
            prefix: prefix.to_owned(),
            keys: Arc::clone(&self.keys),
            endpoints: Arc::clone(&self.endpoints),
            compacted: Arc::clone(&self.compacted),
            store_alive: self.alive.subscribe(),
            watcher,
            stream,
            sender,
            settle: self.progress_settle,
            delivered: after,
            progress: Progress::Idle,
            interval: options.progress_interval,
            due: None,
        };
        tokio::spawn(forwarder.run());
        Ok(watch)
    }

    /// Fails with [`Error::Compacted`] when the events after `after` are no longer kept, so that a
    /// watch that cannot start fails at once rather than as its first item.
    async fn check_history(&self, prefix: &str, after: Revision) -> Result<()> {
        if self.check_not_compacted(after + 1).is_err() {
            return Err(Error::Compacted { requested: after });
        }
        let options = etcd_client::GetOptions::new()
            .with_range(self.keys.range_end(prefix))
            .with_count_only()
            .with_revision(after + 1);
        match self.range(self.keys.etcd_key(prefix), options).await {
            Ok(_) => Ok(()),
            Err(failure) if failure.is_compacted() => Err(Error::Compacted { requested: after }),
            // Watching from the current revision reads one past it.
            Err(failure) if failure.is_future_revision() => Ok(()),
            Err(failure) => Err(self.fail(failure, &format!("watch {prefix:?} after {after}"))),
        }
    }
}

/// Where a progress notification the consumer is owed stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Progress {
    /// Nothing is owed: no request is waiting, or the last one was answered. Entered at the start
    /// and after a notification is sent.
    Idle,
    /// A progress request went to etcd at `since` and its answer has not come. Entered when the
    /// consumer or the interval asks; left when etcd answers. A request unanswered for
    /// [`PROGRESS_RETRY`] is sent again, as some etcd versions drop requests on busy streams.
    Requested { since: Instant },
    /// etcd answered with `revision`, which is held back until `until` because the server may
    /// answer before sending earlier events. Left at `until` by sending the notification.
    Settling { revision: Revision, until: Instant },
}

/// Why the forwarding task ended.
#[derive(Debug)]
enum End {
    /// The consumer dropped the [`Watch`].
    Dropped,
    /// The store was dropped; the watch ends without an error, as documented for [`Watch::next`].
    StoreClosed,
    /// The watch failed; the error was (or could not be) delivered as the last item.
    Failed,
}

/// The task that forwards one etcd watch into a [`Watch`].
struct Forwarder {
    /// The watched store prefix, for messages.
    prefix: String,
    keys: Arc<Keys>,
    endpoints: Arc<str>,
    compacted: Arc<AtomicI64>,
    /// Fails once the store is dropped.
    store_alive: tokio::sync::watch::Receiver<()>,
    watcher: Watcher,
    stream: WatchStream,
    sender: WatchSender,
    /// How long to hold back requested progress notifications, if at all.
    settle: Option<Duration>,
    /// Every change up to this revision was delivered (or never existed).
    delivered: Revision,
    progress: Progress,
    /// [`WatchOptions::progress_interval`].
    interval: Option<Duration>,
    /// When the interval next asks for progress: one interval after the last notification.
    due: Option<Instant>,
}

impl Forwarder {
    async fn run(mut self) {
        self.due = self.interval.map(|interval| Instant::now() + interval);
        let end = loop {
            let settled = match self.progress {
                Progress::Settling { until, .. } => Some(until),
                Progress::Idle | Progress::Requested { .. } => None,
            };
            let step = tokio::select! {
                () = self.sender.items.closed() => Err(End::Dropped),
                _ = self.store_alive.changed() => Err(End::StoreClosed),
                message = self.stream.message() => self.on_message(message).await,
                request = self.sender.progress_requests.recv() => match request {
                    Some(()) => self.request_progress().await,
                    None => Err(End::Dropped),
                },
                () = sleep_until(self.due) => {
                    self.due = self.interval.map(|interval| Instant::now() + interval);
                    self.request_progress().await
                }
                () = sleep_until(settled) => self.settled().await,
            };
            if let Err(end) = step {
                break end;
            }
        };
        tracing::debug!(prefix = %self.prefix, ?end, "etcd watch ended");
        // Closing the stream ends the watch on the server too; the cancel just says so first.
        let _ = self.watcher.cancel().await;
    }

    async fn on_message(
        &mut self,
        message: Result<Option<WatchResponse>, etcd_client::Error>,
    ) -> Result<(), End> {
        let response = match message {
            Ok(Some(response)) => response,
            Ok(None) => {
                let message = format!(
                    "etcd at {} closed the watch on {:?}",
                    self.endpoints, self.prefix
                );
                return self.fail(Error::Unavailable { message }).await;
            }
            Err(error) => {
                let message = format!(
                    "watch on {:?} from etcd at {} failed: {error}",
                    self.prefix, self.endpoints
                );
                return self.fail(Error::Unavailable { message }).await;
            }
        };
        if response.compact_revision() > 0 {
            // The store's compaction is one past etcd's (see `compaction`).
            self.compacted
                .fetch_max(response.compact_revision() + 1, Ordering::Relaxed);
            let requested = self.delivered;
            return self.fail(Error::Compacted { requested }).await;
        }
        if response.canceled() {
            let message = format!(
                "etcd at {} canceled the watch on {:?}: {}",
                self.endpoints,
                self.prefix,
                response.cancel_reason()
            );
            return self.fail(Error::Unavailable { message }).await;
        }
        if !response.events().is_empty() {
            return self.send_events(&response).await;
        }
        if response.created() {
            return Ok(());
        }
        let revision = response.header().map_or(0, |header| header.revision());
        // Notifications for this watch (periodic ones) come in order; answers to requests (watch
        // id -1) may not, on older servers.
        let requested = response.watch_id() != self.watcher.watch_id();
        match (self.settle, self.progress) {
            (
                Some(_),
                Progress::Settling {
                    revision: held,
                    until,
                },
            ) if requested => {
                self.progress = Progress::Settling {
                    revision: held.max(revision),
                    until,
                };
                Ok(())
            }
            (Some(settle), Progress::Idle | Progress::Requested { .. }) if requested => {
                self.progress = Progress::Settling {
                    revision,
                    until: Instant::now() + settle,
                };
                Ok(())
            }
            // A held-back answer stays held: it may be ahead of this one.
            (_, Progress::Settling { .. }) => self.send_progress(revision).await,
            (_, Progress::Idle | Progress::Requested { .. }) => {
                self.progress = Progress::Idle;
                self.send_progress(revision).await
            }
        }
    }

    async fn send_events(&mut self, response: &WatchResponse) -> Result<(), End> {
        let converted = response
            .events()
            .iter()
            .filter_map(RawEvent::from_etcd)
            .map(|event| self.keys.event(&event))
            .filter_map(Result::transpose)
            .collect::<Result<Vec<Event>>>();
        let mut events = match converted {
            Ok(events) => events,
            Err(error) => return self.fail(error).await,
        };
        // etcd sends an update or delete without its previous value only when that value was
        // compacted: this watcher fell behind the compaction.
        let behind = events
            .iter()
            .position(|event| event.kind != EventKind::Create && event.prev.is_none());
        let compacted_at = behind.map(|index| events[index].revision());
        if let Some(index) = behind {
            events.truncate(index);
        }
        if let Some(last) = events.last() {
            self.delivered = self.delivered.max(last.revision());
            self.send(Ok(WatchItem::Events(events))).await?;
        }
        match compacted_at {
            Some(revision) => {
                self.compacted.fetch_max(revision + 1, Ordering::Relaxed);
                let requested = self.delivered;
                self.fail(Error::Compacted { requested }).await
            }
            None => Ok(()),
        }
    }

    /// Sends a progress notification for `revision` or, if later, what was already delivered.
    async fn send_progress(&mut self, revision: Revision) -> Result<(), End> {
        self.delivered = self.delivered.max(revision);
        self.due = self.interval.map(|interval| Instant::now() + interval);
        self.send(Ok(WatchItem::Progress(self.delivered))).await
    }

    /// Sends the held-back progress notification once its settle time is over.
    async fn settled(&mut self) -> Result<(), End> {
        let Progress::Settling { revision, .. } = self.progress else {
            return Ok(());
        };
        self.progress = Progress::Idle;
        self.send_progress(revision).await
    }

    /// Asks etcd for a progress notification unless one is already on its way.
    async fn request_progress(&mut self) -> Result<(), End> {
        match self.progress {
            Progress::Idle => {}
            Progress::Requested { since } if since.elapsed() >= PROGRESS_RETRY => {}
            Progress::Requested { .. } | Progress::Settling { .. } => return Ok(()),
        }
        self.progress = Progress::Requested {
            since: Instant::now(),
        };
        if let Err(error) = self.watcher.request_progress().await {
            let message = format!(
                "cannot request watch progress on {:?} from etcd at {}: {error}",
                self.prefix, self.endpoints
            );
            return self.fail(Error::Unavailable { message }).await;
        }
        Ok(())
    }

    async fn send(&mut self, item: Result<WatchItem>) -> Result<(), End> {
        self.sender.items.send(item).await.map_err(|_| End::Dropped)
    }

    /// Delivers `error` as the watch's last item and ends it.
    async fn fail(&mut self, error: Error) -> Result<(), End> {
        tracing::debug!(prefix = %self.prefix, %error, "etcd watch failed");
        self.send(Err(error)).await?;
        Err(End::Failed)
    }
}

/// `deadline`, or never without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_servers_get_a_settle_time() {
        for old in ["3.4.23", "3.4.0", "3.5.7", "3.3.27", "2.3.8", "", "unknown"] {
            assert_eq!(progress_settle(old), Some(PROGRESS_SETTLE), "{old}");
        }
        for fixed in [
            "3.4.24",
            "3.4.31",
            "3.5.8",
            "3.5.17",
            "3.6.0",
            "3.6.0-rc.1",
            "4.0.0",
        ] {
            assert_eq!(progress_settle(fixed), None, "{fixed}");
        }
    }
}
