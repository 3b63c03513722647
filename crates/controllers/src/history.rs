//! ControllerRevisions, as upstream's `controller/history` package: immutable snapshots of a
//! workload's pod template, stored as the strategic merge patch that restores it
//! (`{"spec":{"template":{...,"$patch":"replace"}}}`, what `kubectl rollout undo` applies), named
//! `<owner>-<hash>`, labelled with the template's labels, owned by the workload, and numbered so
//! that the highest number is the newest.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::error::{Context, Error, Result, is_not_found};
use crate::informer::Informer;
use crate::pods::controller_of;

/// The label with the hash of a revision's data (StatefulSet revisions).
pub const HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// How many old revisions a workload keeps unless it says otherwise.
pub const DEFAULT_HISTORY_LIMIT: i32 = 10;

/// The data of a revision: the patch that puts `template` back.
pub fn template_patch(template: &PodTemplateSpec) -> Value {
    let mut template = serde_json::to_value(template).unwrap_or_else(|_| json!({}));
    if let Some(object) = template.as_object_mut() {
        object.insert("$patch".to_owned(), json!("replace"));
    }
    json!({"spec": {"template": template}})
}

/// The pod template a revision restores.
pub fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut template = revision.data.as_ref()?.0.pointer("/spec/template")?.clone();
    template.as_object_mut()?.remove("$patch");
    serde_json::from_value(template).ok()
}

/// Upstream's `HashControllerRevision`: FNV-1 (32 bits) of the data and the collision count,
/// in the `SafeEncodeString` alphabet.
pub fn hash(data: &Value, collision_count: Option<i32>) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    let mut feed = |bytes: &[u8]| {
        for byte in bytes {
            hash = hash.wrapping_mul(0x0100_0193);
            hash ^= u32::from(*byte);
        }
    };
    feed(&serde_json::to_vec(data).unwrap_or_default());
    if let Some(count) = collision_count {
        feed(count.to_string().as_bytes());
    }
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string()
        .bytes()
        .map(|digit| char::from(ALPHANUMS[usize::from(digit) % ALPHANUMS.len()]))
        .collect()
}

/// `<prefix>-<hash>`, the prefix cut to 223 bytes so the name fits 253.
pub fn revision_name(prefix: &str, hash: &str) -> String {
    let mut end = prefix.len().min(223);
    while !prefix.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}-{hash}", &prefix[..end])
}

/// A revision of `owner` holding `data`, labelled with `labels`.
pub fn new_revision(
    owner: OwnerReference,
    namespace: &str,
    name: String,
    labels: BTreeMap<String, String>,
    data: Value,
    revision: i64,
) -> ControllerRevision {
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(namespace.to_owned()),
            labels: Some(labels),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(data)),
        revision,
    }
}

/// Whether two revisions hold the same template.
pub fn same_data(a: &ControllerRevision, b: &ControllerRevision) -> bool {
    a.data == b.data
}

/// Sorts revisions oldest first: by number, then creation, then name.
pub fn sort(revisions: &mut [Arc<ControllerRevision>]) {
    revisions.sort_by(|a, b| {
        (
            a.revision,
            a.metadata.creation_timestamp.as_ref().map(|t| t.0),
            a.name_any(),
        )
            .cmp(&(
                b.revision,
                b.metadata.creation_timestamp.as_ref().map(|t| t.0),
                b.name_any(),
            ))
    });
}

/// One more than the highest revision number (1 for none).
pub fn next_number(revisions: &[Arc<ControllerRevision>]) -> i64 {
    revisions.iter().map(|r| r.revision).max().unwrap_or(0) + 1
}

/// Reads and writes the revisions of workloads.
pub struct History {
    client: kube::Client,
    revisions: Arc<Informer<ControllerRevision>>,
}

impl History {
    /// Revisions through `client`, read from the shared informer.
    pub fn new(client: kube::Client, revisions: Arc<Informer<ControllerRevision>>) -> Self {
        History { client, revisions }
    }

    /// The informer (to wait for its sync).
    pub fn informer(&self) -> &Arc<Informer<ControllerRevision>> {
        &self.revisions
    }

    fn api(&self, namespace: &str) -> Api<ControllerRevision> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// The revisions of `namespace` controlled by the object with `uid`, oldest first.
    pub fn owned(&self, namespace: &str, uid: &str) -> Vec<Arc<ControllerRevision>> {
        let mut owned: Vec<Arc<ControllerRevision>> = self
            .revisions
            .list_namespace(namespace)
            .into_iter()
            .filter(|revision| controller_of(&revision.metadata).is_some_and(|o| o.uid == uid))
            .collect();
        sort(&mut owned);
        owned
    }

    /// Creates `revision`; an existing one of that name with the same data is returned instead.
    /// `Ok(None)` means the name is taken by other data (a hash collision).
    pub async fn create(
        &self,
        revision: &ControllerRevision,
    ) -> Result<Option<ControllerRevision>> {
        let namespace = revision.namespace().unwrap_or_default();
        let name = revision.name_any();
        match self
            .api(&namespace)
            .create(&PostParams::default(), revision)
            .await
        {
            Ok(created) => Ok(Some(created)),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                let existing = self
                    .api(&namespace)
                    .get(&name)
                    .await
                    .context(|| format!("reading controller revision {name}"))?;
                Ok(same_data(&existing, revision).then_some(existing))
            }
            Err(source) => Err(Error::Api {
                action: format!("creating controller revision {name}"),
                source,
            }),
        }
    }

    /// Gives `revision` the number `number` (a template coming back becomes the newest).
    pub async fn renumber(
        &self,
        revision: &ControllerRevision,
        number: i64,
    ) -> Result<ControllerRevision> {
        if revision.revision == number {
            return Ok(revision.clone());
        }
        let name = revision.name_any();
        self.api(&revision.namespace().unwrap_or_default())
            .patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"revision": number})),
            )
            .await
            .context(|| format!("renumbering controller revision {name}"))
    }

    /// Deletes `revision` (gone already is fine).
    pub async fn delete(&self, revision: &ControllerRevision) -> Result<()> {
        let name = revision.name_any();
        match self
            .api(&revision.namespace().unwrap_or_default())
            .delete(&name, &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(source) => Err(Error::Api {
                action: format!("deleting controller revision {name}"),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_is_a_replacing_patch_that_gives_the_template_back() {
        let template: PodTemplateSpec = serde_json::from_value(json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        }))
        .expect("a template");
        let data = template_patch(&template);
        assert_eq!(data["spec"]["template"]["$patch"], "replace");
        let revision = new_revision(
            OwnerReference::default(),
            "default",
            "web-1".into(),
            BTreeMap::new(),
            data.clone(),
            1,
        );
        assert_eq!(template_of(&revision), Some(template));
        // Hashes use the safe alphabet and change with the collision count.
        let plain = hash(&data, None);
        assert!(
            plain
                .chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c))
        );
        assert_ne!(plain, hash(&data, Some(1)));
        assert_eq!(revision_name(&"x".repeat(300), "h").len(), 225);
    }
}
