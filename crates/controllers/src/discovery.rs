//! The resources the API server serves, from (aggregated) discovery: what the namespace controller
//! empties and what the garbage collector watches.

use kube::core::discovery::{ApiCapabilities, ApiResource, Scope};
use kube::discovery::Discovery;

/// One served resource in its group's preferred version.
#[derive(Clone, Debug)]
pub struct Served {
    /// Group, version, kind and plural.
    pub resource: ApiResource,
    /// Whether its objects live in namespaces.
    pub namespaced: bool,
    /// Its verbs.
    pub verbs: Vec<String>,
    /// Whether this is the group's preferred version.
    pub preferred: bool,
}

impl Served {
    /// Whether the resource supports every verb of `verbs`.
    pub fn supports(&self, verbs: &[&str]) -> bool {
        verbs
            .iter()
            .all(|verb| self.verbs.iter().any(|served| served == verb))
    }
}

/// Every resource in its group's preferred version.
pub async fn served(client: kube::Client) -> Result<Vec<Served>, kube::Error> {
    Ok(served_all_versions(client)
        .await?
        .into_iter()
        .filter(|served| served.preferred)
        .collect())
}

/// Every resource in every version its group serves.
pub async fn served_all_versions(client: kube::Client) -> Result<Vec<Served>, kube::Error> {
    let discovery = match Discovery::new(client.clone()).run_aggregated().await {
        Ok(discovery) => discovery,
        Err(_) => Discovery::new(client).run().await?,
    };
    let mut served = Vec::new();
    for group in discovery.groups() {
        let preferred = group.preferred_version_or_latest().to_owned();
        for version in group.versions() {
            served.extend(group.versioned_resources(version).into_iter().map(
                |(resource, capabilities): (ApiResource, ApiCapabilities)| Served {
                    resource,
                    namespaced: capabilities.scope == Scope::Namespaced,
                    verbs: capabilities.operations,
                    preferred: version == preferred,
                },
            ));
        }
    }
    Ok(served)
}
