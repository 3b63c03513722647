//! kube-rs, the Rust client: kubeconfig loading, typed CRUD, and its runtime's watcher and reflector
//! (list-then-watch and streaming lists), all against a real `kubers server`.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::watcher::{self, Event};
use kube::{Client, Config, ResourceExt};
use serde_json::json;
use tokio::sync::mpsc;

use crate::server;

/// Upper bound on waiting for one watch event, so a broken server fails the test instead of hanging it.
const EVENT_WAIT: Duration = Duration::from_secs(30);

async fn client(kubeconfig: &std::path::Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(kubeconfig).expect("kubeconfig reads");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig is usable");
    Client::try_from(config).expect("client")
}

fn config_map(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some([("app".to_owned(), "kube-rs".to_owned())].into()),
            ..ObjectMeta::default()
        },
        data: Some([("k".to_owned(), value.to_owned())].into()),
        ..ConfigMap::default()
    }
}

/// A watch event reduced to what the tests compare: its kind, the object's name and its `k` value.
fn summary(event: &Event<ConfigMap>) -> (&'static str, String, String) {
    let describe = |kind, object: &ConfigMap| {
        let value = object
            .data
            .as_ref()
            .and_then(|data| data.get("k"))
            .cloned()
            .unwrap_or_default();
        (kind, object.name_any(), value)
    };
    match event {
        Event::Apply(object) => describe("apply", object),
        Event::Delete(object) => describe("delete", object),
        Event::InitApply(object) => describe("init-apply", object),
        Event::Init => ("init", String::new(), String::new()),
        Event::InitDone => ("init-done", String::new(), String::new()),
    }
}

/// Runs a watcher of `api` with `config` through a reflector, forwarding event summaries.
fn spawn_watcher(
    api: Api<ConfigMap>,
    config: watcher::Config,
) -> (
    reflector::Store<ConfigMap>,
    mpsc::UnboundedReceiver<(&'static str, String, String)>,
) {
    let (reader, writer) = reflector::store();
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut events = reflector::reflector(writer, watcher::watcher(api, config)).boxed();
        while let Some(event) = events.next().await {
            let summary = match &event {
                Ok(event) => summary(event),
                Err(error) => ("error", error.to_string(), String::new()),
            };
            if sender.send(summary).is_err() {
                return;
            }
        }
    });
    (reader, receiver)
}

