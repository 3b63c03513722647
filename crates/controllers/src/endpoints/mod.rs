//! The Endpoints and EndpointSlice controllers: for every Service with a selector, the pods it
//! selects ([`members`]) are published as the Service's Endpoints (`subsets`, ready and not-ready
//! addresses) and as EndpointSlices (`endpointslice-controller.k8s.io`, at most 100 endpoints each,
//! with ready/serving/terminating conditions), like upstream's two controllers.

mod legacy;
pub mod members;
mod slices;

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Service};
use kube::ResourceExt;

use crate::informer::{Change, Informer, Informers};
use crate::queue::WorkQueue;
use crate::selector::Selector;

/// The selector of a Service; `None` for a Service without one (not managed).
fn selector_of(service: &Service) -> Option<Selector> {
    let selector = service.spec.as_ref()?.selector.as_ref()?;
    Some(Selector::from_map(Some(selector)))
}

/// Queues the Services whose selector matches a pod (before or after a change).
fn enqueue_services_of(services: &Informer<Service>, queue: &WorkQueue<String>, pod: &Pod) {
    let namespace = pod.namespace().unwrap_or_default();
    for service in services.list_namespace(&namespace) {
        if selector_of(&service)
            .is_some_and(|selector| selector.matches(pod.metadata.labels.as_ref()))
        {
            queue.add(format!("{namespace}/{}", service.name_any()));
        }
    }
}

/// What both controllers read: Services, pods, and the queue of affected Service keys.
pub(super) struct Sources {
    services: Arc<Informer<Service>>,
    pods: Arc<Informer<Pod>>,
    queue: Arc<WorkQueue<String>>,
}

/// A queue of the Services affected by pod and Service changes.
fn service_queue(informers: &Informers) -> Sources {
    let services = informers.get::<Service>();
    let pods = informers.get::<Pod>();
    let queue = WorkQueue::new();
    {
        let queue = Arc::clone(&queue);
        services.on_change(move |change| {
            let service = change.object();
            queue.add(format!(
                "{}/{}",
                service.namespace().unwrap_or_default(),
                service.name_any()
            ));
        });
    }
    {
        let queue = Arc::clone(&queue);
        let lookup = Arc::clone(&services);
        pods.on_change(move |change| match change {
            Change::Added(pod) | Change::Deleted(pod) => enqueue_services_of(&lookup, &queue, pod),
            Change::Updated { old, new } => {
                let relevant = old.metadata.labels != new.metadata.labels
                    || old.status != new.status
                    || old.metadata.deletion_timestamp != new.metadata.deletion_timestamp
                    || old.spec.as_ref().and_then(|s| s.node_name.as_ref())
                        != new.spec.as_ref().and_then(|s| s.node_name.as_ref());
                if relevant {
                    enqueue_services_of(&lookup, &queue, old);
                    if old.metadata.labels != new.metadata.labels {
                        enqueue_services_of(&lookup, &queue, new);
                    }
                }
            }
        });
    }
    Sources {
        services,
        pods,
        queue,
    }
}

/// Registers both controllers with the informers.
pub fn start(client: kube::Client, informers: &Informers) {
    legacy::start(client.clone(), informers, service_queue(informers));
    slices::start(client, informers, service_queue(informers));
}
