//! Discovery documents: legacy `/api`, `/apis`, `/apis/<group>` and per group-version resource lists
//! (what kubectl 1.20 reads), aggregated `APIGroupDiscoveryList` documents (what kubectl 1.35 reads),
//! and the `Accept` negotiation that picks between them.

mod aggregated;
mod legacy;

pub use aggregated::{
    AggregatedVersion, ApiGroupDiscovery, ApiGroupDiscoveryList, ApiResourceDiscovery,
    ApiSubresourceDiscovery, ApiVersionDiscovery, GroupMeta, ResponseKind, aggregated_apis,
    aggregated_core,
};
pub use legacy::{
    ApiGroup, ApiGroupList, ApiResource, ApiResourceList, ApiVersions, GroupVersionForDiscovery,
    ServerAddressByClientCidr, api_group, api_group_list, api_resource_list, api_versions,
};

use crate::media;

/// Content type of legacy discovery documents.
pub const JSON: &str = "application/json";
/// Content type of an aggregated v2 document; kubectl 1.35 only treats a response as aggregated
/// when it carries exactly these parameters.
pub const AGGREGATED_V2: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
/// Content type of an aggregated v2beta1 document.
pub const AGGREGATED_V2BETA1: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

/// Which aggregated discovery format the client asked for, if any: the first range (by `q`, then
/// header order) that is either an aggregated JSON type kubers serves or a plain type settles it, so
/// kubectl 1.35's `A_AGG` gets v2 and kubectl 1.20's `application/json, */*` gets legacy (`None`).
/// Ranges kubers cannot serve (aggregated protobuf, unknown versions, other `as=` conversions) are
/// skipped. Answer with `Vary: Accept` either way.
pub fn wants_aggregated(accept: &str) -> Option<AggregatedVersion> {
    media::negotiate(accept, |range| {
        let conversion = range.param("as");
        if conversion == Some("APIGroupDiscoveryList") {
            let served =
                range.is("application", "json") && range.param("g") == Some("apidiscovery.k8s.io");
            let version = match range.param("v") {
                Some("v2") => Some(AggregatedVersion::V2),
                Some("v2beta1") => Some(AggregatedVersion::V2Beta1),
                _ => None,
            };
            return version.filter(|_| served).map(Some);
        }
        conversion.is_none().then_some(None)
    })
}

#[cfg(test)]
mod tests;
