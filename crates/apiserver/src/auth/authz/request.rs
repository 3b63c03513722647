//! The authorization attributes of an HTTP request, as upstream's `RequestInfoFactory` derives them:
//! resource URLs give verb, namespace, group, version, resource, subresource and name; every other
//! path (discovery, `/metrics`, `/openapi/v3`) is a non-resource request whose verb is the lowercase
//! HTTP method.

use axum::http::Method;

use super::Attributes;
use crate::auth::UserInfo;
use crate::rest::path::{self, ApiPath};

/// The attributes of `method` on `path` with the query string `query`, for `user`.
pub fn attributes(user: &UserInfo, method: &Method, path: &str, query: &str) -> Attributes {
    let mut attributes = Attributes {
        user: user.clone(),
        path: path.to_owned(),
        ..Attributes::default()
    };
    let Some(ApiPath::Resource(target)) = path::parse(path) else {
        attributes.verb = method.as_str().to_ascii_lowercase();
        return attributes;
    };
    attributes.resource_request = true;
    attributes.api_group = target.group;
    attributes.api_version = target.version;
    attributes.resource = target.resource;
    attributes.subresource = target.subresource.unwrap_or_default();
    attributes.name = target.name.unwrap_or_default();
    attributes.namespace = match target.namespace {
        Some(namespace) => namespace,
        // `/api/v1/namespaces/<name>` is in the namespace it names.
        None if attributes.api_group.is_empty() && attributes.resource == "namespaces" => {
            attributes.name.clone()
        }
        None => String::new(),
    };
    let verb = match *method {
        Method::GET | Method::HEAD => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "",
    };
    attributes.verb = verb.to_owned();
    let (watch, field_name) = list_options(query);
    if attributes.name.is_empty() && verb == "get" {
        attributes.verb = if watch { "watch" } else { "list" }.to_owned();
        if let Some(name) = field_name {
            attributes.name = name;
        }
    }
    if attributes.name.is_empty() && verb == "delete" {
        attributes.verb = "deletecollection".to_owned();
    }
    attributes
}

/// The second question upstream asks for a `GET` of `pods/exec`, `pods/attach` or
/// `pods/portforward` (the WebSocket upgrade): whether the user may also `create` it, as a `POST`
/// (SPDY) needs (`AuthorizePodWebsocketUpgradeCreatePermission`).
pub fn websocket_upgrade_create(attributes: &Attributes) -> Option<Attributes> {
    let streamed = attributes.resource_request
        && attributes.verb == "get"
        && attributes.api_group.is_empty()
        && attributes.resource == "pods"
        && matches!(
            attributes.subresource.as_str(),
            "exec" | "attach" | "portforward"
        );
    streamed.then(|| Attributes {
        verb: "create".to_owned(),
        ..attributes.clone()
    })
}

/// `watch` and the name an exact `metadata.name` field selector asks for.
fn list_options(query: &str) -> (bool, Option<String>) {
    let mut watch = false;
    let mut name = None;
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = decode(value);
        match decode(key).as_str() {
            "watch" => watch = matches!(value.as_str(), "true" | "1"),
            "fieldSelector" => {
                name = value.split(',').find_map(|term| {
                    // `metadata.name=x` or `metadata.name==x`; `!=` leaves `metadata.name!`.
                    let (field, wanted) = term.split_once("==").or_else(|| term.split_once('='))?;
                    let wanted = wanted.trim();
                    (field.trim() == "metadata.name" && !wanted.is_empty() && !wanted.contains('/'))
                        .then(|| wanted.to_owned())
                });
            }
            _ => {}
        }
    }
    (watch, name)
}

/// Percent-decoding of a query component (`+` is a space).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' if index + 2 < bytes.len() => {
                let hex = |byte: u8| char::from(byte).to_digit(16);
                match (hex(bytes[index + 1]), hex(bytes[index + 2])) {
                    (Some(high), Some(low)) => {
                        out.push((high * 16 + low) as u8);
                        index += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(method: Method, path: &str, query: &str, expected: &str) {
        let a = attributes(&UserInfo::default(), &method, path, query);
        let shown = if a.resource_request {
            format!(
                "{} ns={} group={} resource={} sub={} name={}",
                a.verb, a.namespace, a.api_group, a.resource, a.subresource, a.name
            )
        } else {
            format!("{} path={}", a.verb, a.path)
        };
        assert_eq!(shown, expected, "{method} {path}?{query}");
    }

    #[test]
    fn websocket_upgrades_also_need_create() {
        let user = UserInfo::default();
        let exec = attributes(
            &user,
            &Method::GET,
            "/api/v1/namespaces/default/pods/web/exec",
            "command=ls",
        );
        let create = websocket_upgrade_create(&exec).expect("a second question");
        assert_eq!(
            (create.verb.as_str(), create.subresource.as_str()),
            ("create", "exec")
        );
        let log = attributes(
            &user,
            &Method::GET,
            "/api/v1/namespaces/default/pods/web/log",
            "",
        );
        assert!(websocket_upgrade_create(&log).is_none());
        let post = attributes(
            &user,
            &Method::POST,
            "/api/v1/namespaces/default/pods/web/exec",
            "",
        );
        assert!(websocket_upgrade_create(&post).is_none());
    }

    #[test]
    fn resource_requests() {
        check(
            Method::GET,
            "/api/v1/namespaces/default/pods",
            "",
            "list ns=default group= resource=pods sub= name=",
        );
        check(
            Method::GET,
            "/api/v1/pods",
            "watch=1",
            "watch ns= group= resource=pods sub= name=",
        );
        check(
            Method::GET,
            "/api/v1/namespaces/default/pods",
            "fieldSelector=metadata.name%3Dweb&watch=true",
            "watch ns=default group= resource=pods sub= name=web",
        );
        check(
            Method::GET,
            "/api/v1/namespaces/default/pods/web/log",
            "",
            "get ns=default group= resource=pods sub=log name=web",
        );
        check(
            Method::POST,
            "/apis/apps/v1/namespaces/prod/deployments",
            "",
            "create ns=prod group=apps resource=deployments sub= name=",
        );
        check(
            Method::DELETE,
            "/api/v1/namespaces/default/configmaps",
            "",
            "deletecollection ns=default group= resource=configmaps sub= name=",
        );
        check(
            Method::PATCH,
            "/apis/apps/v1/namespaces/a/deployments/d/scale",
            "",
            "patch ns=a group=apps resource=deployments sub=scale name=d",
        );
        check(
            Method::GET,
            "/api/v1/namespaces/kube-system",
            "",
            "get ns=kube-system group= resource=namespaces sub= name=kube-system",
        );
        check(
            Method::PUT,
            "/api/v1/namespaces/x/finalize",
            "",
            "update ns=x group= resource=namespaces sub=finalize name=x",
        );
    }

    #[test]
    fn non_resource_requests() {
        check(Method::GET, "/api", "", "get path=/api");
        check(Method::GET, "/apis/apps/v1", "", "get path=/apis/apps/v1");
        check(Method::GET, "/metrics", "", "get path=/metrics");
        check(Method::POST, "/openapi/v3", "", "post path=/openapi/v3");
    }

    #[test]
    fn decoding() {
        assert_eq!(decode("a%3Db+c%2"), "a=b c%2");
    }
}
