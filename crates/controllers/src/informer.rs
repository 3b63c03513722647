//! Shared informers: one watch per resource type for the whole controller manager, its objects kept in
//! a cache every controller reads, and each change handed to the handlers the controllers registered
//! (which usually queue keys). Like client-go's shared informer factory, without resyncs.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, Mutex, RwLock};

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

/// A change seen by an informer.
pub enum Change<'a, K> {
    /// A new object (also every object of a relist that the cache did not hold).
    Added(&'a Arc<K>),
    /// A changed object, with its previous state.
    Updated {
        /// The cached object before the change.
        old: &'a Arc<K>,
        /// The object now.
        new: &'a Arc<K>,
    },
    /// A deleted object, in its last state.
    Deleted(&'a Arc<K>),
}

impl<K> Change<'_, K> {
    /// The object as it is now (or was last).
    pub fn object(&self) -> &Arc<K> {
        match self {
            Change::Added(object) | Change::Deleted(object) => object,
            Change::Updated { new, .. } => new,
        }
    }
}

type Handler<K> = Box<dyn Fn(Change<'_, K>) + Send + Sync>;

/// Objects by namespace (empty for cluster-scoped ones) and name.
type Cache<K> = BTreeMap<(String, String), Arc<K>>;

/// One resource type's watch and cache.
pub struct Informer<K> {
    api: Api<K>,
    cache: RwLock<Cache<K>>,
    handlers: Mutex<Vec<Handler<K>>>,
    synced: watch::Sender<bool>,
}

fn key_of<K: Resource>(object: &K) -> (String, String) {
    (object.namespace().unwrap_or_default(), object.name_any())
}

impl<K> Informer<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    fn new(client: kube::Client) -> Self {
        Informer {
            api: Api::all(client),
            cache: RwLock::new(BTreeMap::new()),
            handlers: Mutex::new(Vec::new()),
            synced: watch::Sender::new(false),
        }
    }

    /// Registers `handler` for every change from now on (register before the informers start).
    pub fn on_change(&self, handler: impl Fn(Change<'_, K>) + Send + Sync + 'static) {
        self.handlers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Box::new(handler));
    }

    /// The cached object `namespace/name` (empty namespace for cluster-scoped objects).
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        self.read()
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Every cached object.
    pub fn list(&self) -> Vec<Arc<K>> {
        self.read().values().cloned().collect()
    }

    /// The cached objects of one namespace.
    pub fn list_namespace(&self, namespace: &str) -> Vec<Arc<K>> {
        self.read()
            .range((namespace.to_owned(), String::new())..)
            .take_while(|((ns, _), _)| ns == namespace)
            .map(|(_, object)| Arc::clone(object))
            .collect()
    }

    /// Waits until the first list is in the cache.
    pub async fn synced(&self) {
        let mut synced = self.synced.subscribe();
        // The sender lives as long as `self`, so this only ends when synced.
        let _ = synced.wait_for(|synced| *synced).await;
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Cache<K>> {
        self.cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Cache<K>> {
        self.cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn dispatch(&self, change: Change<'_, K>) {
        let handlers = self
            .handlers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for handler in handlers.iter() {
            handler(match &change {
                Change::Added(object) => Change::Added(object),
                Change::Updated { old, new } => Change::Updated { old, new },
                Change::Deleted(object) => Change::Deleted(object),
            });
        }
    }

    /// Watches forever, keeping the cache and telling the handlers.
    async fn run(self: Arc<Self>) {
        let mut events = watcher(self.api.clone(), watcher::Config::default())
            .default_backoff()
            .boxed();
        let mut relist: Option<Cache<K>> = None;
        while let Some(event) = events.next().await {
            match event {
                Ok(watcher::Event::Init) => relist = Some(BTreeMap::new()),
                Ok(watcher::Event::InitApply(object)) => {
                    if let Some(relist) = relist.as_mut() {
                        relist.insert(key_of(&object), Arc::new(object));
                    }
                }
                Ok(watcher::Event::InitDone) => {
                    let fresh = relist.take().unwrap_or_default();
                    let old = std::mem::replace(&mut *self.write(), fresh.clone());
                    for (key, object) in &fresh {
                        match old.get(key) {
                            None => self.dispatch(Change::Added(object)),
                            Some(previous)
                                if previous.resource_version() != object.resource_version() =>
                            {
                                self.dispatch(Change::Updated {
                                    old: previous,
                                    new: object,
                                })
                            }
                            Some(_) => {}
                        }
                    }
                    for (key, object) in &old {
                        if !fresh.contains_key(key) {
                            self.dispatch(Change::Deleted(object));
                        }
                    }
                    self.synced.send_replace(true);
                }
                Ok(watcher::Event::Apply(object)) => {
                    let object = Arc::new(object);
                    let previous = self.write().insert(key_of(&*object), Arc::clone(&object));
                    match previous {
                        Some(old) => self.dispatch(Change::Updated {
                            old: &old,
                            new: &object,
                        }),
                        None => self.dispatch(Change::Added(&object)),
                    }
                }
                Ok(watcher::Event::Delete(object)) => {
                    let object = Arc::new(object);
                    self.write().remove(&key_of(&*object));
                    self.dispatch(Change::Deleted(&object));
                }
                Err(error) => {
                    tracing::warn!(kind = %K::kind(&()), %error, "watch failed; retrying")
                }
            }
        }
    }
}

/// The informers of the controller manager, one per type, created on first use.
pub struct Informers {
    client: kube::Client,
    informers: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    starters: Mutex<Vec<Box<dyn FnOnce() + Send>>>,
}

impl Informers {
    /// No informers yet.
    pub fn new(client: kube::Client) -> Self {
        Informers {
            client,
            informers: Mutex::new(HashMap::new()),
            starters: Mutex::new(Vec::new()),
        }
    }

    /// The shared informer of `K`.
    pub fn get<K>(&self) -> Arc<Informer<K>>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let mut informers = self
            .informers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(existing) = informers.get(&TypeId::of::<K>())
            && let Ok(informer) = Arc::clone(existing).downcast::<Informer<K>>()
        {
            return informer;
        }
        let informer = Arc::new(Informer::<K>::new(self.client.clone()));
        informers.insert(TypeId::of::<K>(), informer.clone());
        let started = Arc::clone(&informer);
        self.starters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Box::new(move || {
                tokio::spawn(started.run());
            }));
        informer
    }

    /// Starts every informer created so far.
    pub fn start(&self) {
        let starters = std::mem::take(
            &mut *self
                .starters
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for start in starters {
            start();
        }
    }
}
