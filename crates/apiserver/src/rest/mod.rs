//! The generic REST store: one implementation of get, list, watch, create, update and delete for every
//! resource, keyed like upstream (`/registry/<resource>/<namespace>/<name>`).

mod allocator;

pub use allocator::reserve_ip;

mod binding;
mod cached;
mod create;
mod delete;
mod eviction;
mod fields;
mod filter;
mod get;
mod list;
mod list_body;
mod managed;
mod namespace_delete;
pub mod object;
mod patch;
pub mod path;
pub mod proxy;
mod query;
mod reviews;
mod scale;
mod stored_json;
mod tables;
mod token;
mod update;
mod watch;

use axum::body::Bytes;
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use kubers_core::registry::{self, ResourceInfo};
use serde_json::Value;

use self::path::{ApiPath, Target};
use self::query::Query;
use crate::App;
use crate::auth::UserInfo;
use crate::errors::ApiError;

/// One resource request, resolved against the registry.
pub struct ResourceRequest {
    /// The resource's registry entry.
    pub info: &'static ResourceInfo,
    /// What the URL names.
    pub target: Target,
    /// The parsed query string.
    pub query: Query,
    /// The request headers.
    pub headers: HeaderMap,
    /// Who sent the request.
    pub user: Arc<UserInfo>,
}

impl ResourceRequest {
    /// The store key of the named object, or the prefix of the collection.
    pub fn key(&self) -> String {
        registry::storage_key(
            self.info,
            self.target.namespace.as_deref(),
            self.target.name.as_deref(),
        )
    }

    /// The same request without paging (for reads that need the whole collection).
    pub fn unpaged(&self) -> ResourceRequest {
        ResourceRequest {
            info: self.info,
            target: self.target.clone(),
            query: Query {
                limit: 0,
                continue_token: None,
                ..self.query.clone()
            },
            headers: self.headers.clone(),
            user: Arc::clone(&self.user),
        }
    }

    /// The admission attributes of this request for `operation` on the object `name`.
    pub fn admission<'a>(
        &'a self,
        operation: crate::admission::Operation,
        name: &'a str,
    ) -> crate::admission::Attributes<'a> {
        crate::admission::Attributes {
            operation,
            info: self.info,
            subresource: self.target.subresource.as_deref(),
            namespace: self.target.namespace.as_deref(),
            name,
            user: &self.user,
            dry_run: self.query.dry_run,
        }
    }

    /// Whether the client asked for a server-side Table.
    pub fn wants_table(&self) -> bool {
        self.headers
            .get(header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("as=Table"))
    }
}

