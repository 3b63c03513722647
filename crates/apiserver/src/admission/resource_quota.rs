//! `ResourceQuota`, the last validating plugin: a create (or a usage-changing update) in a namespace
//! with ResourceQuotas is measured by [`kubers_core::quota`] and refused with upstream's 403
//! (`exceeded quota: NAME, requested: pods=1, used: pods=2, limited: pods=2`; `failed quota: NAME:
//! must specify limits.cpu for: c`; `status unknown for quota: NAME, resources: pods` until the
//! controller computed the usage); an admitted request is charged to every matching quota's
//! `status.used` right away, with a compare-and-swap per quota (retried on conflicts), so that
//! concurrent creates cannot both take the last unit. The controller later recounts.

use std::collections::HashSet;

use async_trait::async_trait;
use kubers_core::quota::{
    self, Evaluator, ResourceList, exceeded_message, less_than_or_equal, mask, parse_list,
    scope_selectors,
};
use kubers_store::{Error as StoreError, ListRequest, Revision};
use serde_json::Value;

use super::{Attributes, Operation, Reads, ValidatingPlugin, forbidden};
use crate::errors::ApiError;
use crate::rest::object;

/// How often the charge is retried after other requests changed the quotas meanwhile.
const RETRIES: usize = 3;

/// The `ResourceQuota` plugin.
#[derive(Clone, Copy, Debug, Default)]
pub struct ResourceQuota;

/// A quota as stored.
struct Stored {
    key: String,
    revision: Revision,
    object: Value,
}

impl Stored {
    fn name(&self) -> &str {
        object::metadata_str(&self.object, "name").unwrap_or("")
    }

    fn hard(&self) -> ResourceList {
        parse_list(self.object.pointer("/status/hard"))
    }

    fn used(&self) -> ResourceList {
        parse_list(self.object.pointer("/status/used"))
    }
}

/// The namespace's quotas, read from the store (their revisions are compared on write); none when
/// the watch cache knows of none, so namespaces without quotas cost no store read.
async fn quotas(store: &Reads<'_>, namespace: &str) -> Result<Vec<Stored>, ApiError> {
    let prefix = format!("/registry/resourcequotas/{namespace}/");
    if store.none_cached_under("", "v1", "resourcequotas", &prefix) {
        return Ok(Vec::new());
    }
    let page = store
        .store()
        .list(&ListRequest {
            prefix,
            ..ListRequest::default()
        })
        .await
        .map_err(ApiError::unavailable)?;
    Ok(page
        .items
        .iter()
        .filter_map(|kv| {
            Some(Stored {
                key: kv.key.clone(),
                revision: kv.mod_revision,
                object: object::from_stored(kv).ok()?,
            })
        })
        .collect())
}

/// Upstream's `CheckRequest`: the new `status.used` of each quota the request is charged to, or
/// the refusal.
fn check(
    evaluator: &Evaluator,
    quotas: &[Stored],
    attributes: &Attributes<'_>,
    object: &Value,
    old: Option<&Value>,
) -> Result<Vec<(usize, ResourceList)>, ApiError> {
    let refuse = |message: String| forbidden(attributes, object, &message, &[]);
    let mut interesting = Vec::new();
    for (index, quota) in quotas.iter().enumerate() {
        let hard = quota.hard();
        let restricted = evaluator.matching_resources(hard.keys().map(String::as_str));
        if restricted.is_empty()
            || !evaluator.matches_scopes(&scope_selectors(&quota.object), object)
        {
            continue;
        }
        if let Err(reason) = evaluator.constraints(&restricted, object) {
            return Err(refuse(format!("failed quota: {}: {reason}", quota.name())));
        }
        let used = quota.used();
        if restricted.iter().any(|name| !used.contains_key(name)) {
            let mut names = restricted.clone();
            names.sort();
            return Err(refuse(format!(
                "status unknown for quota: {}, resources: {}",
                quota.name(),
                names.join(",")
            )));
        }
        interesting.push(index);
    }
    if interesting.is_empty() {
        return Ok(Vec::new());
    }
    let mut delta = evaluator.usage(object);
    let negative = quota::negative(&delta);
    if !negative.is_empty() {
        return Err(refuse(format!(
            "quota usage is negative for resource(s): {}",
            negative.join(",")
        )));
    }
    if attributes.operation == Operation::Update
        && let Some(old) = old
    {
        delta = quota::subtract_non_negative(&delta, &evaluator.usage(old));
    }
    if quota::is_zero(&delta) {
        return Ok(Vec::new());
    }
    let mut charges = Vec::new();
    for index in interesting {
        let quota = &quotas[index];
        let hard = quota.hard();
        let used = quota.used();
        let requested = mask(&delta, hard.keys().map(String::as_str));
        let new_used = quota::add(&used, &requested);
        let charged = mask(&new_used, requested.keys().map(String::as_str));
        let (fits, exceeded) = less_than_or_equal(&charged, &hard);
        if !fits {
            return Err(refuse(exceeded_message(
                quota.name(),
                &requested,
                &used,
                &hard,
                &exceeded,
            )));
        }
        if !quota::equals(&new_used, &used) {
            charges.push((index, new_used));
        }
    }
    Ok(charges)
}

