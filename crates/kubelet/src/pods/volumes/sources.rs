//! The contents of configMap, secret, downwardAPI and projected volumes: the objects are read from
//! the API and turned into atomic-writer payloads, with upstream's key projection and messages.

use std::collections::BTreeMap;

use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, DownwardAPIVolumeFile, KeyToPath, Pod, ProjectedVolumeSource,
    Secret, SecretVolumeSource, ServiceAccount,
};
use kube::api::{Api, PostParams};

use super::super::NodeContext;
use super::super::atomic_writer::{Payload, PayloadFile};
use super::super::env::{field_ref_value, resource_ref_value};

/// The default file mode of these volumes.
const DEFAULT_MODE: i32 = 0o644;

/// The files of a configMap volume.
pub(super) async fn config_map(
    context: &NodeContext,
    namespace: &str,
    source: &ConfigMapVolumeSource,
) -> Result<Payload, String> {
    let optional = source.optional.unwrap_or(false);
    let object = get_config_map(context, namespace, &source.name, optional).await?;
    let mode = source.default_mode.unwrap_or(DEFAULT_MODE) as u32;
    config_map_payload(
        object.as_ref(),
        source.items.as_deref(),
        mode,
        &source.name,
        optional,
    )
}

/// The files of a secret volume.
pub(super) async fn secret(
    context: &NodeContext,
    namespace: &str,
    source: &SecretVolumeSource,
) -> Result<Payload, String> {
    let name = source.secret_name.clone().unwrap_or_default();
    let optional = source.optional.unwrap_or(false);
    let object = get_secret(context, namespace, &name, optional).await?;
    let mode = source.default_mode.unwrap_or(DEFAULT_MODE) as u32;
    secret_payload(
        object.as_ref(),
        source.items.as_deref(),
        mode,
        &name,
        optional,
    )
}

/// The files of a downwardAPI volume.
pub(super) fn downward_api(
    context: &NodeContext,
    pod: &Pod,
    items: &[DownwardAPIVolumeFile],
    default_mode: Option<i32>,
) -> Result<Payload, String> {
    downward_payload(
        context,
        pod,
        items,
        default_mode.unwrap_or(DEFAULT_MODE) as u32,
    )
}

/// The files of a projected volume (configMaps, secrets, downward API, service-account tokens).
pub(super) async fn projected(
    context: &NodeContext,
    pod: &Pod,
    source: &ProjectedVolumeSource,
) -> Result<Payload, String> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let mode = source.default_mode.unwrap_or(DEFAULT_MODE) as u32;
    let mut payload = Payload::new();
    for projection in source.sources.iter().flatten() {
        if let Some(config_map) = &projection.config_map {
            let optional = config_map.optional.unwrap_or(false);
            let object = get_config_map(context, &namespace, &config_map.name, optional).await?;
            payload.extend(config_map_payload(
                object.as_ref(),
                config_map.items.as_deref(),
                mode,
                &config_map.name,
                optional,
            )?);
        }
        if let Some(secret) = &projection.secret {
            let optional = secret.optional.unwrap_or(false);
            let object = get_secret(context, &namespace, &secret.name, optional).await?;
            payload.extend(secret_payload(
                object.as_ref(),
                secret.items.as_deref(),
                mode,
                &secret.name,
                optional,
            )?);
        }
        if let Some(downward) = &projection.downward_api {
            payload.extend(downward_payload(
                context,
                pod,
                downward.items.as_deref().unwrap_or_default(),
                mode,
            )?);
        }
        if let Some(token) = &projection.service_account_token {
            let value = request_token(
                context,
                pod,
                token.audience.clone(),
                token.expiration_seconds,
            )
            .await?;
            payload.insert(
                token.path.clone(),
                PayloadFile {
                    content: value.into_bytes(),
                    mode,
                },
            );
        }
    }
    Ok(payload)
}

async fn get_config_map(
    context: &NodeContext,
    namespace: &str,
    name: &str,
    optional: bool,
) -> Result<Option<ConfigMap>, String> {
    let api: Api<ConfigMap> = Api::namespaced(context.client.clone(), namespace);
    match api.get_opt(name).await {
        Ok(Some(object)) => Ok(Some(object)),
        Ok(None) if optional => Ok(None),
        Ok(None) => Err(format!("configmap {name:?} not found")),
        Err(error) => Err(error.to_string()),
    }
}

