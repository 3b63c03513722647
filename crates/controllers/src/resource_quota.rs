//! The ResourceQuota controller, as upstream's: a quota's `status.hard` follows `spec.hard` and
//! `status.used` is the usage of the objects in its namespace that match its scopes, measured by
//! [`kubers_core::quota`] for every resource it tracks. Admission charges creates right away; this
//! controller recounts when a quota changes, when tracked objects go away or change what they
//! consume (replenishment), and every five minutes (upstream's `--resource-quota-sync-period`).
//! Pods, services, claims, config maps, secrets, replication controllers and quotas are counted
//! from the shared informers; other `count/<resource>.<group>` resources by listing them.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Pod, ReplicationController, ResourceQuota,
    ResourceQuotaStatus, Secret, Service,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kubers_core::quota::{self, Evaluator, ResourceList, parse_list, scope_selectors};
use serde::Serialize;
use serde_json::Value;

use crate::error::{Context, Error, Result};
use crate::informer::{Change, Informer, Informers};
use crate::queue::{WorkQueue, run_workers};

/// How often every quota is recounted regardless of events.
const RESYNC: Duration = Duration::from_secs(300);

/// The informers the controller counts from.
struct Controller {
    client: kube::Client,
    quotas: Arc<Informer<ResourceQuota>>,
    pods: Arc<Informer<Pod>>,
    services: Arc<Informer<Service>>,
    claims: Arc<Informer<PersistentVolumeClaim>>,
    config_maps: Arc<Informer<ConfigMap>>,
    secrets: Arc<Informer<Secret>>,
    controllers: Arc<Informer<ReplicationController>>,
    queue: Arc<WorkQueue<String>>,
}

fn key_of(quota: &ResourceQuota) -> String {
    format!(
        "{}/{}",
        quota.namespace().unwrap_or_default(),
        quota.name_any()
    )
}

/// Queues every quota of a namespace.
fn replenish(quotas: &Informer<ResourceQuota>, queue: &WorkQueue<String>, namespace: &str) {
    for quota in quotas.list_namespace(namespace) {
        queue.add(key_of(&quota));
    }
}

/// Registers replenishment for one kind: deletions always, updates when `changed` says the usage
/// may differ.
fn watch_kind<K>(
    informer: &Informer<K>,
    quotas: &Arc<Informer<ResourceQuota>>,
    queue: &Arc<WorkQueue<String>>,
    changed: fn(&K, &K) -> bool,
) where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let quotas = Arc::clone(quotas);
    let queue = Arc::clone(queue);
    informer.on_change(move |change| {
        let relevant = match &change {
            Change::Added(_) => false,
            Change::Deleted(_) => true,
            Change::Updated { old, new } => changed(old, new),
        };
        if relevant {
            let namespace = change.object().meta().namespace.clone().unwrap_or_default();
            replenish(&quotas, &queue, &namespace);
        }
    });
}

fn pod_changed(old: &Pod, new: &Pod) -> bool {
    let terminal = |pod: &Pod| {
        matches!(
            pod.status
                .as_ref()
                .and_then(|status| status.phase.as_deref()),
            Some("Succeeded" | "Failed")
        )
    };
    let resources = |pod: &Pod| {
        pod.spec.as_ref().map(|spec| {
            spec.containers
                .iter()
                .map(|container| container.resources.clone())
                .collect::<Vec<_>>()
        })
    };
    terminal(old) != terminal(new)
        || old.metadata.deletion_timestamp.is_some() != new.metadata.deletion_timestamp.is_some()
        || resources(old) != resources(new)
}

fn service_changed(old: &Service, new: &Service) -> bool {
    let shape = |service: &Service| {
        service.spec.as_ref().map(|spec| {
            (
                spec.type_.clone(),
                spec.ports.as_ref().map_or(0, Vec::len),
                spec.allocate_load_balancer_node_ports,
            )
        })
    };
    shape(old) != shape(new)
}

