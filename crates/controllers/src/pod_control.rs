//! Deleting a controller's pods as upstream's `PodControl` does: the deletions are expected first,
//! made in parallel, and each recorded on the owner as a `SuccessfulDelete` event; a pod already
//! gone counts as observed, any other failure ends the batch with an error.

use std::sync::Arc;

use futures::future::join_all;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};
use kube::{Resource, ResourceExt};
use kubers_client::events::{NORMAL, Recorder};

use crate::error::{Error, Result, is_not_found};
use crate::expectations::Expectations;
use crate::queue::key_of;

/// What a controller deletes its pods with.
pub struct PodControl<'a> {
    /// The API client.
    pub client: &'a kube::Client,
    /// Where the owner's events go.
    pub recorder: &'a Recorder,
    /// The owner's pending deletions.
    pub expectations: &'a Expectations,
}

impl PodControl<'_> {
    /// Deletes `pods` of `owner` (queue key `key`) with `params`.
    pub async fn delete_pods<K: Resource<DynamicType = ()>>(
        &self,
        owner: &K,
        key: &str,
        pods: &[Arc<Pod>],
        params: &DeleteParams,
    ) -> Result<()> {
        if pods.is_empty() {
            return Ok(());
        }
        let pod_key = |pod: &Pod| key_of(&pod.namespace().unwrap_or_default(), &pod.name_any());
        self.expectations
            .expect_deletions(key, pods.iter().map(|pod| pod_key(pod)));
        let results = join_all(pods.iter().map(|pod| async move {
            let api: Api<Pod> =
                Api::namespaced(self.client.clone(), &pod.namespace().unwrap_or_default());
            (pod, api.delete(&pod.name_any(), params).await)
        }))
        .await;
        for (pod, result) in results {
            match result {
                Ok(_) => self.recorder.event(
                    owner,
                    NORMAL,
                    "SuccessfulDelete",
                    format!("Deleted pod: {}", pod.name_any()),
                ),
                Err(error) => {
                    self.expectations.deletion_observed(key, &pod_key(pod));
                    if !is_not_found(&error) {
                        return Err(Error::Api {
                            action: format!("deleting pod {}", pod_key(pod)),
                            source: error,
                        });
                    }
                }
            }
        }
        Ok(())
    }
}
