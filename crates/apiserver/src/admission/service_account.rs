//! `ServiceAccount`, as upstream 1.34's: a new pod runs as `spec.serviceAccountName` (`default` when
//! unset), which must exist; unless the pod or the account opts out with
//! `automountServiceAccountToken: false`, every container and init container mounts a projected
//! `kube-api-access-<random>` volume at `/var/run/secrets/kubernetes.io/serviceaccount` (a bound
//! token for 3607 seconds, the cluster CA from the `kube-root-ca.crt` config map and the namespace);
//! a pod without image pull secrets gets the account's. Mirror pods may reference no account,
//! secret or token projection.
//!
//! Until kubers has the service-account controller that creates `default` in every namespace, a
//! missing `default` account is tolerated (upstream would refuse the pod); any other missing
//! account is refused as upstream does.

use async_trait::async_trait;
use rand::Rng;
use serde_json::{Value, json};

use super::{Attributes, MutatingPlugin, Operation, Reads, ValidatingPlugin, forbidden};
use crate::auth::tokens::WARN_ONLY_EXPIRATION_SECONDS;
use crate::errors::ApiError;

/// The account a pod runs as when it names none.
const DEFAULT_ACCOUNT: &str = "default";
/// Where the token volume is mounted.
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The prefix of the token volume's name.
pub const TOKEN_VOLUME_PREFIX: &str = "kube-api-access-";
/// The annotation of mirror pods (static pods a kubelet reports).
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// Characters of generated name suffixes (upstream's: no vowels, no easily confused digits).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The `ServiceAccount` plugin.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServiceAccount;

#[async_trait]
impl MutatingPlugin for ServiceAccount {
    fn name(&self) -> &'static str {
        "ServiceAccount"
    }

    async fn admit(
        &self,
        store: &Reads<'_>,
        attributes: &Attributes<'_>,
        object: &mut Value,
        old: Option<&Value>,
    ) -> Result<(), ApiError> {
        if !attributes.is_core("pods") {
            return Ok(());
        }
        match attributes.operation {
            Operation::Create => {}
            Operation::Update => {
                keep_account(object, old);
                return Ok(());
            }
            Operation::Delete => return Ok(()),
        }
        if is_mirror(object) {
            return Ok(());
        }
        let name = account_name(object).unwrap_or(DEFAULT_ACCOUNT).to_owned();
        set_account(object, &name);
        let namespace = attributes.namespace.unwrap_or("");
        let account = lookup(store, attributes, object, namespace, &name).await?;
        let account = account.unwrap_or_else(|| json!({}));
        if should_automount(object, &account) {
            mount_token(object, &random_suffix());
        }
        copy_pull_secrets(object, &account);
        Ok(())
    }
}

#[async_trait]
impl ValidatingPlugin for ServiceAccount {
    fn name(&self) -> &'static str {
        "ServiceAccount"
    }

    async fn validate(
        &self,
        _store: &Reads<'_>,
        attributes: &Attributes<'_>,
        object: &Value,
        _old: Option<&Value>,
    ) -> Result<(), ApiError> {
        if !attributes.is_core("pods") || attributes.operation != Operation::Create {
            return Ok(());
        }
        if is_mirror(object) {
            let refuse = |message: &str| Err(forbidden(attributes, object, message, &[]));
            if account_name(object).is_some() {
                return refuse("a mirror pod may not reference service accounts");
            }
            if references_secrets(object) {
                return refuse("a mirror pod may not reference secrets");
            }
            if projects_token(object) {
                return refuse("a mirror pod may not use ServiceAccountToken volume projections");
            }
            return Ok(());
        }
        if account_name(object).is_none() {
            let namespace = attributes.namespace.unwrap_or("");
            return Err(forbidden(
                attributes,
                object,
                &format!(
                    "no service account specified for pod {namespace}/{}",
                    attributes.name
                ),
                &[],
            ));
        }
        Ok(())
    }
}

/// The service account, or `None` for a missing `default` (tolerated, see the module docs).
async fn lookup(
    store: &Reads<'_>,
    attributes: &Attributes<'_>,
    object: &Value,
    namespace: &str,
    name: &str,
) -> Result<Option<Value>, ApiError> {
    let key = format!("/registry/serviceaccounts/{namespace}/{name}");
    match store.object("", "v1", "serviceaccounts", &key).await? {
        Some(account) => Ok(Some(account)),
        None if name == DEFAULT_ACCOUNT => Ok(None),
        None => Err(forbidden(
            attributes,
            object,
            &format!(
                "error looking up service account {namespace}/{name}: serviceaccount \"{name}\" not found"
            ),
            &[],
        )),
    }
}