fn claim_changed(old: &PersistentVolumeClaim, new: &PersistentVolumeClaim) -> bool {
    let shape = |claim: &PersistentVolumeClaim| {
        (
            claim.spec.as_ref().map(|spec| spec.resources.clone()),
            claim
                .status
                .as_ref()
                .and_then(|status| status.allocated_resources.clone()),
        )
    };
    shape(old) != shape(new)
}

fn never<K>(_: &K, _: &K) -> bool {
    false
}

/// Registers the controller with the informers and starts its workers once they synced.
pub fn start(client: kube::Client, informers: &Informers) {
    let controller = Arc::new(Controller {
        client,
        quotas: informers.get::<ResourceQuota>(),
        pods: informers.get::<Pod>(),
        services: informers.get::<Service>(),
        claims: informers.get::<PersistentVolumeClaim>(),
        config_maps: informers.get::<ConfigMap>(),
        secrets: informers.get::<Secret>(),
        controllers: informers.get::<ReplicationController>(),
        queue: WorkQueue::new(),
    });
    {
        let queue = Arc::clone(&controller.queue);
        let quotas = Arc::clone(&controller.quotas);
        controller.quotas.on_change(move |change| match change {
            Change::Added(quota) => queue.add(key_of(quota)),
            Change::Updated { old, new } => {
                let spec = |quota: &ResourceQuota| quota.spec.clone();
                let hard = |quota: &ResourceQuota| {
                    quota.status.as_ref().and_then(|status| status.hard.clone())
                };
                let wanted = new.spec.as_ref().and_then(|spec| spec.hard.clone());
                if spec(old) != spec(new) || hard(new) != wanted {
                    queue.add(key_of(new));
                }
            }
            // One quota fewer: quotas counting quotas change.
            Change::Deleted(quota) => {
                replenish(&quotas, &queue, &quota.namespace().unwrap_or_default())
            }
        });
    }
    let (quotas, queue) = (&controller.quotas, &controller.queue);
    watch_kind(&controller.pods, quotas, queue, pod_changed);
    watch_kind(&controller.services, quotas, queue, service_changed);
    watch_kind(&controller.claims, quotas, queue, claim_changed);
    watch_kind(&controller.config_maps, quotas, queue, never);
    watch_kind(&controller.secrets, quotas, queue, never);
    watch_kind(&controller.controllers, quotas, queue, never);
    tokio::spawn(async move {
        controller.quotas.synced().await;
        controller.pods.synced().await;
        controller.services.synced().await;
        controller.claims.synced().await;
        controller.config_maps.synced().await;
        controller.secrets.synced().await;
        controller.controllers.synced().await;
        let queue = Arc::clone(&controller.queue);
        run_workers("resourcequota-controller", queue, 2, move |key: String| {
            let controller = Arc::clone(&controller);
            async move { controller.sync(&key).await }
        });
    });
}

fn values<K: Serialize>(objects: Vec<Arc<K>>) -> Vec<Value> {
    objects
        .iter()
        .filter_map(|object| serde_json::to_value(&**object).ok())
        .collect()
}

/// The evaluators a quota's hard resources need, each once.
fn evaluators(hard: &ResourceList) -> Vec<(String, String, Evaluator)> {
    let mut wanted: BTreeSet<(String, String)> = [
        ("", "pods"),
        ("", "services"),
        ("", "persistentvolumeclaims"),
        ("", "configmaps"),
        ("", "secrets"),
        ("", "replicationcontrollers"),
        ("", "resourcequotas"),
    ]
    .iter()
    .map(|(group, resource)| ((*group).to_owned(), (*resource).to_owned()))
    .collect();
    for name in hard.keys() {
        if let Some(counted) = name.strip_prefix("count/") {
            let (resource, group) = counted.split_once('.').unwrap_or((counted, ""));
            wanted.insert((group.to_owned(), resource.to_owned()));
        }
    }
    wanted
        .into_iter()
        .map(|(group, resource)| {
            let evaluator = Evaluator::for_resource(&group, &resource);
            (group, resource, evaluator)
        })
        .filter(|(_, _, evaluator)| {
            !evaluator
                .matching_resources(hard.keys().map(String::as_str))
                .is_empty()
        })
        .collect()
}