#[async_trait]
impl ValidatingPlugin for ResourceQuota {
    fn name(&self) -> &'static str {
        "ResourceQuota"
    }

    async fn validate(
        &self,
        store: &Reads<'_>,
        attributes: &Attributes<'_>,
        object: &Value,
        old: Option<&Value>,
    ) -> Result<(), ApiError> {
        let Some(namespace) = attributes
            .namespace
            .filter(|namespace| !namespace.is_empty())
        else {
            return Ok(());
        };
        if attributes.subresource.is_some()
            || attributes.operation == Operation::Delete
            || attributes.is_core("events")
        {
            return Ok(());
        }
        let evaluator = Evaluator::for_resource(attributes.info.group, attributes.info.resource);
        if attributes.operation == Operation::Update && !evaluator.handles_update(object, old) {
            return Ok(());
        }
        // Quotas whose charge failed on a conflict; the first attempt charges all.
        let mut pending: Option<HashSet<String>> = None;
        let mut conflict = String::new();
        for _ in 0..=RETRIES {
            let mut quotas = quotas(store, namespace).await?;
            if let Some(pending) = &pending {
                quotas.retain(|quota| pending.contains(quota.name()));
            }
            if quotas.is_empty() {
                return Ok(());
            }
            let charges = check(&evaluator, &quotas, attributes, object, old)?;
            if attributes.dry_run {
                return Ok(());
            }
            let mut failed = HashSet::new();
            for (index, used) in charges {
                let quota = &quotas[index];
                let mut charged = quota.object.clone();
                if let Some(status) = charged
                    .as_object_mut()
                    .map(|fields| {
                        fields
                            .entry("status")
                            .or_insert_with(|| Value::Object(Default::default()))
                    })
                    .and_then(Value::as_object_mut)
                {
                    status.insert("used".into(), quota::to_json(&used));
                }
                match store
                    .store()
                    .update(&quota.key, object::to_stored(&charged), quota.revision)
                    .await
                {
                    Ok(_) => {}
                    Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => {
                        conflict = quota.name().to_owned();
                        failed.insert(quota.name().to_owned());
                    }
                    Err(error) => return Err(ApiError::unavailable(error)),
                }
            }
            if failed.is_empty() {
                return Ok(());
            }
            pending = Some(failed);
        }
        Err(ApiError::status(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on resourcequotas {conflict:?}: the object has been modified; please apply your changes to the latest version and try again"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kubers_core::registry;
    use kubers_store::Store;
    use kubers_store::sqlite::{SqliteConfig, SqliteStore};
    use serde_json::json;

    use super::*;
    use crate::auth::UserInfo;

    async fn create(store: &dyn Store, name: &str, dry_run: bool) -> Result<(), String> {
        let user = UserInfo::authenticated("alice", Vec::new());
        let attributes = Attributes {
            operation: Operation::Create,
            info: registry::find("", "v1", "pods").expect("resource"),
            subresource: None,
            namespace: Some("team"),
            name,
            user: &user,
            dry_run,
        };
        let pod = json!({"metadata": {"name": name}, "spec": {"containers": [
            {"name": "c", "resources": {"requests": {"cpu": "300m"}}}]}});
        ResourceQuota
            .validate(&Reads::new(store, None), &attributes, &pod, None)
            .await
            .map_err(|error| error.0.message().to_owned())
    }

    async fn used(store: &dyn Store) -> Value {
        let kv = store
            .get("/registry/resourcequotas/team/q")
            .await
            .expect("read")
            .expect("the quota");
        object::from_stored(&kv).expect("json")["status"]["used"].clone()
    }

    #[tokio::test]
    async fn creates_are_charged_until_the_quota_is_full() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(SqliteConfig::new(dir.path().join("db"))).expect("store opens"),
        );
        let quota = json!({
            "metadata": {"name": "q", "namespace": "team"},
            "spec": {"hard": {"pods": "2", "requests.cpu": "1"}},
            "status": {"hard": {"pods": "2", "requests.cpu": "1"}},
        });
        store
            .create("/registry/resourcequotas/team/q", object::to_stored(&quota))
            .await
            .expect("seed");
        assert_eq!(
            create(store.as_ref(), "p0", false).await,
            Err("pods \"p0\" is forbidden: status unknown for quota: q, resources: pods,requests.cpu".into())
        );
        let mut counted = quota.clone();
        counted["status"]["used"] = json!({"pods": "0", "requests.cpu": "0"});
        let kv = store
            .get("/registry/resourcequotas/team/q")
            .await
            .expect("read")
            .expect("the quota");
        store
            .update(
                "/registry/resourcequotas/team/q",
                object::to_stored(&counted),
                kv.mod_revision,
            )
            .await
            .expect("counted");
        assert_eq!(create(store.as_ref(), "dry", true).await, Ok(()));
        assert_eq!(
            used(store.as_ref()).await,
            json!({"pods": "0", "requests.cpu": "0"})
        );
        assert_eq!(create(store.as_ref(), "p1", false).await, Ok(()));
        assert_eq!(create(store.as_ref(), "p2", false).await, Ok(()));
        assert_eq!(
            used(store.as_ref()).await,
            json!({"pods": "2", "requests.cpu": "600m"})
        );
        assert_eq!(
            create(store.as_ref(), "p3", false).await,
            Err("pods \"p3\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2".into())
        );
    }
}