async fn get_secret(
    context: &NodeContext,
    namespace: &str,
    name: &str,
    optional: bool,
) -> Result<Option<Secret>, String> {
    let api: Api<Secret> = Api::namespaced(context.client.clone(), namespace);
    match api.get_opt(name).await {
        Ok(Some(object)) => Ok(Some(object)),
        Ok(None) if optional => Ok(None),
        Ok(None) => Err(format!("secret {name:?} not found")),
        Err(error) => Err(error.to_string()),
    }
}

fn config_map_payload(
    object: Option<&ConfigMap>,
    items: Option<&[KeyToPath]>,
    mode: u32,
    name: &str,
    optional: bool,
) -> Result<Payload, String> {
    let mut values: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    if let Some(object) = object {
        for (key, value) in object.data.iter().flatten() {
            values.insert(key.clone(), value.as_bytes().to_vec());
        }
        for (key, value) in object.binary_data.iter().flatten() {
            values.insert(key.clone(), value.0.clone());
        }
    }
    project_keys(
        values,
        items,
        mode,
        &format!("configmap {name:?}"),
        optional,
    )
}

fn secret_payload(
    object: Option<&Secret>,
    items: Option<&[KeyToPath]>,
    mode: u32,
    name: &str,
    optional: bool,
) -> Result<Payload, String> {
    let mut values: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    if let Some(object) = object {
        for (key, value) in object.data.iter().flatten() {
            values.insert(key.clone(), value.0.clone());
        }
        for (key, value) in object.string_data.iter().flatten() {
            values.insert(key.clone(), value.as_bytes().to_vec());
        }
    }
    project_keys(values, items, mode, &format!("secret {name:?}"), optional)
}

fn project_keys(
    values: BTreeMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    mode: u32,
    what: &str,
    optional: bool,
) -> Result<Payload, String> {
    let mut payload = Payload::new();
    match items {
        Some(items) if !items.is_empty() => {
            for item in items {
                match values.get(&item.key) {
                    Some(content) => {
                        let mode = item.mode.map(|mode| mode as u32).unwrap_or(mode);
                        payload.insert(
                            item.path.clone(),
                            PayloadFile {
                                content: content.clone(),
                                mode,
                            },
                        );
                    }
                    None if optional => {}
                    None => return Err(format!("{what} has no key {:?}", item.key)),
                }
            }
        }
        _ => {
            for (key, content) in values {
                payload.insert(key, PayloadFile { content, mode });
            }
        }
    }
    Ok(payload)
}

fn downward_payload(
    context: &NodeContext,
    pod: &Pod,
    items: &[DownwardAPIVolumeFile],
    mode: u32,
) -> Result<Payload, String> {
    let mut payload = Payload::new();
    for item in items {
        let value = if let Some(field) = &item.field_ref {
            field_ref_value(pod, &field.field_path, &context.config.node_ip.to_string())?
        } else if let Some(resource) = &item.resource_field_ref {
            resource_ref_value(context, pod, resource)?
        } else {
            String::new()
        };
        let mode = item.mode.map(|mode| mode as u32).unwrap_or(mode);
        payload.insert(
            item.path.clone(),
            PayloadFile {
                content: value.into_bytes(),
                mode,
            },
        );
    }
    Ok(payload)
}

async fn request_token(
    context: &NodeContext,
    pod: &Pod,
    audience: Option<String>,
    expiration: Option<i64>,
) -> Result<String, String> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let account = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.service_account_name.clone())
        .unwrap_or_else(|| "default".to_string());
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: audience.map(|audience| vec![audience]).unwrap_or_default(),
            expiration_seconds: Some(expiration.unwrap_or(3607)),
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".to_string()),
                kind: Some("Pod".to_string()),
                name: pod.metadata.name.clone(),
                uid: pod.metadata.uid.clone(),
            }),
        },
        ..TokenRequest::default()
    };
    let api: Api<ServiceAccount> = Api::namespaced(context.client.clone(), &namespace);
    let body = request;
    let response: TokenRequest = api
        .create_subresource("token", &account, &PostParams::default(), &body)
        .await
        .map_err(|error| format!("failed to fetch token: {error}"))?;
    Ok(response
        .status
        .map(|status| status.token)
        .unwrap_or_default())
}