fn is_mirror(pod: &Value) -> bool {
    pod.pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(|annotations| annotations.contains_key(MIRROR_ANNOTATION))
}

/// `spec.serviceAccountName`, else the deprecated `spec.serviceAccount`, when not empty.
fn account_name(pod: &Value) -> Option<&str> {
    ["serviceAccountName", "serviceAccount"]
        .iter()
        .find_map(|field| {
            pod.pointer(&format!("/spec/{field}"))
                .and_then(Value::as_str)
                .filter(|name| !name.is_empty())
        })
}

fn set_account(pod: &mut Value, name: &str) {
    if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("serviceAccountName".into(), json!(name));
        spec.insert("serviceAccount".into(), json!(name));
    }
}

/// An update that leaves the account out keeps the stored one.
fn keep_account(pod: &mut Value, old: Option<&Value>) {
    if account_name(pod).is_some() {
        return;
    }
    if let Some(name) = old.and_then(account_name).map(str::to_owned) {
        set_account(pod, &name);
    }
}

/// The pod's `automountServiceAccountToken`, else the account's, else true.
fn should_automount(pod: &Value, account: &Value) -> bool {
    pod.pointer("/spec/automountServiceAccountToken")
        .and_then(Value::as_bool)
        .or_else(|| {
            account
                .get("automountServiceAccountToken")
                .and_then(Value::as_bool)
        })
        .unwrap_or(true)
}

fn random_suffix() -> String {
    let mut rng = rand::rng();
    (0..5)
        .map(|_| char::from(SUFFIX_ALPHABET[rng.random_range(0..SUFFIX_ALPHABET.len())]))
        .collect()
}

/// The projected volume upstream's `TokenVolumeSource` describes.
fn token_volume(name: &str) -> Value {
    json!({
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {
                    "expirationSeconds": WARN_ONLY_EXPIRATION_SECONDS,
                    "path": "token",
                }},
                {"configMap": {
                    "name": "kube-root-ca.crt",
                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                }},
                {"downwardAPI": {
                    "items": [{
                        "path": "namespace",
                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                    }],
                }},
            ],
        },
    })
}

/// Mounts the token volume into every container that has nothing at the token path, adding the
/// volume (named `kube-api-access-<suffix>`, unless the pod has one already) when any does.
fn mount_token(pod: &mut Value, suffix: &str) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let existing = spec
        .get("volumes")
        .and_then(Value::as_array)
        .and_then(|volumes| {
            volumes.iter().find_map(|volume| {
                volume
                    .get("name")
                    .and_then(Value::as_str)
                    .filter(|name| name.starts_with(TOKEN_VOLUME_PREFIX))
                    .map(str::to_owned)
            })
        });
    let volume_name = existing
        .clone()
        .unwrap_or_else(|| format!("{TOKEN_VOLUME_PREFIX}{suffix}"));
    let mount = json!({
        "name": volume_name,
        "readOnly": true,
        "mountPath": TOKEN_MOUNT_PATH,
    });
    let mut needed = false;
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for container in containers {
            let Some(container) = container.as_object_mut() else {
                continue;
            };
            let mounts = container.entry("volumeMounts").or_insert_with(|| json!([]));
            if mounts.is_null() {
                *mounts = json!([]);
            }
            let Some(mounts) = mounts.as_array_mut() else {
                continue;
            };
            let taken = mounts.iter().any(|existing| {
                existing.get("mountPath").and_then(Value::as_str) == Some(TOKEN_MOUNT_PATH)
            });
            if !taken {
                mounts.push(mount.clone());
                needed = true;
            }
        }
    }
    if existing.is_none() && needed {
        let volumes = spec.entry("volumes").or_insert_with(|| json!([]));
        if volumes.is_null() {
            *volumes = json!([]);
        }
        if let Some(volumes) = volumes.as_array_mut() {
            volumes.push(token_volume(&volume_name));
        }
    }
}

