//! One function per endpoint over a small retrying `send`.
//!
//! Retry rules: reads (status polls, uploads, balance) retry connect errors,
//! timeouts, 429 and 5xx with exponential backoff and full jitter, honouring
//! `Retry-After` and the rate-limit reset header. Paid POSTs (train, generate)
//! retry only what provably never reached the service: connect errors and 429.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::RngExt;
use reqwest::{Method, RequestBuilder, Response, StatusCode, header};
use serde::de::DeserializeOwned;

use super::error::{ApiError, Reply};
use super::types::*;

/// The API key. Never printed: `Debug` hides it.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// How hard to try before giving up on a retryable failure.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 6,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(60),
        }
    }
}

/// Told about every retry, so a verbose caller can say what it waits for.
pub type RetryObserver = Arc<dyn Fn(&str) + Send + Sync>;

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    api_url: String,
    upload_url: String,
    key: ApiKey,
    retry: RetryPolicy,
    timeout: Duration,
    observer: Option<RetryObserver>,
}

/// How one request went.
enum Exchange {
    /// A 2xx and its whole body.
    Answer(String),
    /// A failure worth another try, and the wait the server asked for.
    Retry {
        error: String,
        hint: Option<Duration>,
    },
}

/// Whether a request spends money, which decides what may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cost {
    Free,
    Paid,
}

/// How long one API request may take, unless `with_timeout` says otherwise.
pub const API_TIMEOUT: Duration = Duration::from_secs(60);
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(300);

