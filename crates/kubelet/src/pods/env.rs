//! Container environment as upstream builds it: service links, `envFrom`, then `env` with `$(VAR)`
//! expansion, and the downward API values that env and volumes share.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Pod, ResourceFieldSelector, Secret, Service,
};
use kube::api::Api;
use kubers_core::quantity::Quantity;

use super::NodeContext;

/// Ordered environment: names keep the position of their first definition.
#[derive(Debug, Default, Clone)]
pub struct Environment {
    entries: Vec<(String, String)>,
}

impl Environment {
    fn set(&mut self, name: &str, value: String) {
        match self
            .entries
            .iter_mut()
            .find(|(existing, _)| existing == name)
        {
            Some(entry) => entry.1 = value,
            None => self.entries.push((name.to_string(), value)),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(existing, _)| existing == name)
            .map(|(_, value)| value.as_str())
    }

    /// The variables in order.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// Expands `$(NAME)` references like upstream: defined names are replaced, `$$` is a literal `$`,
    /// anything else is kept as written.
    pub fn expand(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(position) = rest.find('$') {
            out.push_str(&rest[..position]);
            let after = &rest[position + 1..];
            if let Some(stripped) = after.strip_prefix('$') {
                out.push('$');
                rest = stripped;
            } else if let Some(body) = after.strip_prefix('(') {
                match body.find(')') {
                    Some(end) => {
                        let name = &body[..end];
                        match self.get(name) {
                            Some(value) => out.push_str(value),
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        rest = &body[end + 1..];
                    }
                    None => {
                        out.push_str("$(");
                        rest = body;
                    }
                }
            } else {
                out.push('$');
                rest = after;
            }
        }
        out.push_str(rest);
        out
    }
}

/// The environment of one container. The error is a message for the container's waiting state
/// (`CreateContainerConfigError`).
pub async fn container_env(
    context: &NodeContext,
    pod: &Pod,
    container: &Container,
    pod_ip: &str,
) -> Result<Environment, String> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let mut env = Environment::default();
    let service_links = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.enable_service_links)
        .unwrap_or(true);
    // A static pod does not wait for the first list of Services (upstream: the API server may not
    // be there yet).
    let wait = !super::static_pods::is_static(pod);
    for (name, value) in service_env(context, &namespace, service_links, wait).await {
        env.set(&name, value);
    }
    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.clone().unwrap_or_default();
        if let Some(reference) = &source.config_map_ref {
            let api: Api<ConfigMap> = Api::namespaced(context.client.clone(), &namespace);
            match api
                .get_opt(&reference.name)
                .await
                .map_err(|error| error.to_string())?
            {
                Some(config_map) => {
                    for (key, value) in config_map.data.iter().flatten() {
                        env.set(&format!("{prefix}{key}"), value.clone());
                    }
                }
                None if reference.optional.unwrap_or(false) => {}
                None => return Err(format!("configmap {:?} not found", reference.name)),
            }
        }
        if let Some(reference) = &source.secret_ref {
            let api: Api<Secret> = Api::namespaced(context.client.clone(), &namespace);
            match api
                .get_opt(&reference.name)
                .await
                .map_err(|error| error.to_string())?
            {
                Some(secret) => {
                    for (key, value) in secret.data.iter().flatten() {
                        env.set(
                            &format!("{prefix}{key}"),
                            String::from_utf8_lossy(&value.0).to_string(),
                        );
                    }
                }
                None if reference.optional.unwrap_or(false) => {}
                None => return Err(format!("secret {:?} not found", reference.name)),
            }
        }
    }
    for variable in container.env.iter().flatten() {
        let value = if let Some(value) = &variable.value {
            env.expand(value)
        } else if let Some(source) = &variable.value_from {
            if let Some(field) = &source.field_ref {
                let mut value =
                    field_ref_value(pod, &field.field_path, &context.config.node_ip.to_string())?;
                if field.field_path == "status.podIP" || field.field_path == "status.podIPs" {
                    value = pod_ip.to_string();
                }
                value
            } else if let Some(resource) = &source.resource_field_ref {
                let mut resource = resource.clone();
                if resource.container_name.as_deref().unwrap_or("").is_empty() {
                    resource.container_name = Some(container.name.clone());
                }
                resource_ref_value(context, pod, &resource)?
            } else if let Some(key) = &source.config_map_key_ref {
                let api: Api<ConfigMap> = Api::namespaced(context.client.clone(), &namespace);
                let object = api
                    .get_opt(&key.name)
                    .await
                    .map_err(|error| error.to_string())?;
                match object
                    .and_then(|object| object.data.and_then(|data| data.get(&key.key).cloned()))
                {
                    Some(value) => value,
                    None if key.optional.unwrap_or(false) => continue,
                    None => {
                        return Err(format!(
                            "couldn't find key {} in ConfigMap {}/{}",
                            key.key, namespace, key.name
                        ));
                    }
                }
            } else if let Some(key) = &source.secret_key_ref {
                let api: Api<Secret> = Api::namespaced(context.client.clone(), &namespace);
                let object = api
                    .get_opt(&key.name)
                    .await
                    .map_err(|error| error.to_string())?;
                match object
                    .and_then(|object| object.data.and_then(|data| data.get(&key.key).cloned()))
                {
                    Some(value) => String::from_utf8_lossy(&value.0).to_string(),
                    None if key.optional.unwrap_or(false) => continue,
                    None => {
                        return Err(format!(
                            "couldn't find key {} in Secret {}/{}",
                            key.key, namespace, key.name
                        ));
                    }
                }
            } else {
                String::new()
            }
        } else {
            String::new()
        };
        env.set(&variable.name, value);
    }
    Ok(env)
}

