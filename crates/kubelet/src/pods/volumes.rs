//! Pod volumes on the node: each volume of the spec becomes a folder (or file) under the pod's folder
//! that containers bind-mount. configMap, secret, downwardAPI and projected volumes are written with
//! the atomic writer, so later updates reach running containers.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, DownwardAPIVolumeFile, KeyToPath, Pod, Secret, ServiceAccount, Volume,
};
use kube::api::{Api, PostParams};

use super::NodeContext;
use super::atomic_writer::{Payload, PayloadFile, write_payload};
use super::env::{field_ref_value, resource_ref_value};

/// Host paths of a pod's volumes by volume name.
pub type VolumePaths = HashMap<String, PathBuf>;

/// Sets up every volume of the pod. The error is a message for the pod's events and status.
pub async fn prepare(context: &NodeContext, pod: &Pod) -> Result<VolumePaths, String> {
    let mut paths = VolumePaths::new();
    let Some(spec) = pod.spec.as_ref() else {
        return Ok(paths);
    };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let pod_dir = context.paths.pod_dir(&uid);
    for volume in spec.volumes.iter().flatten() {
        let path = prepare_one(context, pod, &pod_dir, volume)
            .await
            .map_err(|message| {
                format!(
                    "MountVolume.SetUp failed for volume {:?} : {message}",
                    volume.name
                )
            })?;
        paths.insert(volume.name.clone(), path);
    }
    Ok(paths)
}

async fn prepare_one(
    context: &NodeContext,
    pod: &Pod,
    pod_dir: &std::path::Path,
    volume: &Volume,
) -> Result<PathBuf, String> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let plugin_dir = |plugin: &str| pod_dir.join("volumes").join(plugin).join(&volume.name);
    let io = |error: std::io::Error| error.to_string();
    if let Some(host_path) = &volume.host_path {
        let path = PathBuf::from(&host_path.path);
        match host_path.type_.as_deref().unwrap_or("") {
            "DirectoryOrCreate" => std::fs::create_dir_all(&path).map_err(io)?,
            "FileOrCreate" if !path.exists() => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                std::fs::write(&path, b"").map_err(io)?;
            }
            "Directory" if !path.is_dir() => {
                return Err(format!(
                    "hostPath type check failed: {} is not a directory",
                    host_path.path
                ));
            }
            "File" if !path.is_file() => {
                return Err(format!(
                    "hostPath type check failed: {} is not a file",
                    host_path.path
                ));
            }
            _ => {}
        }
        return Ok(path);
    }
    if volume.empty_dir.is_some() {
        let path = plugin_dir("kubernetes.io~empty-dir");
        std::fs::create_dir_all(&path).map_err(io)?;
        set_mode(&path, 0o777).map_err(io)?;
        return Ok(path);
    }
    if let Some(source) = &volume.config_map {
        let path = plugin_dir("kubernetes.io~configmap");
        let optional = source.optional.unwrap_or(false);
        let config_map = get_config_map(context, &namespace, &source.name, optional).await?;
        let mode = source.default_mode.unwrap_or(0o644) as u32;
        let payload = config_map_payload(
            config_map.as_ref(),
            source.items.as_deref(),
            mode,
            &source.name,
            optional,
        )?;
        write_payload(&path, &payload).map_err(io)?;
        return Ok(path);
    }
    if let Some(source) = &volume.secret {
        let path = plugin_dir("kubernetes.io~secret");
        let name = source.secret_name.clone().unwrap_or_default();
        let optional = source.optional.unwrap_or(false);
        let secret = get_secret(context, &namespace, &name, optional).await?;
        let mode = source.default_mode.unwrap_or(0o644) as u32;
        let payload = secret_payload(
            secret.as_ref(),
            source.items.as_deref(),
            mode,
            &name,
            optional,
        )?;
        write_payload(&path, &payload).map_err(io)?;
        return Ok(path);
    }
    if let Some(source) = &volume.downward_api {
        let path = plugin_dir("kubernetes.io~downward-api");
        let mode = source.default_mode.unwrap_or(0o644) as u32;
        let payload = downward_payload(
            context,
            pod,
            source.items.as_deref().unwrap_or_default(),
            mode,
        )?;
        write_payload(&path, &payload).map_err(io)?;
        return Ok(path);
    }
    if let Some(source) = &volume.projected {
        let path = plugin_dir("kubernetes.io~projected");
        let mode = source.default_mode.unwrap_or(0o644) as u32;
        let mut payload = Payload::new();
        for projection in source.sources.iter().flatten() {
            if let Some(config_map) = &projection.config_map {
                let optional = config_map.optional.unwrap_or(false);
                let object =
                    get_config_map(context, &namespace, &config_map.name, optional).await?;
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
        write_payload(&path, &payload).map_err(io)?;
        return Ok(path);
    }
    if volume.persistent_volume_claim.is_some() {
        return Err("persistentVolumeClaim volumes are not supported on this node yet".to_string());
    }
    Err("unsupported volume type".to_string())
}

fn set_mode(path: &std::path::Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
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