/// A pod without image pull secrets gets its account's.
fn copy_pull_secrets(pod: &mut Value, account: &Value) {
    let Some(secrets) = account
        .get("imagePullSecrets")
        .and_then(Value::as_array)
        .filter(|secrets| !secrets.is_empty())
    else {
        return;
    };
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let has_own = spec
        .get("imagePullSecrets")
        .and_then(Value::as_array)
        .is_some_and(|own| !own.is_empty());
    if !has_own {
        let names: Vec<Value> = secrets
            .iter()
            .filter_map(|secret| secret.get("name"))
            .map(|name| json!({"name": name}))
            .collect();
        spec.insert("imagePullSecrets".into(), Value::Array(names));
    }
}

/// Whether the pod names a secret (volumes, projections, env, image pull secrets).
fn references_secrets(pod: &Value) -> bool {
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    let non_empty = |value: Option<&Value>| {
        value
            .and_then(Value::as_array)
            .is_some_and(|list| !list.is_empty())
    };
    if non_empty(spec.get("imagePullSecrets")) {
        return true;
    }
    let volumes = spec.get("volumes").and_then(Value::as_array);
    let in_volumes = volumes.into_iter().flatten().any(|volume| {
        volume.get("secret").is_some()
            || volume
                .pointer("/projected/sources")
                .and_then(Value::as_array)
                .is_some_and(|sources| sources.iter().any(|source| source.get("secret").is_some()))
    });
    let in_env = ["containers", "initContainers"]
        .iter()
        .filter_map(|list| spec.get(*list).and_then(Value::as_array))
        .flatten()
        .any(|container| {
            let env_from = container.get("envFrom").and_then(Value::as_array);
            let env = container.get("env").and_then(Value::as_array);
            env_from
                .into_iter()
                .flatten()
                .any(|source| source.get("secretRef").is_some())
                || env
                    .into_iter()
                    .flatten()
                    .any(|var| var.pointer("/valueFrom/secretKeyRef").is_some())
        });
    in_volumes || in_env
}

fn projects_token(pod: &Value) -> bool {
    pod.pointer("/spec/volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|volume| {
            volume
                .pointer("/projected/sources")
                .and_then(Value::as_array)
        })
        .flatten()
        .any(|source| source.get("serviceAccountToken").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_the_token_volume_like_upstream() {
        let mut pod = json!({"spec": {
            "initContainers": [{"name": "init"}],
            "containers": [
                {"name": "app", "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                {"name": "own", "volumeMounts": [{"name": "mine", "mountPath": TOKEN_MOUNT_PATH}]},
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
        }});
        mount_token(&mut pod, "x2b4c");
        let mount = json!({"name": "kube-api-access-x2b4c", "readOnly": true, "mountPath": TOKEN_MOUNT_PATH});
        assert_eq!(
            pod["spec"]["initContainers"][0]["volumeMounts"],
            json!([mount])
        );
        assert_eq!(pod["spec"]["containers"][0]["volumeMounts"][1], mount);
        assert_eq!(
            pod["spec"]["containers"][1]["volumeMounts"]
                .as_array()
                .map(Vec::len),
            Some(1),
            "a container with its own mount at the path is left alone"
        );
        let volumes = pod["spec"]["volumes"].as_array().expect("volumes");
        assert_eq!(volumes.len(), 2);
        assert_eq!(volumes[1], token_volume("kube-api-access-x2b4c"));
        assert_eq!(
            volumes[1]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
            3607
        );
        // Admitting again adds nothing.
        let before = pod.clone();
        mount_token(&mut pod, "other");
        assert_eq!(pod, before);
    }

    #[test]
    fn opting_out() {
        let account = json!({"automountServiceAccountToken": false});
        assert!(!should_automount(&json!({"spec": {}}), &account));
        assert!(should_automount(
            &json!({"spec": {"automountServiceAccountToken": true}}),
            &account
        ));
        assert!(should_automount(&json!({"spec": {}}), &json!({})));
    }

    #[test]
    fn pull_secrets_and_mirror_pods() {
        let mut pod = json!({"spec": {"containers": [{"name": "c"}]}});
        copy_pull_secrets(
            &mut pod,
            &json!({"imagePullSecrets": [{"name": "registry"}]}),
        );
        assert_eq!(
            pod["spec"]["imagePullSecrets"],
            json!([{"name": "registry"}])
        );
        assert!(references_secrets(&pod));
        assert!(!projects_token(&pod));
        mount_token(&mut pod, "abcde");
        assert!(projects_token(&pod));
        assert!(is_mirror(
            &json!({"metadata": {"annotations": {MIRROR_ANNOTATION: "x"}}})
        ));
    }
}