/// Docker-links-style variables for the services of the namespace (when service links are on) and
/// for the `kubernetes` service, as upstream builds them.
async fn service_env(
    context: &NodeContext,
    namespace: &str,
    service_links: bool,
    wait: bool,
) -> Vec<(String, String)> {
    let mut services: BTreeMap<String, Service> = BTreeMap::new();
    let (master, local) = context.services.for_namespace(namespace, wait).await;
    if let Some(master) = master {
        services.insert("kubernetes".to_string(), (*master).clone());
    }
    if service_links {
        for service in local {
            let name = service.metadata.name.clone().unwrap_or_default();
            if namespace == "default" || name != "kubernetes" {
                services.insert(name, (*service).clone());
            }
        }
    }
    let mut out = Vec::new();
    for (name, service) in services {
        let Some(spec) = service.spec else { continue };
        let Some(ip) = spec.cluster_ip.filter(|ip| !ip.is_empty() && ip != "None") else {
            continue;
        };
        let prefix = name.to_uppercase().replace('-', "_");
        let ports = spec.ports.unwrap_or_default();
        let Some(first) = ports.first() else { continue };
        out.push((format!("{prefix}_SERVICE_HOST"), ip.clone()));
        out.push((format!("{prefix}_SERVICE_PORT"), first.port.to_string()));
        for port in &ports {
            if let Some(port_name) = port.name.as_deref().filter(|name| !name.is_empty()) {
                out.push((
                    format!(
                        "{prefix}_SERVICE_PORT_{}",
                        port_name.to_uppercase().replace('-', "_")
                    ),
                    port.port.to_string(),
                ));
            }
        }
        let protocol = first.protocol.clone().unwrap_or_else(|| "TCP".to_string());
        out.push((
            format!("{prefix}_PORT"),
            format!("{}://{ip}:{}", protocol.to_lowercase(), first.port),
        ));
        for port in &ports {
            let protocol = port.protocol.clone().unwrap_or_else(|| "TCP".to_string());
            let base = format!("{prefix}_PORT_{}_{}", port.port, protocol.to_uppercase());
            out.push((
                base.clone(),
                format!("{}://{ip}:{}", protocol.to_lowercase(), port.port),
            ));
            out.push((format!("{base}_PROTO"), protocol.to_lowercase()));
            out.push((format!("{base}_PORT"), port.port.to_string()));
            out.push((format!("{base}_ADDR"), ip.clone()));
        }
    }
    out
}

