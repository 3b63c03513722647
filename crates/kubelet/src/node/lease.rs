//! The node's heartbeat: its Lease in `kube-node-lease`, renewed every 10 seconds.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use kube::api::{Api, PostParams};

/// How often the lease is renewed (upstream's default).
pub const RENEW_INTERVAL: Duration = Duration::from_secs(10);

/// How long the lease is valid (upstream's default).
pub const LEASE_DURATION_SECONDS: i32 = 40;

/// Renews the node's Lease forever.
pub async fn run(client: kube::Client, node: Node) {
    let leases: Api<Lease> = Api::namespaced(client, "kube-node-lease");
    let mut interval = tokio::time::interval(RENEW_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<Lease> = None;
    loop {
        interval.tick().await;
        match renew(&leases, &node, last.take()).await {
            Ok(lease) => last = Some(lease),
            Err(error) => tracing::warn!(%error, "renewing the node lease failed"),
        }
    }
}

/// Renews from the last written lease (one request per renewal); reads it again only when that is
/// unknown or stale.
async fn renew(
    leases: &Api<Lease>,
    node: &Node,
    last: Option<Lease>,
) -> Result<Lease, kube::Error> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let now = MicroTime(jiff::Timestamp::now());
    let current = match last {
        Some(lease) => Some(lease),
        None => leases.get_opt(&name).await?,
    };
    match current {
        Some(mut lease) => {
            let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
            spec.holder_identity = Some(name.clone());
            spec.lease_duration_seconds = Some(LEASE_DURATION_SECONDS);
            spec.renew_time = Some(now);
            leases.replace(&name, &PostParams::default(), &lease).await
        }
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some("kube-node-lease".to_string()),
                    owner_references: Some(vec![OwnerReference {
                        api_version: "v1".to_string(),
                        kind: "Node".to_string(),
                        name: name.clone(),
                        uid: node.metadata.uid.clone().unwrap_or_default(),
                        ..OwnerReference::default()
                    }]),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(name),
                    lease_duration_seconds: Some(LEASE_DURATION_SECONDS),
                    renew_time: Some(now),
                    ..LeaseSpec::default()
                }),
            };
            leases.create(&PostParams::default(), &lease).await
        }
    }
}