async fn next_event(
    events: &mut mpsc::UnboundedReceiver<(&'static str, String, String)>,
) -> (&'static str, String, String) {
    tokio::time::timeout(EVENT_WAIT, events.recv())
        .await
        .expect("a watch event arrives")
        .expect("the watcher runs")
}

/// Reads events until `wanted`, returning what came before it; fails on a watcher error.
async fn until(
    events: &mut mpsc::UnboundedReceiver<(&'static str, String, String)>,
    wanted: (&str, &str, &str),
) -> Vec<(&'static str, String, String)> {
    let mut before = Vec::new();
    loop {
        let event = next_event(events).await;
        assert_ne!(
            event.0, "error",
            "watcher failed: {event:?} after {before:?}"
        );
        if (event.0, event.1.as_str(), event.2.as_str()) == wanted {
            return before;
        }
        before.push(event);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_client_crud_and_watchers() {
    let server = server();
    let client = client(&server.kubeconfig()).await;

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .expect("namespaces list")
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    for expected in ["default", "kube-node-lease", "kube-public", "kube-system"] {
        assert!(names.iter().any(|name| name == expected), "{names:?}");
    }
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some("kube-rs".into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .expect("namespace created");

    // CRUD.
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-rs");
    let created = config_maps
        .create(&PostParams::default(), &config_map("crud", "1"))
        .await
        .expect("configmap created");
    assert!(created.resource_version().is_some() && created.uid().is_some());
    let read = config_maps.get("crud").await.expect("configmap read");
    assert_eq!(read.data, created.data);
    let patched = config_maps
        .patch(
            "crud",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": "2"}})),
        )
        .await
        .expect("configmap patched");
    assert_eq!(
        patched
            .data
            .as_ref()
            .and_then(|data| data.get("k"))
            .map(String::as_str),
        Some("2")
    );
    assert_ne!(patched.resource_version(), created.resource_version());
    config_maps
        .delete("crud", &DeleteParams::default())
        .await
        .expect("configmap deleted");
    let missing = config_maps.get_opt("crud").await.expect("get_opt answers");
    assert!(missing.is_none(), "{missing:?}");

    // A reflector over a list-then-watch watcher sees the initial object, then add, modify, delete.
    config_maps
        .create(&PostParams::default(), &config_map("before", "0"))
        .await
        .expect("configmap created");
    let (store, mut events) = spawn_watcher(config_maps.clone(), watcher::Config::default());
    let initial = until(&mut events, ("init-done", "", "")).await;
    assert!(
        initial.contains(&("init-apply", "before".into(), "0".into())),
        "{initial:?}"
    );
    config_maps
        .create(&PostParams::default(), &config_map("watched", "1"))
        .await
        .expect("configmap created");
    until(&mut events, ("apply", "watched", "1")).await;
    config_maps
        .patch(
            "watched",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": "2"}})),
        )
        .await
        .expect("configmap patched");
    until(&mut events, ("apply", "watched", "2")).await;
    let cached = store
        .get(&ObjectRef::new("watched").within("kube-rs"))
        .expect("the reflector holds the object");
    assert_eq!(
        cached
            .data
            .as_ref()
            .and_then(|data| data.get("k"))
            .map(String::as_str),
        Some("2")
    );
    config_maps
        .delete("watched", &DeleteParams::default())
        .await
        .expect("configmap deleted");
    until(&mut events, ("delete", "watched", "2")).await;
    assert!(
        store
            .get(&ObjectRef::new("watched").within("kube-rs"))
            .is_none()
    );
    assert_eq!(
        store
            .state()
            .iter()
            .map(|object| object.name_any())
            // The root CA publisher's ConfigMap is in every namespace.
            .filter(|name| name != "kube-root-ca.crt")
            .collect::<Vec<_>>(),
        ["before"]
    );

    // Streaming lists: the initial state arrives as watch events (sendInitialEvents=true), closed by the
    // initial-events-end bookmark, and the watch goes on.
    let (_, mut streamed) = spawn_watcher(
        config_maps.clone(),
        watcher::Config::default().streaming_lists(),
    );
    let initial = until(&mut streamed, ("init-done", "", "")).await;
    assert!(
        initial.contains(&("init-apply", "before".into(), "0".into())),
        "{initial:?}"
    );
    config_maps
        .create(&PostParams::default(), &config_map("streamed", "1"))
        .await
        .expect("configmap created");
    until(&mut streamed, ("apply", "streamed", "1")).await;

    // Every object the watchers saw is still listed with a selector through the typed client.
    let listed = config_maps
        .list(&ListParams::default().labels("app=kube-rs"))
        .await
        .expect("configmaps list")
        .into_iter()
        .map(|object| object.name_any())
        .collect::<Vec<_>>();
    assert_eq!(listed, ["before", "streamed"]);
    let pages = config_maps
        .list(&ListParams::default().limit(1))
        .await
        .expect("first page");
    assert_eq!(pages.items.len(), 1);
    assert!(pages.metadata.continue_.is_some());
    let all: Vec<ConfigMap> = watcher::watcher(config_maps, watcher::Config::default())
        .take_while(|event| std::future::ready(!matches!(event, Ok(Event::InitDone))))
        .try_filter_map(|event| async move {
            Ok(match event {
                Event::InitApply(object) => Some(object),
                _ => None,
            })
        })
        .try_collect()
        .await
        .expect("a fresh watcher lists");
    // The root CA publisher's ConfigMap is in every namespace.
    let all: Vec<&ConfigMap> = all
        .iter()
        .filter(|object| object.name_any() != "kube-root-ca.crt")
        .collect();
    assert_eq!(all.len(), 2);
}
