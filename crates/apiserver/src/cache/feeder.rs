//! The loop that keeps one cache current: list the collection at one revision, then follow the store's
//! watch from there; relist when the watch ends or falls behind compaction, back off on store errors.

use std::sync::Arc;
use std::time::Duration;

use kubers_store::{KeyValue, ListRequest, Revision, Store, Watch, WatchItem, WatchOptions};

use super::object::CachedObject;
use super::{Cache, CacheConfig};

/// The first pause after a store error; doubled after each failure in a row.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest pause after store errors.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Where the feeder is.
enum Phase {
    /// Reading every object of the collection at one revision. Entered at the start, after the watch
    /// ended or reported compaction, and after a backoff; left for `Watching` with the listed state in
    /// place, or for `Backoff` when the store fails.
    Listing,
    /// Applying the store's events as they come. Left for `Listing` when the watch ends (including
    /// compaction of events it had not delivered), or for `Backoff` on another store error.
    Watching(Watch),
    /// Waiting after a store error before listing again.
    Backoff(Duration),
}

/// Runs the feeder of `cache` for as long as the server runs.
pub async fn run(cache: Arc<Cache>, store: Arc<dyn Store>, config: CacheConfig) {
    let mut phase = Phase::Listing;
    let mut backoff = FIRST_BACKOFF;
    loop {
        phase = match phase {
            Phase::Listing => match list(&cache, store.as_ref(), &config).await {
                Ok(watch) => {
                    backoff = FIRST_BACKOFF;
                    Phase::Watching(watch)
                }
                Err(error) => {
                    tracing::warn!(prefix = %cache.prefix, %error, "watch cache cannot list the store");
                    Phase::Backoff(backoff)
                }
            },
            Phase::Watching(watch) => {
                let error = follow(&cache, watch).await;
                cache.update(|state| state.invalidate());
                match error {
                    None | Some(kubers_store::Error::Compacted { .. }) => {
                        tracing::info!(prefix = %cache.prefix, "watch cache relists the store");
                        Phase::Listing
                    }
                    Some(error) => {
                        tracing::warn!(prefix = %cache.prefix, %error, "watch cache lost the store's watch");
                        Phase::Backoff(backoff)
                    }
                }
            }
            Phase::Backoff(pause) => {
                tokio::time::sleep(pause).await;
                backoff = (pause * 2).min(MAX_BACKOFF);
                Phase::Listing
            }
        };
    }
}

/// Lists the collection into the cache and starts the store's watch right after the list's revision.
async fn list(
    cache: &Cache,
    store: &dyn Store,
    config: &CacheConfig,
) -> kubers_store::Result<Watch> {
    let mut objects = Vec::new();
    let mut request = ListRequest {
        prefix: cache.prefix.clone(),
        after: None,
        revision: 0,
        limit: config.list_page,
    };
    let revision: Revision = loop {
        let page = store.list(&request).await?;
        objects.extend(
            page.items
                .iter()
                .filter_map(|kv| decode(cache, kv))
                .map(Arc::new),
        );
        match page.items.last() {
            Some(last) if page.more() => {
                request.after = Some(last.key.clone());
                request.revision = page.revision;
            }
            _ => break page.revision,
        }
    };
    let options = WatchOptions {
        progress_interval: Some(config.progress_interval),
    };
    let watch = store.watch(&cache.prefix, revision, options).await?;
    let count = objects.len();
    cache.update(|state| state.replace(objects, revision));
    tracing::debug!(prefix = %cache.prefix, count, revision, "watch cache listed");
    Ok(watch)
}

/// Applies the watch's events until it ends; the error that ended it, if any.
async fn follow(cache: &Cache, mut watch: Watch) -> Option<kubers_store::Error> {
    loop {
        tokio::select! {
            item = watch.next() => match item {
                Some(Ok(WatchItem::Events(events))) => cache.update(|state| {
                    for event in &events {
                        state.apply(event, |kv| decode(cache, kv));
                    }
                }),
                Some(Ok(WatchItem::Progress(revision))) => cache.progressed(revision),
                Some(Err(error)) => return Some(error),
                None => return None,
            },
            () = cache.progress.notified() => watch.request_progress(),
        }
    }
}

/// A stored object for the cache; an unreadable one is logged and left out.
fn decode(cache: &Cache, kv: &KeyValue) -> Option<CachedObject> {
    CachedObject::from_kv(kv, cache.selectable)
        .inspect_err(|error| tracing::warn!(%error, "watch cache skips an unreadable object"))
        .ok()
}
