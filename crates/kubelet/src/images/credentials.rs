//! Pulls with the pod's `imagePullSecrets`, as upstream's kubelet does: the secrets are read from
//! the API (one that cannot be read is reported with a `FailedToRetrieveImagePullSecret` event and
//! skipped), the credentials matching the image's repository are tried in order until one pull
//! succeeds (all failures reported together), and an image no credential matches is pulled
//! anonymously.

use std::collections::BTreeMap;

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::Api;

use super::keyring::{self, Keyring};
use crate::events::EventType;
use crate::pods::NodeContext;
use crate::pods::runtime;

/// Pulls `image` for `pod`; the error is the runtime's message (or every attempt's, bracketed).
pub async fn pull(context: &NodeContext, pod: &Pod, image: &str) -> Result<(), String> {
    let keyring = keyring_of(context, pod).await?;
    let credentials = keyring.lookup(&keyring::repository(image));
    if credentials.is_empty() {
        return runtime::pull_image(&context.cri, image, None).await;
    }
    let mut errors = Vec::new();
    for credential in credentials {
        let auth = cri::AuthConfig {
            username: credential.username,
            password: credential.password,
            ..cri::AuthConfig::default()
        };
        match runtime::pull_image(&context.cri, image, Some(auth)).await {
            Ok(()) => return Ok(()),
            Err(error) => errors.push(error),
        }
    }
    Err(aggregate(errors))
}

/// The keyring of the pod's pull secrets.
async fn keyring_of(context: &NodeContext, pod: &Pod) -> Result<Keyring, String> {
    let names: Vec<String> = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.image_pull_secrets.as_ref())
        .into_iter()
        .flatten()
        .map(|reference| reference.name.clone())
        .filter(|name| !name.is_empty())
        .collect();
    let mut keyring = Keyring::default();
    if names.is_empty() {
        return Ok(keyring);
    }
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let secrets: Api<Secret> = Api::namespaced(context.client.clone(), &namespace);
    let mut failed = Vec::new();
    for name in names {
        let secret = match secrets.get(&name).await {
            Ok(secret) => secret,
            Err(error) => {
                tracing::info!(%namespace, secret = %name, %error, "unable to retrieve pull secret, the image pull may not succeed");
                failed.push(name);
                continue;
            }
        };
        let data: BTreeMap<String, Vec<u8>> = secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(key, value)| (key, value.0))
            .collect();
        keyring.add_secret(secret.type_.as_deref().unwrap_or(""), &data)?;
    }
    if !failed.is_empty() {
        context.recorder.pod(
            pod,
            None,
            EventType::Warning,
            "FailedToRetrieveImagePullSecret",
            format!(
                "Unable to retrieve some image pull secrets ({}); attempting to pull the image may not succeed.",
                failed.join(", ")
            ),
        );
    }
    Ok(keyring)
}

/// Several errors as upstream's aggregate prints them: one alone, more in brackets.
fn aggregate(mut errors: Vec<String>) -> String {
    if errors.len() == 1 {
        return errors.remove(0);
    }
    format!("[{}]", errors.join(", "))
}

#[cfg(test)]
mod tests {
    use super::aggregate;

    #[test]
    fn aggregates_like_upstream() {
        assert_eq!(aggregate(vec!["one".into()]), "one");
        assert_eq!(aggregate(vec!["a".into(), "b".into()]), "[a, b]");
    }
}
