//! The watch handle both backends return: a stream of event batches and progress notifications.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::sync::mpsc;

use crate::{Event, Result, Revision};

/// How many undelivered items a watch buffers before its producer waits.
pub(crate) const WATCH_BUFFER: usize = 128;

/// Options of a watch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchOptions {
    /// Send a [`WatchItem::Progress`] whenever this long passed without one (for API bookmarks); `None`
    /// sends progress only on [`Watch::request_progress`].
    pub progress_interval: Option<Duration>,
}

/// One item of a watch stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchItem {
    /// Changes, in revision order; never empty.
    Events(Vec<Event>),
    /// Every change up to and including this revision has been delivered.
    Progress(Revision),
}

/// A running watch. Dropping it cancels the watch.
pub struct Watch {
    items: mpsc::Receiver<Result<WatchItem>>,
    progress: mpsc::Sender<()>,
}

/// The producer side of a [`Watch`], held by the backend's task.
pub(crate) struct WatchSender {
    /// Where items go; a send error means the watch was dropped.
    pub items: mpsc::Sender<Result<WatchItem>>,
    /// Progress requests from [`Watch::request_progress`].
    pub progress_requests: mpsc::Receiver<()>,
}

impl Watch {
    /// A connected watch and its producer side.
    pub(crate) fn channel() -> (WatchSender, Watch) {
        let (items_tx, items_rx) = mpsc::channel(WATCH_BUFFER);
        let (progress_tx, progress_rx) = mpsc::channel(1);
        (
            WatchSender {
                items: items_tx,
                progress_requests: progress_rx,
            },
            Watch {
                items: items_rx,
                progress: progress_tx,
            },
        )
    }

    /// The next item; `None` once the watch ended (after an error, or when the store closed).
    pub async fn next(&mut self) -> Option<Result<WatchItem>> {
        self.items.recv().await
    }

    /// Asks for a [`WatchItem::Progress`] as soon as everything before it has been delivered. Requests
    /// made while one is pending are merged.
    pub fn request_progress(&self) {
        // A full channel means a request is already pending; a closed one means the watch ended.
        let _ = self.progress.try_send(());
    }
}

impl Stream for Watch {
    type Item = Result<WatchItem>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.items.poll_recv(cx)
    }
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch").finish_non_exhaustive()
    }
}
