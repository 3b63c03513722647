//! The Endpoints controller: one Endpoints object per selecting Service, named like it, with its
//! members repacked into subsets by port set.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Pod, Service,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams};

use super::members::{Groups, members};
use super::selector_of;
use crate::error::{Error, Result, is_not_found};
use crate::informer::{Informer, Informers};
use crate::queue::run_workers;

/// Marks the Endpoints of a headless Service.
const HEADLESS: &str = "service.kubernetes.io/headless";

pub(super) fn start(client: kube::Client, informers: &Informers, sources: super::Sources) {
    let super::Sources {
        services,
        pods,
        queue,
    } = sources;
    let endpoints = informers.get::<Endpoints>();
    {
        let queue = Arc::clone(&queue);
        // Only a deleted Endpoints object needs repair (upstream's `onEndpointsDelete`).
        endpoints.on_change(move |change| {
            let crate::informer::Change::Deleted(object) = change else {
                return;
            };
            queue.add(format!(
                "{}/{}",
                object.namespace().unwrap_or_default(),
                object.name_any()
            ));
        });
    }
    tokio::spawn(async move {
        services.synced().await;
        pods.synced().await;
        endpoints.synced().await;
        run_workers("endpoints-controller", queue, 2, move |key: String| {
            let client = client.clone();
            let services = Arc::clone(&services);
            let pods = Arc::clone(&pods);
            let endpoints = Arc::clone(&endpoints);
            async move { sync(client, &services, &pods, &endpoints, &key).await }
        });
    });
}

/// The subsets of the grouped members.
fn subsets(groups: &Groups) -> Option<Vec<EndpointSubset>> {
    let subsets: Vec<EndpointSubset> = groups
        .iter()
        .map(|(ports, members)| {
            let address = |member: &super::members::Member| EndpointAddress {
                ip: member.ip.clone(),
                hostname: member.hostname.clone(),
                node_name: member.node_name.clone(),
                target_ref: Some(member.target.clone()),
            };
            let ready: Vec<EndpointAddress> =
                members.iter().filter(|m| m.ready).map(address).collect();
            let not_ready: Vec<EndpointAddress> =
                members.iter().filter(|m| !m.ready).map(address).collect();
            EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: (!ports.is_empty()).then(|| {
                    ports
                        .iter()
                        .map(|port| EndpointPort {
                            name: port.name.clone(),
                            port: port.port,
                            protocol: Some(port.protocol.clone()),
                            app_protocol: port.app_protocol.clone(),
                        })
                        .collect()
                }),
            }
        })
        .collect();
    (!subsets.is_empty()).then_some(subsets)
}

async fn sync(
    client: kube::Client,
    services: &Informer<Service>,
    pods: &Informer<Pod>,
    endpoints: &Informer<Endpoints>,
    key: &str,
) -> Result<()> {
    let Some((namespace, name)) = key.split_once('/') else {
        return Ok(());
    };
    let api: Api<Endpoints> = Api::namespaced(client, namespace);
    let Some(service) = services.get(namespace, name) else {
        // The Service is gone: so are its Endpoints (unless someone else manages them).
        if endpoints.get(namespace, name).is_some() {
            match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(error) if is_not_found(&error) => {}
                Err(source) => {
                    return Err(Error::Api {
                        action: format!("deleting endpoints {key}"),
                        source,
                    });
                }
            }
        }
        return Ok(());
    };
    let external =
        service.spec.as_ref().and_then(|spec| spec.type_.as_deref()) == Some("ExternalName");
    let Some(selector) = selector_of(&service).filter(|_| !external) else {
        return Ok(());
    };
    let selected: Vec<Arc<Pod>> = pods
        .list_namespace(namespace)
        .into_iter()
        .filter(|pod| selector.matches(pod.metadata.labels.as_ref()))
        .collect();
    let subsets = subsets(&members(&service, &selected, false));
    let mut labels: BTreeMap<String, String> = service.metadata.labels.clone().unwrap_or_default();
    if service
        .spec
        .as_ref()
        .and_then(|spec| spec.cluster_ip.as_deref())
        == Some("None")
    {
        labels.insert(HEADLESS.to_owned(), String::new());
    } else {
        labels.remove(HEADLESS);
    }
    let labels = (!labels.is_empty()).then_some(labels);
    let existing = endpoints.get(namespace, name);
    if let Some(existing) = &existing
        && existing.subsets == subsets
        && existing.metadata.labels == labels
    {
        return Ok(());
    }
    let result = match existing {
        Some(existing) => {
            let mut updated = (*existing).clone();
            updated.subsets = subsets;
            updated.metadata.labels = labels;
            api.replace(name, &PostParams::default(), &updated).await
        }
        None => {
            let created = Endpoints {
                metadata: ObjectMeta {
                    name: Some(name.to_owned()),
                    namespace: Some(namespace.to_owned()),
                    labels,
                    ..ObjectMeta::default()
                },
                subsets,
            };
            api.create(&PostParams::default(), &created).await
        }
    };
    match result {
        Ok(_) => Ok(()),
        // A terminating namespace takes no new objects.
        Err(kube::Error::Api(status)) if status.code == 403 => Ok(()),
        Err(source) => Err(Error::Api {
            action: format!("writing endpoints {key}"),
            source,
        }),
    }
}