impl Client {
    pub fn new(http: reqwest::Client, api_url: &str, upload_url: &str, key: ApiKey) -> Self {
        Self {
            http,
            api_url: api_url.trim_end_matches('/').to_string(),
            upload_url: upload_url.trim_end_matches('/').to_string(),
            key,
            retry: RetryPolicy::default(),
            timeout: API_TIMEOUT,
            observer: None,
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_observer(mut self, observer: RetryObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Starts a training; returns the new model id.
    pub async fn train(&self, request: &TrainRequest) -> Result<String, ApiError> {
        let url = format!("{}/avatars/models", self.api_url);
        let accepted: Accepted = self
            .json(Cost::Paid, &url, || {
                self.request(Method::POST, &url).json(request)
            })
            .await?;
        accepted
            .model_id
            .ok_or_else(|| missing_field(&url, "model_id"))
    }

    pub async fn model(&self, model_id: &str) -> Result<ModelStatus, ApiError> {
        let url = format!("{}/avatars/models/{}", self.api_url, segment(model_id));
        self.json(Cost::Free, &url, || self.request(Method::GET, &url))
            .await
    }

    /// Starts a generation; returns the new inference id.
    pub async fn generate(
        &self,
        model_id: &str,
        request: &GenerateRequest,
    ) -> Result<String, ApiError> {
        let url = format!(
            "{}/avatars/models/{}/inferences",
            self.api_url,
            segment(model_id)
        );
        let accepted: Accepted = self
            .json(Cost::Paid, &url, || {
                self.request(Method::POST, &url).json(request)
            })
            .await?;
        accepted
            .inference_id
            .ok_or_else(|| missing_field(&url, "inference_id"))
    }

    pub async fn inference(
        &self,
        model_id: &str,
        inference_id: &str,
    ) -> Result<InferenceStatus, ApiError> {
        let url = format!(
            "{}/avatars/models/{}/inferences/{}",
            self.api_url,
            segment(model_id),
            segment(inference_id)
        );
        self.json(Cost::Free, &url, || self.request(Method::GET, &url))
            .await
    }

    pub async fn balance(&self) -> Result<Balance, ApiError> {
        let url = format!("{}/balance", self.api_url);
        self.json(Cost::Free, &url, || self.request(Method::GET, &url))
            .await
    }

    /// Uploads a local picture; returns its hosted URL. Spends nothing, so it
    /// is retried like a read.
    pub async fn upload(&self, file_name: &str, bytes: Vec<u8>) -> Result<UploadedImage, ApiError> {
        let url = format!("{}/upload", self.upload_url);
        let mime = if bytes.starts_with(b"\x89PNG") {
            "image/png"
        } else {
            "image/jpeg"
        };
        let response: UploadResponse = self
            .json(Cost::Free, &url, || {
                let part = reqwest::multipart::Part::bytes(bytes.clone())
                    .file_name(file_name.to_string())
                    .mime_str(mime)
                    .expect("static mime type parses");
                self.request(Method::POST, &url)
                    .timeout(UPLOAD_TIMEOUT)
                    .multipart(reqwest::multipart::Form::new().part("image", part))
            })
            .await?;
        Ok(response.data)
    }

    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.http
            .request(method, url)
            .timeout(self.timeout)
            .header(header::ACCEPT, "application/json")
            .header(API_KEY_HEADER, &self.key.0)
    }

    /// Sends, reads and decodes, retrying what may be retried. A free
    /// request retries a garbled or broken-off answer like any transient
    /// failure. For a paid one, an answer that breaks off or cannot be read
    /// means the job may exist without us knowing its id: `Unconfirmed`,
    /// never a reason to send it again.
    async fn json<T: DeserializeOwned>(
        &self,
        cost: Cost,
        url: &str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<T, ApiError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.attempts;
            let (error, hint) = match self.exchange(cost, url, &build, last).await? {
                Exchange::Answer(body) => match serde_json::from_str(&body) {
                    Ok(value) => return Ok(value),
                    Err(e) if cost == Cost::Paid => {
                        return Err(ApiError::Unconfirmed {
                            url: url.to_string(),
                            reason: format!(
                                "the answer could not be read ({e}): {}",
                                trimmed(&body)
                            ),
                        });
                    }
                    Err(e) => {
                        let error = ApiError::Decode {
                            url: url.to_string(),
                            reason: e.to_string(),
                            body: trimmed(&body),
                        };
                        if last {
                            return Err(error);
                        }
                        (error.to_string(), None)
                    }
                },
                Exchange::Retry { error, hint } => (error, hint),
            };
            let wait = hint
                .unwrap_or_else(|| self.backoff(attempt))
                .min(self.retry.cap);
            if let Some(observer) = &self.observer {
                observer(&format!(
                    "{error}; retrying {url} in {:.1}s (attempt {} of {})",
                    wait.as_secs_f64(),
                    attempt + 1,
                    self.retry.attempts
                ));
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// One request and its whole answer; says whether a failure may be retried.
    async fn exchange(
        &self,
        cost: Cost,
        url: &str,
        build: &impl Fn() -> RequestBuilder,
        last: bool,
    ) -> Result<Exchange, ApiError> {
        let network = |source: reqwest::Error| {
            let never_sent = source.is_connect();
            if cost == Cost::Paid && !never_sent {
                Err(ApiError::Unconfirmed {
                    url: url.to_string(),
                    reason: error_chain(&source),
                })
            } else if last {
                Err(ApiError::Network {
                    url: url.to_string(),
                    source,
                })
            } else {
                Ok(Exchange::Retry {
                    error: error_chain(&source),
                    hint: None,
                })
            }
        };
        let response = match build().send().await {
            Ok(response) => response,
            Err(source) => return network(source),
        };
        let status = response.status();
        if status.is_success() {
            return match response.text().await {
                Ok(body) => Ok(Exchange::Answer(body)),
                Err(source) => network(source),
            };
        }
        let hint = server_hint(&response);
        // A gateway's 500/502/504 may come after the service acted on a paid
        // request; a 503 or 429 is a refusal before it.
        let maybe_acted = cost == Cost::Paid
            && status.is_server_error()
            && status != StatusCode::SERVICE_UNAVAILABLE;
        let error = reply_error(response).await;
        if maybe_acted {
            return Err(ApiError::Unconfirmed {
                url: url.to_string(),
                reason: error.to_string(),
            });
        }
        let retryable = status == StatusCode::TOO_MANY_REQUESTS
            || (status.is_server_error() && cost == Cost::Free);
        if !retryable || last {
            return Err(error);
        }
        Ok(Exchange::Retry {
            error: error.to_string(),
            hint,
        })
    }

    /// Full jitter: a random wait up to an exponentially growing ceiling.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .retry
            .base
            .saturating_mul(2u32.saturating_pow(attempt - 1))
            .min(self.retry.cap);
        ceiling.mul_f64(rand::rng().random_range(0.0..=1.0))
    }
}

/// The wait a 429 or 503 asks for: `Retry-After` (seconds or HTTP date), else
/// the rate-limit reset header (seconds to wait, or a Unix time in s or ms).
fn server_hint(response: &Response) -> Option<Duration> {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(value) = header(header::RETRY_AFTER.as_str()) {
        if let Ok(secs) = value.parse::<f64>() {
            return Duration::try_from_secs_f64(secs).ok();
        }
        if let Ok(at) = httpdate::parse_http_date(value) {
            return Some(at.duration_since(SystemTime::now()).unwrap_or_default());
        }
    }
    let reset = header(RATE_LIMIT_RESET_HEADER)?.parse::<f64>().ok()?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let secs = match reset {
        r if r > 1e12 => r / 1000.0 - now,
        r if r > 1e9 => r - now,
        r => r,
    };
    Duration::try_from_secs_f64(secs.max(0.0)).ok()
}

async fn reply_error(response: Response) -> ApiError {
    let status = response.status();
    let correlation_id = response
        .headers()
        .get(CORRELATION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<ErrorBody>(&body)
        .ok()
        .and_then(|b| b.best_text())
        .or_else(|| Some(trimmed(&body)).filter(|b| !b.is_empty()))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string());
    let reply = Reply {
        status: status.as_u16(),
        message,
        correlation_id,
    };
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ApiError::Unauthorized(reply),
        StatusCode::PAYMENT_REQUIRED => ApiError::PaymentRequired(reply),
        StatusCode::NOT_FOUND => ApiError::NotFound(reply),
        s if s.is_client_error() => ApiError::Rejected(reply),
        _ => ApiError::Server(reply),
    }
}

/// A paid request accepted without the id we need: the job may exist.
fn missing_field(url: &str, field: &str) -> ApiError {
    ApiError::Unconfirmed {
        url: url.to_string(),
        reason: format!("the answer has no `{field}`"),
    }
}

/// reqwest's message and its causes ("operation timed out", "connection reset").
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}

/// Ids come from the user's command line: keep them to one path segment.
fn segment(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn trimmed(body: &str) -> String {
    let body = body.trim();
    match body.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &body[..i]),
        None => body.to_string(),
    }
}