impl Controller {
    /// The objects of a resource in a namespace, as JSON.
    async fn objects(&self, group: &str, resource: &str, namespace: &str) -> Result<Vec<Value>> {
        Ok(match (group, resource) {
            ("", "pods") => values(self.pods.list_namespace(namespace)),
            ("", "services") => values(self.services.list_namespace(namespace)),
            ("", "persistentvolumeclaims") => values(self.claims.list_namespace(namespace)),
            ("", "configmaps") => values(self.config_maps.list_namespace(namespace)),
            ("", "secrets") => values(self.secrets.list_namespace(namespace)),
            ("", "replicationcontrollers") => values(self.controllers.list_namespace(namespace)),
            ("", "resourcequotas") => values(self.quotas.list_namespace(namespace)),
            _ => self.listed(group, resource, namespace).await?,
        })
    }

    /// Objects of a resource without an informer, listed from the API (metadata is enough: they
    /// are only counted).
    async fn listed(&self, group: &str, resource: &str, namespace: &str) -> Result<Vec<Value>> {
        let served = crate::discovery::served(self.client.clone())
            .await
            .context(|| "discovering resources".to_owned())?;
        let Some(found) = served
            .into_iter()
            .find(|served| served.resource.group == group && served.resource.plural == resource)
        else {
            return Ok(Vec::new());
        };
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &found.resource);
        let list = api
            .list_metadata(&ListParams::default())
            .await
            .context(|| format!("listing {resource}.{group} in {namespace}"))?;
        Ok(list
            .items
            .iter()
            .filter_map(|item| serde_json::to_value(item).ok())
            .collect())
    }

    async fn sync(&self, key: &str) -> Result<()> {
        let Some((namespace, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(quota) = self.quotas.get(namespace, name) else {
            return Ok(());
        };
        let spec_hard = quota
            .spec
            .as_ref()
            .and_then(|spec| spec.hard.clone())
            .unwrap_or_default();
        let hard_value = serde_json::to_value(&spec_hard).unwrap_or(Value::Null);
        let hard = parse_list(Some(&hard_value));
        let quota_value = serde_json::to_value(&*quota).unwrap_or(Value::Null);
        let scopes = scope_selectors(&quota_value);
        let previous = parse_list(quota_value.pointer("/status/used"));
        let mut used = previous.clone();
        for (group, resource, evaluator) in evaluators(&hard) {
            let matching = evaluator.matching_resources(hard.keys().map(String::as_str));
            let mut usage: ResourceList = matching
                .iter()
                .map(|name| (name.clone(), quota::Amount::default()))
                .collect();
            for object in self.objects(&group, &resource, namespace).await? {
                if evaluator.matches_scopes(&scopes, &object) {
                    let consumed = quota::mask(
                        &evaluator.usage(&object),
                        matching.iter().map(String::as_str),
                    );
                    usage = quota::add(&usage, &consumed);
                }
            }
            used.extend(usage);
        }
        let used = quota::mask(&used, hard.keys().map(String::as_str));
        self.queue.add_after(key.to_owned(), RESYNC);
        let current_hard = quota.status.as_ref().and_then(|status| status.hard.clone());
        if current_hard.as_ref() == Some(&spec_hard) && quota::equals(&used, &previous) {
            return Ok(());
        }
        let used_json: std::collections::BTreeMap<String, Quantity> = used
            .iter()
            .map(|(name, amount)| (name.clone(), Quantity(amount.to_string())))
            .collect();
        let mut updated = (*quota).clone();
        updated.status = Some(ResourceQuotaStatus {
            hard: Some(spec_hard),
            used: Some(used_json),
        });
        let api: Api<ResourceQuota> = Api::namespaced(self.client.clone(), namespace);
        api.replace_status(name, &PostParams::default(), &updated)
            .await
            .context(|| format!("updating the status of quota {key}"))
            .map_err(|error| match error {
                Error::Api { source, .. } if crate::error::is_conflict(&source) => {
                    Error::Retry(format!("quota {key} changed meanwhile"))
                }
                other => other,
            })?;
        Ok(())
    }
}