/// Serves every URL below `/api` and `/apis` that the router does not handle itself.
pub async fn handle(
    State(app): State<App>,
    user: Option<Extension<UserInfo>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let user = Arc::new(user.map(|Extension(user)| user).unwrap_or_default());
    match dispatch(&app, &method, &uri, headers, user, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn dispatch(
    app: &App,
    method: &Method,
    uri: &Uri,
    headers: HeaderMap,
    user: Arc<UserInfo>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(ApiPath::Resource(target)) = path::parse(uri.path()) else {
        return Err(ApiError::no_such_path());
    };
    let info = registry::find(&target.group, &target.version, &target.resource)
        .ok_or_else(ApiError::no_such_path)?;
    if target.namespace.is_some() && !info.namespaced {
        return Err(ApiError::no_such_path());
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .unwrap_or("");
    if !kubers_core::media::accepts_resource_media(accept) {
        // No protobuf encoder for objects: a client that takes nothing else gets upstream's 406.
        let message = kubers_core::media::not_acceptable_message();
        return Err(ApiError::status(406, "NotAcceptable", message));
    }
    let query = Query::parse(uri.query().unwrap_or(""))?;
    let request = ResourceRequest {
        info,
        target,
        query,
        headers,
        user,
    };
    let subresource = request.target.subresource.as_deref();
    match (method, request.target.name.is_some(), subresource) {
        (&Method::GET, true, None | Some("status")) => get::get(app, &request).await,
        (&Method::GET, true, Some("scale")) if has_scale(&request) => {
            scale::get(app, &request).await
        }
        (&Method::PUT, true, Some("scale")) if has_scale(&request) => {
            scale::change(app, &request, &body, false).await
        }
        (&Method::PATCH, true, Some("scale")) if has_scale(&request) => {
            scale::change(app, &request, &body, true).await
        }
        (&Method::GET, false, None) if request.query.watch => watch::watch(app, &request).await,
        (&Method::GET, false, None) => list::list(app, &request).await,
        (&Method::POST, false, None) if reviews::is_review(request.info) => {
            reviews::create(app, &request, &body).await
        }
        (&Method::POST, false, None) => create::create(app, &request, &body).await,
        (&Method::POST, true, Some("token"))
            if request.info.group.is_empty() && request.info.resource == "serviceaccounts" =>
        {
            token::create(app, &request, &body).await
        }
        (&Method::POST, true, Some("binding"))
            if request.info.group.is_empty() && request.info.resource == "pods" =>
        {
            binding::bind(app, &request, &body).await
        }
        (&Method::POST, true, Some("eviction"))
            if request.info.group.is_empty() && request.info.resource == "pods" =>
        {
            eviction::evict(app, &request, &body).await
        }
        (&Method::PUT, true, Some("finalize"))
            if request.info.group.is_empty() && request.info.resource == "namespaces" =>
        {
            namespace_delete::finalize(app, &request, &body).await
        }
        (&Method::PUT, true, None | Some("status")) => update::update(app, &request, &body).await,
        (&Method::PATCH, true, None | Some("status")) => patch::patch(app, &request, &body).await,
        (&Method::DELETE, true, None) => delete::delete(app, &request, &body).await,
        (&Method::DELETE, false, None)
            if request.target.namespace.is_some() || !request.info.namespaced =>
        {
            delete::delete_collection(app, &request, &body).await
        }
        _ => Err(ApiError::method_not_supported(
            request.info.group_resource(),
            &verb_name(method, request.target.name.is_some(), request.query.watch),
        )),
    }
}

fn has_scale(request: &ResourceRequest) -> bool {
    request.info.subresource("scale").is_some()
}

/// The Kubernetes verb of a request (`get`, `list`, `watch`, `create`, ...).
pub fn verb_name(method: &Method, named: bool, watch: bool) -> String {
    match (method.as_str(), named) {
        ("GET", true) => "get",
        ("GET", false) if watch => "watch",
        ("GET", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        (other, _) => return other.to_lowercase(),
    }
    .to_owned()
}

/// The media type of the request body (`Content-Type` without parameters); empty when absent.
pub fn media_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
}

/// Decodes a request body as JSON (or YAML, which JSON is a subset of).
pub fn decode_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let media = media_type(headers);
    let mut value: Value = match media {
        "" | "application/json" | "*/*" => serde_json::from_slice(body).map_err(|error| {
            ApiError::bad_request(format!("invalid JSON in the request body: {error}"))
        })?,
        "application/yaml" | "application/apply-patch+yaml" => serde_yaml::from_slice(body)
            .map_err(|error| {
                ApiError::bad_request(format!("invalid YAML in the request body: {error}"))
            })?,
        "application/vnd.kubernetes.protobuf" => {
            kubers_core::protobuf::decode_body(body).map_err(|error| match error {
                kubers_core::protobuf::Error::UnsupportedKind { .. }
                | kubers_core::protobuf::Error::UnknownField { .. } => {
                    ApiError::status(415, "UnsupportedMediaType", error.to_string())
                }
                other => ApiError::bad_request(other.to_string()),
            })?
        }
        _ => return Err(ApiError::unsupported_media_type()),
    };
    object::ensure_metadata(&mut value).map_err(ApiError::bad_request)?;
    Ok(value)
}

/// Maps a store error to the response upstream gives for it.
pub fn store_error(request: &ResourceRequest, error: kubers_store::Error) -> ApiError {
    use kubers_store::Error;
    let name = request.target.name.as_deref().unwrap_or("");
    match error {
        Error::NotFound { .. } => ApiError::not_found(request.info.group_resource(), name),
        Error::AlreadyExists { .. } => {
            ApiError::already_exists(request.info.group_resource(), name)
        }
        Error::Conflict { .. } => ApiError::conflict(request.info.group_resource(), name),
        Error::Compacted { requested } => ApiError::expired(format!(
            "The resourceVersion for the provided list is too old: {requested}"
        )),
        Error::FutureRevision { requested, .. } => ApiError::status(
            504,
            "Timeout",
            format!("Too large resource version: {requested}"),
        ),
        Error::TooLarge { size, limit, .. } => ApiError::too_large(format!(
            "the object is {size} bytes, over the limit of {limit} bytes"
        )),
        Error::InvalidKey { key, reason } => {
            ApiError::bad_request(format!("invalid object name ({key}: {reason})"))
        }
        Error::Unavailable { .. } | Error::Closed => ApiError::unavailable(error),
        other => ApiError::internal(other),
    }
}

/// A JSON response with `code`.
pub fn json_response(code: u16, body: &Value) -> Response {
    let code = axum::http::StatusCode::from_u16(code).unwrap_or(axum::http::StatusCode::OK);
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
