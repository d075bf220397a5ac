//! The faults the sandbox injects on demand (see [`Faults`](super::Faults)), so
//! the client can be tested against a bad day.
//!
//! Everything that changes what goes over the wire lives in one middleware,
//! [`inject`], on the API, upload and file routes: the handlers stay a faithful
//! copy of the service, and this layer decides what the client receives.

use std::io;
use std::sync::PoisonError;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use rand::RngExt;
use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::{App, Fault, Shared};
use crate::api::types::{JobStatus, RATE_LIMIT_RESET_HEADER};

/// Bytes of the body a [`Fault::Reset`] lets through before the cut.
const RESET_KEEP: usize = 8;

/// What a `Fault::Malformed` answer says: JSON cut off mid-string.
const MALFORMED_BODY: &str = r#"{"status": "DO"#;

/// Marks an answer that must go out without a correlation id.
#[derive(Debug, Clone, Copy)]
pub struct Uncorrelated;

/// The middleware: draws this request's fault, refuses it or runs the handler,
/// then spoils or rewrites the answer as the knobs say.
/// Marks the sandbox's own fetches of photo URLs, which faults spare.
pub const INTERNAL_HEADER: &str = "x-avatar-sandbox-internal";

pub async fn inject(State(app): State<App>, request: Request, next: Next) -> Response {
    // The service fetching its own CDN is not the client's bad day.
    if request.headers().contains_key(INTERNAL_HEADER) {
        return next.run(request).await;
    }
    let fault = draw(&app);
    if let Some(refusal) = fault.and_then(refusal) {
        return refusal;
    }
    if app.faults.results_gone && request.uri().path().starts_with("/files/results/") {
        return (StatusCode::NOT_FOUND, Json(json!({"detail": "not found"}))).into_response();
    }
    let edit = Edit {
        vocabulary_2026: app.faults.vocabulary_2026,
        extra: fault == Some(Fault::Extra),
        missing: fault == Some(Fault::Missing),
        read: request.method() == Method::GET,
    };
    let response = next.run(request).await;
    let mut response = match fault {
        Some(Fault::Malformed) => return replaced(MALFORMED_BODY),
        Some(Fault::Empty) => return replaced(""),
        _ if edit.is_needed() && is_json(&response) => edit_json(response, edit).await,
        _ => response,
    };
    match fault {
        Some(Fault::Reset) => cut_short(response, RESET_KEEP).await,
        Some(Fault::Stall) => {
            tokio::time::sleep(app.faults.stall_time()).await;
            response
        }
        Some(Fault::Missing) => {
            response.extensions_mut().insert(Uncorrelated);
            response
        }
        _ => response,
    }
}

