//! One task per watch: replay history from the database, then follow the writer's live events.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::{Interval, MissedTickBehavior};

use super::reader::{self, Readers};
use super::shared::{Batch, Shared};
use crate::watch::WatchSender;
use crate::{Error, Revision, WatchItem, WatchOptions};

/// Where a watch is in its life.
enum Phase {
    /// Reading history after `seen` from the database, in chunks. Entered at the start and whenever the
    /// live feed overflowed (the watcher fell behind); left when the database has nothing newer.
    Replay,
    /// Forwarding the writer's batches as they are committed. Left on overflow (to `Replay`), when the
    /// consumer drops the watch, or when the store closes.
    Live,
}

/// The running state of one watch.
pub struct WatchTask {
    pub shared: Arc<Shared>,
    pub readers: Arc<Readers>,
    pub prefix: String,
    /// Every change up to this revision has been delivered or skipped as outside the prefix.
    pub seen: Revision,
    pub live: broadcast::Receiver<Arc<Batch>>,
    pub out: WatchSender,
    pub options: WatchOptions,
}

impl WatchTask {
    pub async fn run(mut self) {
        let mut ticks = self.options.progress_interval.map(|period| {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            ticks
        });
        // A progress notification waits until everything up to this revision was delivered.
        let mut progress_due: Option<Revision> = None;
        // Whether anything was sent since the last progress tick.
        let mut active = false;
        let mut phase = Phase::Replay;
        loop {
            match phase {
                Phase::Replay => match self.replay().await {
                    Ok(sent) => {
                        active |= sent;
                        phase = Phase::Live;
                    }
                    Err(error) => {
                        let _ = self.out.items.send(Err(error)).await;
                        return;
                    }
                },
                Phase::Live => {
                    if progress_due.is_some_and(|due| self.seen >= due) {
                        progress_due = None;
                        active = true;
                        if !self.send(WatchItem::Progress(self.seen)).await {
                            return;
                        }
                    }
                    tokio::select! {
                        received = self.live.recv() => match received {
                            Ok(batch) => {
                                match self.forward(&batch).await {
                                    Some(sent) => active |= sent,
                                    None => return,
                                }
                            }
                            Err(RecvError::Lagged(_)) => phase = Phase::Replay,
                            Err(RecvError::Closed) => return,
                        },
                        request = self.out.progress_requests.recv() => match request {
                            Some(()) => {
                                progress_due = Some(self.shared.committed.load(Ordering::SeqCst));
                            }
                            None => return,
                        },
                        () = tick(&mut ticks) => {
                            if !active && progress_due.is_none() {
                                progress_due = Some(self.shared.committed.load(Ordering::SeqCst));
                            }
                            active = false;
                        }
                        () = self.out.items.closed() => return,
                    }
                }
            }
        }
    }

    /// Replays history after `seen` until the database has nothing newer; returns whether it sent events.
    async fn replay(&mut self) -> Result<bool, Error> {
        let mut sent = false;
        loop {
            let prefix = self.prefix.clone();
            let after = self.seen;
            let chunk = self
                .readers
                .run(move |conn| reader::replay(conn, &prefix, after))
                .await?;
            self.seen = self.seen.max(chunk.through);
            if !chunk.events.is_empty() {
                sent = true;
                if !self.send(WatchItem::Events(chunk.events)).await {
                    return Ok(sent);
                }
            }
            if chunk.done {
                return Ok(sent);
            }
        }
    }

    /// Forwards the part of `batch` this watch has not seen; `None` when the consumer is gone.
    async fn forward(&mut self, batch: &Batch) -> Option<bool> {
        if batch.through <= self.seen {
            return Some(false);
        }
        let events: Vec<_> = batch
            .events
            .iter()
            .filter(|event| event.revision() > self.seen && event.kv.key.starts_with(&self.prefix))
            .cloned()
            .collect();
        self.seen = batch.through;
        if events.is_empty() {
            return Some(false);
        }
        self.send(WatchItem::Events(events)).await.then_some(true)
    }

    /// Sends one item; false when the consumer dropped the watch.
    async fn send(&self, item: WatchItem) -> bool {
        self.out.items.send(Ok(item)).await.is_ok()
    }
}

/// The next progress tick, or never when the watch has no progress interval.
async fn tick(ticks: &mut Option<Interval>) {
    match ticks {
        Some(ticks) => {
            ticks.tick().await;
        }
        None => std::future::pending().await,
    }
}
