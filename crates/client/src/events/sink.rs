//! Where recorded events go (client-go's broadcaster and `recordToSink`): a few tasks, each owning
//! the events about some objects so that one object's events are correlated and written in order;
//! each event is correlated, then created or patched, and the server's answer fed back to the
//! correlator. Writes are tried again while the API server cannot be reached (12 tries, 10 s apart,
//! the first wait randomized); an answer of the server ends the tries. A full queue drops events,
//! so recording never blocks.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kubers_core::events::{Clock, Correlated, Correlator, SystemClock, spam_key};
use serde_json::Value;
use tokio::sync::mpsc;

/// How often an event is tried before it is dropped (upstream's `maxTriesPerEvent`).
const MAX_TRIES: u32 = 12;
/// The wait between two tries (upstream's `defaultSleepDuration`).
const RETRY_WAIT: Duration = Duration::from_secs(10);

/// How a sink runs.
#[derive(Debug, Clone, Copy)]
pub struct SinkConfig {
    /// How many tasks write events (each owns the events of some objects).
    pub workers: usize,
    /// How many events may wait per task before new ones are dropped (upstream's
    /// `maxQueuedEvents`).
    pub queue: usize,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            workers: 2,
            queue: 1000,
        }
    }
}

/// Correlates and writes events in the background.
#[derive(Clone)]
pub struct Sink {
    inner: Arc<Inner>,
}

struct Inner {
    client: kube::Client,
    config: SinkConfig,
    clock: Arc<dyn Clock>,
    correlator: Mutex<Correlator>,
    /// The workers' queues, started with the first event (inside the runtime).
    queues: OnceLock<Vec<mpsc::Sender<Event>>>,
}

impl Sink {
    /// A sink writing with `client`, on the system clock.
    pub fn new(client: kube::Client, config: SinkConfig) -> Self {
        Sink::with_clock(client, config, Arc::new(SystemClock))
    }

    /// A sink whose correlation and event times follow `clock`.
    pub fn with_clock(client: kube::Client, config: SinkConfig, clock: Arc<dyn Clock>) -> Self {
        Sink {
            inner: Arc::new(Inner {
                client,
                config,
                correlator: Mutex::new(Correlator::new(Arc::clone(&clock))),
                clock,
                queues: OnceLock::new(),
            }),
        }
    }

    /// The sink's current time, for the events it is given.
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Queues `event` for correlation and writing; drops it when its queue is full or no runtime
    /// runs.
    pub fn send(&self, event: Event) {
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::debug!("no runtime to record an event in; dropped");
            return;
        }
        let queues = self.inner.queues.get_or_init(|| self.start());
        let mut hasher = DefaultHasher::new();
        spam_key(&event).hash(&mut hasher);
        let Some(queue) = usize::try_from(hasher.finish())
            .ok()
            .and_then(|hash| queues.get(hash % queues.len().max(1)))
        else {
            return;
        };
        if let Err(error) = queue.try_send(event) {
            tracing::debug!(%error, "too many queued events; event dropped");
        }
    }

    fn start(&self) -> Vec<mpsc::Sender<Event>> {
        (0..self.inner.config.workers.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(self.inner.config.queue.max(1));
                tokio::spawn(work(Arc::clone(&self.inner), rx));
                tx
            })
            .collect()
    }
}

async fn work(inner: Arc<Inner>, mut rx: mpsc::Receiver<Event>) {
    while let Some(event) = rx.recv().await {
        let correlated = lock(&inner.correlator).correlate(event);
        let (event, patch) = match correlated {
            Correlated::Skip => continue,
            Correlated::Create(event) => (event, None),
            Correlated::Patch { event, patch } => (event, Some(patch)),
        };
        record(&inner, event, patch).await;
    }
}

/// Writes one event, trying again while the server cannot be reached.
async fn record(inner: &Inner, event: Event, patch: Option<Value>) {
    let namespace = event.metadata.namespace.clone().unwrap_or_default();
    let api: Api<Event> = Api::namespaced(inner.client.clone(), &namespace);
    for attempt in 1..=MAX_TRIES {
        match write(&api, &event, patch.as_ref()).await {
            Ok(stored) => {
                lock(&inner.correlator).update_state(&stored);
                return;
            }
            Err(kube::Error::Api(status)) => {
                if status.code != 409 {
                    tracing::debug!(error = %status.message, "the server refused an event");
                }
                return;
            }
            Err(error) if attempt == MAX_TRIES => {
                tracing::debug!(%error, "recording an event failed; giving up");
            }
            Err(error) => {
                tracing::debug!(%error, "recording an event failed; trying again");
                let wait = if attempt == 1 {
                    // Clients whose server went away do not all come back at once.
                    RETRY_WAIT.mul_f64(rand::random::<f64>())
                } else {
                    RETRY_WAIT
                };
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Patches the existing event when there is a patch, and creates the event when there is none or
/// the existing one is gone (upstream's `recordEvent`).
async fn write(api: &Api<Event>, event: &Event, patch: Option<&Value>) -> kube::Result<Event> {
    if let (Some(patch), Some(name)) = (patch, event.metadata.name.as_deref()) {
        match api
            .patch(name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
        {
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            result => return result,
        }
    }
    let mut event = event.clone();
    event.metadata.resource_version = None;
    api.create(&PostParams::default(), &event).await
}

fn lock(correlator: &Mutex<Correlator>) -> MutexGuard<'_, Correlator> {
    correlator
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