/// The answer given instead of running the handler, for the faults that
/// refuse a request outright.
fn refusal(fault: Fault) -> Option<Response> {
    let refused = |status: StatusCode, detail: &str| {
        ApiError::new(status, format!("sandbox fault `{fault}`: {detail}"))
    };
    let limited = |detail| refused(StatusCode::TOO_MANY_REQUESTS, detail);
    let response = match fault {
        Fault::RateLimited => (
            [(header::RETRY_AFTER, "1".to_string())],
            limited("rate limit exceeded, retry after 1 s"),
        )
            .into_response(),
        Fault::RateLimitedDate => (
            [(header::RETRY_AFTER, retry_date())],
            limited("rate limit exceeded, retry after the date given"),
        )
            .into_response(),
        Fault::RateLimitedReset => (
            [(RATE_LIMIT_RESET_HEADER, "1")],
            limited("rate limit exceeded, quota resets in 1 s"),
        )
            .into_response(),
        Fault::RateLimitedBare => {
            let body = json!({"fault": {
                "faultstring": "Rate limit quota violation",
                "detail": {"errorcode": "policies.ratelimit.QuotaViolation"},
            }});
            (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response()
        }
        Fault::ServerError => {
            refused(StatusCode::INTERNAL_SERVER_ERROR, "server error").into_response()
        }
        Fault::BadGateway => refused(StatusCode::BAD_GATEWAY, "bad gateway").into_response(),
        Fault::Unavailable => {
            refused(StatusCode::SERVICE_UNAVAILABLE, "service unavailable").into_response()
        }
        Fault::Reset
        | Fault::Stall
        | Fault::Malformed
        | Fault::Empty
        | Fault::Extra
        | Fault::Missing => return None,
    };
    Some(response)
}

/// One draw per request, whether or not a fault follows, so that a seed gives
/// the same faults to the same sequence of requests.
fn draw(app: &Shared) -> Option<Fault> {
    let random = &app.faults.random;
    if random.is_empty() {
        return None;
    }
    // A panic elsewhere cannot leave the generator in a state worth refusing.
    let roll: f64 = app
        .rng
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .random();
    let mut bound = 0.0;
    random
        .iter()
        .find(|(_, p)| {
            bound += p;
            roll < bound
        })
        .map(|(fault, _)| *fault)
}

/// `Retry-After` as an HTTP date. The format has whole seconds only: rounding
/// up keeps the wait it asks for above zero.
fn retry_date() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(now.as_secs() + 2))
}

/// A `200` whose body is not what the client expects.
fn replaced(body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// The changes made to a JSON object answer.
#[derive(Debug, Clone, Copy)]
struct Edit {
    vocabulary_2026: bool,
    extra: bool,
    missing: bool,
    /// A status read, whose `model_id` the client already knows.
    read: bool,
}

impl Edit {
    fn is_needed(self) -> bool {
        self.vocabulary_2026 || self.extra || self.missing
    }

    fn apply(self, object: &mut Map<String, Value>) {
        if self.vocabulary_2026
            && let Some(Value::String(status)) = object.get_mut("status")
        {
            *status = word_2026(&JobStatus::parse(status)).to_string();
        }
        if self.missing && self.read {
            object.remove("progress");
            object.remove("model_id");
        }
        if self.extra {
            object.insert(
                "_sandbox".into(),
                json!({"note": "fields a client does not know must be ignored"}),
            );
            object.insert("eta".into(), json!(12));
        }
        let items = object.get_mut("data").and_then(Value::as_array_mut);
        for item in items.into_iter().flatten().filter_map(Value::as_object_mut) {
            if self.missing {
                item.remove("id");
                item.remove("style");
            }
            if self.extra {
                item.insert("nsfw".into(), json!(false));
            }
        }
    }
}

/// The 2026 vocabulary: `processing`, `success`, `error`; `IMAGE_NOT_VALID`
/// kept as it is.
fn word_2026(status: &JobStatus) -> &str {
    match status {
        JobStatus::Accepted | JobStatus::InProgress => "processing",
        JobStatus::Done => "success",
        JobStatus::Failed => "error",
        other => other.as_str(),
    }
}

async fn edit_json(response: Response, edit: Edit) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let Ok(Value::Object(mut object)) = serde_json::from_slice(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    edit.apply(&mut object);
    parts.headers.remove(header::CONTENT_LENGTH);
    let edited = serde_json::to_vec(&object).expect("a JSON map serialises");
    Response::from_parts(parts, Body::from(edited))
}

/// Announces the whole body of `response`, sends at most `keep` bytes of it
/// (and never more than half), then drops the connection: the client sees an
/// answer that breaks off mid-body.
pub async fn cut_short(response: Response, keep: usize) -> Response {
    let (mut parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    let sent = body.slice(..keep.min(body.len() / 2));
    // The pause lets the first bytes leave before the connection drops.
    let cut = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "cut by the sandbox",
        ))
    };
    let chunks = futures_util::stream::iter([Ok::<_, io::Error>(sent)])
        .chain(futures_util::stream::once(cut));
    Response::from_parts(parts, Body::from_stream(chunks))
}
