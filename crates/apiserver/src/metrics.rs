//! `/metrics` in Prometheus text format: requests by verb, resource and code with their latency, the
//! number of stored objects per resource (counted when scraped), and the store's own metrics.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kubers_core::registry::{self, RESOURCES};
use kubers_store::Store;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::App;
use crate::errors::ApiError;
use crate::rest;
use crate::rest::path::{self, ApiPath};

/// Labels of request metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `get`, `list`, `watch`, `create`, ... (`GET`-style method names for non-resource paths).
    pub verb: String,
    /// The resource (empty for non-resource paths).
    pub resource: String,
    /// The HTTP status code.
    pub code: String,
}

/// Labels of the stored-object gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResourceLabels {
    /// `pods`, `deployments.apps`, ...
    pub resource: String,
}

/// The API server's metrics and the registry they are exposed from.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RequestLabels, Histogram>,
    objects: Family<ResourceLabels, Gauge>,
}

impl Metrics {
    /// Request metrics plus the metrics of `store`.
    pub fn new(store: &dyn Store) -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let objects = Family::<ResourceLabels, Gauge>::default();
        registry.register(
            "apiserver_request",
            "Requests by verb, resource and code",
            requests.clone(),
        );
        registry.register_with_unit(
            "apiserver_request_duration",
            "Request latency by verb, resource and code",
            Unit::Seconds,
            durations.clone(),
        );
        registry.register(
            "apiserver_storage_objects",
            "Stored objects per resource",
            objects.clone(),
        );
        store.metrics().register(&mut registry);
        Metrics {
            registry,
            requests,
            durations,
            objects,
        }
    }
}

/// Records every request (a middleware).
pub async fn record(State(app): State<App>, request: Request, next: Next) -> Response {
    let (verb, resource) = classify(request.method(), request.uri());
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = RequestLabels {
        verb,
        resource,
        code: response.status().as_u16().to_string(),
    };
    app.metrics.requests.get_or_create(&labels).inc();
    app.metrics
        .durations
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`.
pub async fn scrape(State(app): State<App>) -> Response {
    if let Err(error) = count_objects(&app.metrics, app.store.as_ref()).await {
        return ApiError::unavailable(error).into_response();
    }
    let mut text = String::new();
    if let Err(error) = encode(&mut text, &app.metrics.registry) {
        return ApiError::internal(error).into_response();
    }
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

async fn count_objects(metrics: &Metrics, store: &dyn Store) -> kubers_store::Result<()> {
    for info in RESOURCES.iter().filter(|info| info.is_stored()) {
        let prefix = registry::storage_key(info, None, None);
        let count = store.count(&prefix).await?;
        metrics
            .objects
            .get_or_create(&ResourceLabels {
                resource: info.group_resource().to_string(),
            })
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }
    Ok(())
}

/// The verb and resource of a request, as upstream labels them.
fn classify(method: &Method, uri: &axum::http::Uri) -> (String, String) {
    let Some(ApiPath::Resource(target)) = path::parse(uri.path()) else {
        return (method.as_str().to_owned(), String::new());
    };
    let watch = uri.query().is_some_and(|query| {
        query
            .split('&')
            .any(|pair| pair == "watch=true" || pair == "watch=1")
    });
    let verb = rest::verb_name(method, target.name.is_some(), watch);
    let resource = match (&target.subresource, target.group.is_empty()) {
        (Some(sub), true) => format!("{}/{sub}", target.resource),
        (Some(sub), false) => format!("{}.{}/{sub}", target.resource, target.group),
        (None, true) => target.resource,
        (None, false) => format!("{}.{}", target.resource, target.group),
    };
    (verb, resource)
}

/// Shared handle used by [`App`].
pub type SharedMetrics = Arc<Metrics>;
