//! The EndpointSlice controller: the members of a selecting Service in slices of at most 100
//! endpoints per port set, labelled `kubernetes.io/service-name` and managed by
//! `endpointslice-controller.k8s.io`, owned by the Service; a Service without members keeps one
//! empty placeholder slice, as upstream.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams};

use super::members::{Port, members};
use super::selector_of;
use crate::error::{Error, Result, is_not_found};
use crate::informer::{Informer, Informers};
use crate::pods::controller_reference;
use crate::queue::run_workers;

/// The label naming a slice's Service.
pub const SERVICE_NAME: &str = "kubernetes.io/service-name";
/// The label naming a slice's manager.
pub const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's name in that label.
pub const CONTROLLER: &str = "endpointslice-controller.k8s.io";
/// Most endpoints in one slice (upstream's default `--max-endpoints-per-slice`).
const MAX_ENDPOINTS: usize = 100;

pub(super) fn start(client: kube::Client, informers: &Informers, sources: super::Sources) {
    let super::Sources {
        services,
        pods,
        queue,
    } = sources;
    let slices = informers.get::<EndpointSlice>();
    {
        let queue = Arc::clone(&queue);
        slices.on_change(move |change| {
            let slice = change.object();
            let labels = slice.labels();
            if labels.get(MANAGED_BY).map(String::as_str) == Some(CONTROLLER)
                && let Some(service) = labels.get(SERVICE_NAME)
            {
                queue.add(format!(
                    "{}/{service}",
                    slice.namespace().unwrap_or_default()
                ));
            }
        });
    }
    tokio::spawn(async move {
        services.synced().await;
        pods.synced().await;
        slices.synced().await;
        run_workers("endpointslice-controller", queue, 2, move |key: String| {
            let client = client.clone();
            let services = Arc::clone(&services);
            let pods = Arc::clone(&pods);
            let slices = Arc::clone(&slices);
            async move { sync(client, &services, &pods, &slices, &key).await }
        });
    });
}

/// The slices a Service should have, without names: (ports, endpoints).
fn desired(
    service: &Service,
    pods: &[Arc<Pod>],
) -> Vec<(Option<Vec<EndpointPort>>, Vec<Endpoint>)> {
    let groups = members(service, pods, true);
    let mut wanted = Vec::new();
    for (ports, members) in &groups {
        let ports = endpoint_ports(ports);
        for chunk in members.chunks(MAX_ENDPOINTS) {
            let endpoints = chunk
                .iter()
                .map(|member| Endpoint {
                    addresses: vec![member.ip.clone()],
                    conditions: Some(EndpointConditions {
                        ready: Some(member.ready),
                        serving: Some(member.serving),
                        terminating: Some(member.terminating),
                    }),
                    hostname: member.hostname.clone(),
                    node_name: member.node_name.clone(),
                    target_ref: Some(member.target.clone()),
                    ..Endpoint::default()
                })
                .collect();
            wanted.push((ports.clone(), endpoints));
        }
    }
    if wanted.is_empty() {
        // The placeholder slice of a Service without endpoints.
        wanted.push((None, Vec::new()));
    }
    wanted
}

fn endpoint_ports(ports: &[Port]) -> Option<Vec<EndpointPort>> {
    (!ports.is_empty()).then(|| {
        ports
            .iter()
            .map(|port| EndpointPort {
                name: Some(port.name.clone().unwrap_or_default()),
                port: Some(port.port),
                protocol: Some(port.protocol.clone()),
                app_protocol: port.app_protocol.clone(),
            })
            .collect()
    })
}

async fn sync(
    client: kube::Client,
    services: &Informer<Service>,
    pods: &Informer<Pod>,
    slices: &Informer<EndpointSlice>,
    key: &str,
) -> Result<()> {
    let Some((namespace, name)) = key.split_once('/') else {
        return Ok(());
    };
    let api: Api<EndpointSlice> = Api::namespaced(client, namespace);
    let mut existing: Vec<Arc<EndpointSlice>> = slices
        .list_namespace(namespace)
        .into_iter()
        .filter(|slice| {
            let labels = slice.labels();
            labels.get(SERVICE_NAME).map(String::as_str) == Some(name)
                && labels.get(MANAGED_BY).map(String::as_str) == Some(CONTROLLER)
        })
        .collect();
    existing.sort_by_key(|slice| slice.name_any());
    let service = services
        .get(namespace, name)
        .filter(|service| service.metadata.deletion_timestamp.is_none());
    let external = service
        .as_ref()
        .and_then(|service| service.spec.as_ref()?.type_.as_deref())
        == Some("ExternalName");
    let (service, wanted) = match service {
        // Slices of a Service without a selector come from elsewhere (the API server's own
        // `kubernetes` slice, mirrors); slices of a deleted Service go with it (owner reference).
        None => return Ok(()),
        Some(service) if selector_of(&service).is_none() || external => return Ok(()),
        Some(service) => {
            let selector = selector_of(&service).unwrap_or_default();
            let selected: Vec<Arc<Pod>> = pods
                .list_namespace(namespace)
                .into_iter()
                .filter(|pod| selector.matches(pod.metadata.labels.as_ref()))
                .collect();
            let wanted = desired(&service, &selected);
            (Some(service), wanted)
        }
    };
    let mut labels: BTreeMap<String, String> = service
        .as_ref()
        .and_then(|service| service.metadata.labels.clone())
        .unwrap_or_default();
    labels.insert(SERVICE_NAME.to_owned(), name.to_owned());
    labels.insert(MANAGED_BY.to_owned(), CONTROLLER.to_owned());
    let address_type = service
        .as_ref()
        .and_then(|service| {
            service
                .spec
                .as_ref()?
                .ip_families
                .as_ref()?
                .first()
                .cloned()
        })
        .unwrap_or_else(|| "IPv4".to_owned());
    let mut reuse = existing.into_iter();
    for (ports, endpoints) in wanted {
        let result = match reuse.next() {
            Some(slice) => {
                if slice.ports == ports
                    && slice.endpoints == endpoints
                    && slice.address_type == address_type
                    && slice.metadata.labels.as_ref() == Some(&labels)
                {
                    continue;
                }
                let mut updated = (*slice).clone();
                updated.ports = ports;
                updated.endpoints = endpoints;
                updated.address_type = address_type.clone();
                updated.metadata.labels = Some(labels.clone());
                api.replace(&slice.name_any(), &PostParams::default(), &updated)
                    .await
            }
            None => {
                let Some(service) = service.as_ref() else {
                    break;
                };
                let slice = EndpointSlice {
                    metadata: ObjectMeta {
                        generate_name: Some(format!("{name}-")),
                        namespace: Some(namespace.to_owned()),
                        labels: Some(labels.clone()),
                        owner_references: Some(vec![controller_reference(&**service)]),
                        ..ObjectMeta::default()
                    },
                    address_type: address_type.clone(),
                    endpoints,
                    ports,
                };
                api.create(&PostParams::default(), &slice).await
            }
        };
        match result {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 403 => return Ok(()),
            Err(source) => {
                return Err(Error::Api {
                    action: format!("writing endpoint slices of {key}"),
                    source,
                });
            }
        }
    }
    for extra in reuse {
        match api
            .delete(&extra.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(error) if is_not_found(&error) => {}
            Err(source) => {
                return Err(Error::Api {
                    action: format!("deleting endpoint slice {}", extra.name_any()),
                    source,
                });
            }
        }
    }
    Ok(())
}
