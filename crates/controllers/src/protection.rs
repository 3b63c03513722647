//! What the storage protection controllers ([`crate::pvc_protection`], [`crate::pv_protection`])
//! share, like upstream's `protectionutil`: when an object still lacks its finalizer, when it is a
//! candidate for losing it, and the update that adds or removes it.

use std::fmt::Debug;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result, is_not_found};

/// Whether `meta` lists `finalizer`.
pub fn has_finalizer(meta: &ObjectMeta, finalizer: &str) -> bool {
    meta.finalizers
        .iter()
        .flatten()
        .any(|present| present == finalizer)
}

/// Whether the object is being deleted and still waits for `finalizer` (upstream's
/// `IsDeletionCandidate`).
pub fn is_deletion_candidate(meta: &ObjectMeta, finalizer: &str) -> bool {
    meta.deletion_timestamp.is_some() && has_finalizer(meta, finalizer)
}

/// Whether the object lives on without `finalizer` (upstream's `NeedToAddFinalizer`): admission
/// adds it to new objects, the controllers to objects created before the plugin ran.
pub fn needs_finalizer(meta: &ObjectMeta, finalizer: &str) -> bool {
    meta.deletion_timestamp.is_none() && !has_finalizer(meta, finalizer)
}

/// Writes `object` back with `finalizer` added or removed (a full update at the cached
/// `resourceVersion`, so a concurrent change fails it with 409 and the key is retried); an object
/// gone meanwhile is no error.
pub async fn set_finalizer<K>(
    api: &Api<K>,
    object: &K,
    finalizer: &str,
    present: bool,
) -> Result<()>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + Debug,
{
    let mut updated = object.clone();
    let finalizers = updated.meta_mut().finalizers.get_or_insert_with(Vec::new);
    finalizers.retain(|existing| existing != finalizer);
    if present {
        finalizers.push(finalizer.to_owned());
    }
    let name = object.name_any();
    match api.replace(&name, &PostParams::default(), &updated).await {
        Ok(_) => Ok(()),
        Err(error) if is_not_found(&error) => Ok(()),
        Err(source) => Err(Error::Api {
            action: format!(
                "{} finalizer {finalizer} {} {} {name}",
                if present { "adding" } else { "removing" },
                if present { "to" } else { "from" },
                K::kind(&()).to_lowercase()
            ),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    #[test]
    fn candidates_are_deleted_objects_that_still_hold_the_finalizer() {
        let live = ObjectMeta {
            finalizers: Some(vec!["kubernetes.io/pvc-protection".into()]),
            ..ObjectMeta::default()
        };
        let deleted = ObjectMeta {
            deletion_timestamp: Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)),
            ..live.clone()
        };
        let released = ObjectMeta {
            finalizers: None,
            ..deleted.clone()
        };
        let finalizer = "kubernetes.io/pvc-protection";
        assert!(!is_deletion_candidate(&live, finalizer));
        assert!(is_deletion_candidate(&deleted, finalizer));
        assert!(!is_deletion_candidate(&released, finalizer));
        assert!(!needs_finalizer(&live, finalizer));
        assert!(needs_finalizer(&ObjectMeta::default(), finalizer));
        assert!(
            !needs_finalizer(&released, finalizer),
            "a deleted object gets no new finalizer"
        );
    }
}