/// The value of a downward API `fieldRef`.
pub fn field_ref_value(pod: &Pod, path: &str, host_ip: &str) -> Result<String, String> {
    let metadata = &pod.metadata;
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    let value = match path {
        "metadata.name" => metadata.name.clone().unwrap_or_default(),
        "metadata.namespace" => metadata.namespace.clone().unwrap_or_default(),
        "metadata.uid" => metadata.uid.clone().unwrap_or_default(),
        "metadata.labels" => format_map(metadata.labels.as_ref()),
        "metadata.annotations" => format_map(metadata.annotations.as_ref()),
        "spec.nodeName" => spec
            .and_then(|spec| spec.node_name.clone())
            .unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|spec| spec.service_account_name.clone())
            .unwrap_or_default(),
        "status.hostIP" | "status.hostIPs" => host_ip.to_string(),
        "status.podIP" | "status.podIPs" => status
            .and_then(|status| status.pod_ip.clone())
            .unwrap_or_default(),
        other => {
            if let Some(key) = subscript(other, "metadata.labels") {
                metadata
                    .labels
                    .as_ref()
                    .and_then(|labels| labels.get(key).cloned())
                    .unwrap_or_default()
            } else if let Some(key) = subscript(other, "metadata.annotations") {
                metadata
                    .annotations
                    .as_ref()
                    .and_then(|annotations| annotations.get(key).cloned())
                    .unwrap_or_default()
            } else {
                return Err(format!("unsupported fieldPath: {other}"));
            }
        }
    };
    Ok(value)
}

fn subscript<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    path.strip_prefix(prefix)?
        .strip_prefix("['")?
        .strip_suffix("']")
}

fn format_map(map: Option<&BTreeMap<String, String>>) -> String {
    map.map(|map| {
        map.iter()
            .map(|(key, value)| format!("{key}={}", serde_json::Value::String(value.clone())))
            .collect::<Vec<_>>()
            .join("\n")
    })
    .unwrap_or_default()
}

/// The value of a downward API `resourceFieldRef`: the container's request or limit divided by the
/// divisor and rounded up; limits default to the node's allocatable.
pub fn resource_ref_value(
    context: &NodeContext,
    pod: &Pod,
    selector: &ResourceFieldSelector,
) -> Result<String, String> {
    let container_name = selector.container_name.clone().unwrap_or_default();
    let container = pod
        .spec
        .as_ref()
        .and_then(|spec| {
            spec.containers
                .iter()
                .find(|container| container.name == container_name)
        })
        .ok_or_else(|| format!("container {container_name:?} not found in the pod"))?;
    let resources = container.resources.as_ref();
    let (kind, resource) = selector
        .resource
        .split_once('.')
        .ok_or_else(|| format!("unsupported container resource: {}", selector.resource))?;
    let from = match kind {
        "limits" => resources.and_then(|resources| resources.limits.as_ref()),
        "requests" => resources.and_then(|resources| resources.requests.as_ref()),
        _ => None,
    };
    let configured = from
        .and_then(|map| map.get(resource))
        .and_then(|quantity| Quantity::parse(&quantity.0));
    let divisor = selector
        .divisor
        .as_ref()
        .and_then(|quantity| Quantity::parse(&quantity.0));
    let node_value = |resource: &str| match resource {
        "cpu" => context.system.cpus as i128 * 1000,
        "memory" => context.system.memory_kib as i128 * 1024,
        "ephemeral-storage" => context.system.ephemeral_storage_kib as i128 * 1024,
        _ => 0,
    };
    let value = if resource == "cpu" {
        let millis = configured
            .map(|quantity| quantity.milli_value())
            .unwrap_or_else(|| {
                if kind == "limits" {
                    node_value("cpu")
                } else {
                    0
                }
            });
        let divisor = divisor
            .map(|quantity| quantity.milli_value())
            .filter(|value| *value > 0)
            .unwrap_or(1000);
        (millis + divisor - 1) / divisor
    } else {
        let value = configured
            .map(|quantity| quantity.value())
            .unwrap_or_else(|| {
                if kind == "limits" {
                    node_value(resource)
                } else {
                    0
                }
            });
        let divisor = divisor
            .map(|quantity| quantity.value())
            .filter(|value| *value > 0)
            .unwrap_or(1);
        (value + divisor - 1) / divisor
    };
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::Environment;

    #[test]
    fn expansion_follows_upstream() {
        let mut env = Environment::default();
        env.set("A", "x".into());
        assert_eq!(env.expand("$(A)-$(B)-$$(A)-$"), "x-$(B)-$(A)-$");
        assert_eq!(env.expand("$(A"), "$(A");
    }
}
