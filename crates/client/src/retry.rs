//! The API clients of the control-plane components (controllers, scheduler, kubelet), with kube-rs's
//! server-aware retries on 429, 503 and 504 (up to 15 tries, exponential backoff from 5 ms, or the
//! server's `Retry-After`) except where a 429 is itself the answer: an eviction that a
//! PodDisruptionBudget refuses (`pods/eviction` answers 429, and upstream's eviction callers such as
//! `kubectl drain` treat it as "try again later" themselves). Retrying those inside the client would
//! hold the caller for minutes before it sees the refusal, so they come back at once.

use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kube::client::{Body, ClientBuilder};
use tower::retry::{Policy, RetryLayer};
use tower::{BoxError, ServiceBuilder};

/// Requests buffered in front of the retry layer (as kube-rs buffers in front of its own stack).
const BUFFER: usize = 1024;

/// A client from `config` with [`RetryPolicy`] instead of kube-rs's default retries.
///
/// Must be called inside a Tokio runtime (the request buffer's worker is spawned on it).
pub fn client(mut config: kube::Config) -> Result<kube::Client, kube::Error> {
    config.default_retry = false;
    let builder = ClientBuilder::try_from(config)?;
    let layer = ServiceBuilder::new()
        .layer(RetryLayer::new(RetryPolicy::new()))
        .buffer(BUFFER)
        .into_inner();
    Ok(builder.with_layer(&layer).build())
}

/// kube-rs's server-aware retry policy, except that a 429 to an eviction is returned at once.
#[derive(Clone)]
pub struct RetryPolicy {
    inner: kube::client::retry::RetryPolicy,
}

impl RetryPolicy {
    /// The policy with kube-rs's controller parameters (`RetryPolicy::server_retry`).
    pub fn new() -> Self {
        RetryPolicy {
            inner: kube::client::retry::RetryPolicy::server_retry(),
        }
    }

    /// A policy with its own backoff (for tests).
    pub fn with_backoff(min: Duration, max: Duration, retries: u32) -> Option<Self> {
        kube::client::retry::RetryPolicy::new(min, max, retries, true)
            .ok()
            .map(|inner| RetryPolicy { inner })
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `request` creates a pod's eviction (`POST .../pods/<name>/eviction`).
pub fn is_eviction<B>(request: &Request<B>) -> bool {
    if request.method() != Method::POST {
        return false;
    }
    let mut segments = request.uri().path().rsplit('/');
    matches!(
        (segments.next(), segments.next(), segments.next()),
        (Some("eviction"), Some(name), Some("pods")) if !name.is_empty()
    )
}

impl<Res> Policy<Request<Body>, Response<Res>, BoxError> for RetryPolicy {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        request: &mut Request<Body>,
        result: &mut Result<Response<Res>, BoxError>,
    ) -> Option<Self::Future> {
        if let Ok(response) = result
            && response.status() == StatusCode::TOO_MANY_REQUESTS
            && is_eviction(request)
        {
            return None;
        }
        self.inner.retry(request, result)
    }

    fn clone_request(&mut self, request: &Request<Body>) -> Option<Request<Body>> {
        <kube::client::retry::RetryPolicy as Policy<Request<Body>, Response<Res>, BoxError>>::clone_request(
            &mut self.inner,
            request,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, path: &str) -> Request<Body> {
        Request::builder()
            .method(method)
            .uri(path)
            .body(Body::from(Vec::new()))
            .expect("request")
    }

    fn answer(status: StatusCode) -> Result<Response<()>, BoxError> {
        Ok(Response::builder()
            .status(status)
            .body(())
            .expect("response"))
    }

    #[test]
    fn evictions_are_recognised_by_their_path() {
        let eviction = "/api/v1/namespaces/default/pods/web-0/eviction";
        assert!(is_eviction(&request(Method::POST, eviction)));
        assert!(!is_eviction(&request(Method::GET, eviction)));
        assert!(!is_eviction(&request(
            Method::POST,
            "/api/v1/namespaces/default/pods"
        )));
        assert!(!is_eviction(&request(
            Method::POST,
            "/api/v1/namespaces/default/configmaps/eviction"
        )));
    }

    #[tokio::test]
    async fn a_refused_eviction_comes_back_at_once_and_the_rest_is_retried() {
        let mut policy =
            RetryPolicy::with_backoff(Duration::from_millis(1), Duration::from_millis(2), 3)
                .expect("policy");
        let mut eviction = request(
            Method::POST,
            "/api/v1/namespaces/default/pods/web-0/eviction",
        );
        let mut list = request(Method::GET, "/api/v1/namespaces/default/pods");
        let too_many = StatusCode::TOO_MANY_REQUESTS;
        assert!(policy.retry(&mut eviction, &mut answer(too_many)).is_none());
        assert!(policy.retry(&mut list, &mut answer(too_many)).is_some());
        assert!(
            policy
                .retry(&mut eviction, &mut answer(StatusCode::SERVICE_UNAVAILABLE))
                .is_some(),
            "an unavailable server is still retried"
        );
        assert!(
            policy
                .retry(&mut list, &mut answer(StatusCode::OK))
                .is_none()
        );
    }
}
