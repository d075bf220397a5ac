//! A local fake of the Picsart avatar API, served over real HTTP on 127.0.0.1,
//! so the real client can be run and tested without network or cost.
//!
//! Jobs persist in a directory (`jobs.json`, fetched photos, rendered results)
//! and their progress is a pure function of the wall clock, accelerated by
//! `speed`: a training started by one `avatar` process is seen progressing by
//! the next, exactly as with the real service. See
//! `shared/api/picsart-avatars.md` for the contract it imitates.

mod error;
mod faults;
mod files;
mod knobs;
mod render;
mod requests;
mod routes;
mod sources;
mod store;
#[cfg(test)]
mod tests;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::api::types::{API_KEY_HEADER, CORRELATION_HEADER, JobStatus};
use error::ApiError;
pub use knobs::{Fault, parse_inference_outcome, parse_random, parse_training_outcome};
pub use requests::LOG_FILE as REQUEST_LOG;
use sources::Fetcher;
use store::Store;

/// Time runs this many times faster than in the real service: a 20-minute
/// training takes about 15 s.
pub const DEFAULT_SPEED: f64 = 80.0;

/// The documented upload limit; multipart framing gets a little room on top.
const MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024;
const MULTIPART_SLACK_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct Config {
    /// Where jobs, photos and results persist between invocations.
    pub dir: PathBuf,
    /// Acceleration of simulated time; must be positive.
    pub speed: f64,
    /// `None`: unlimited. At zero or below, paid POSTs answer 402.
    pub credits: Option<f64>,
    pub faults: Faults,
}

/// Misbehaviour on demand, so clients can be tested against a bad day. The
/// default is a sandbox that behaves. Every request the sandbox receives is
/// also logged to `requests.jsonl` in its directory, whatever the knobs.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Added before every response, like a distant server.
    pub latency: Duration,
    /// The first download of each result stops halfway, connection cut.
    pub cut_downloads: bool,
    /// Each request to the API, upload and file routes (never an unknown URL)
    /// suffers at most one of these faults, with the given probabilities; they
    /// add up to 1 at most. Read from `429:0.1,reset:0.05` by [`parse_random`].
    pub random: Vec<(Fault, f64)>,
    /// Seeds the draws of `random`: the same seed gives the same faults to the
    /// same sequence of requests.
    pub seed: u64,
    /// How long a [`Fault::Stall`] holds its answer back; zero means 30 s.
    pub stall: Duration,
    /// Every new training ends with this status instead of `DONE`, when `DONE`
    /// would come: `FAILED` or `IMAGE_NOT_VALID`. Kept in the job, so it holds
    /// in later processes too.
    pub training_outcome: Option<JobStatus>,
    /// Every new inference ends with this status (`FAILED`) instead of `DONE`.
    pub inference_outcome: Option<JobStatus>,
    /// Statuses go out in the 2026 vocabulary: `processing` (for `ACCEPTED`
    /// and `IN_PROGRESS`), `success`, `error`; `IMAGE_NOT_VALID` unchanged.
    pub vocabulary_2026: bool,
    /// Result files answer 404 at once, as from a CDN that expired them early,
    /// while the inference status still lists them.
    pub results_gone: bool,
}

/// A running sandbox server. Dropping it shuts the server down gracefully.
#[derive(Debug)]
pub struct Sandbox {
    addr: SocketAddr,
    // Never sent: dropping it is the shutdown signal.
    _shutdown: oneshot::Sender<()>,
}

impl Sandbox {
    /// Binds 127.0.0.1:`port` (0 = a free port), spawns the server on the
    /// current tokio runtime and returns at once.
    pub async fn start(config: Config, port: u16) -> io::Result<Sandbox> {
        if !(config.speed.is_finite() && config.speed > 0.0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "sandbox speed must be a positive number, not {}",
                    config.speed
                ),
            ));
        }
        config
            .faults
            .check()
            .map_err(|why| io::Error::new(io::ErrorKind::InvalidInput, why))?;
        tokio::fs::create_dir_all(&config.dir).await?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let addr = listener.local_addr()?;
        let app = Arc::new(Shared {
            store: Store::new(config.dir),
            speed: config.speed,
            credits: config.credits,
            rng: Mutex::new(StdRng::seed_from_u64(config.faults.seed)),
            faults: config.faults,
            fetcher: Fetcher::new().map_err(io::Error::other)?,
            addr,
        });
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = axum::serve(listener, router(app)).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        // Accept errors are retried inside axum; nothing useful reaches here.
        tokio::spawn(async move { server.await });
        Ok(Sandbox {
            addr,
            _shutdown: shutdown,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The avatar API base, in place of `https://genai-avatars-api.picsart.io/v1`.
    pub fn api_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The upload API base, in place of `https://api.picsart.io/tools/1.0`.
    pub fn upload_url(&self) -> String {
        format!("http://{}/tools/1.0", self.addr)
    }
}

/// What every request handler shares.
struct Shared {
    store: Store,
    speed: f64,
    credits: Option<f64>,
    faults: Faults,
    /// Draws the random faults, one draw per request.
    rng: Mutex<StdRng>,
    fetcher: Fetcher,
    addr: SocketAddr,
}

type App = Arc<Shared>;

impl Shared {
    /// Paid POSTs are refused before anything else when the balance is spent.
    fn require_credits(&self) -> Result<(), ApiError> {
        match self.credits {
            Some(credits) if credits <= 0.0 => Err(ApiError::new(
                StatusCode::PAYMENT_REQUIRED,
                "not enough credits for this request: top up your Picsart balance \
                 (in the sandbox, raise AVATAR_SANDBOX_CREDITS)",
            )),
            _ => Ok(()),
        }
    }

    /// The base of the URLs handed out, from the request's `Host`, so they stay
    /// right when a later process serves the same directory on another port.
    fn base_url(&self, headers: &HeaderMap) -> String {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        match host {
            Some(host) => format!("http://{host}"),
            None => format!("http://{}", self.addr),
        }
    }
}

fn router(app: App) -> Router {
    let api = Router::new()
        .route("/avatars/models", post(routes::train))
        .route("/avatars/models/{model_id}", get(routes::model_status))
        .route(
            "/avatars/models/{model_id}/inferences",
            post(routes::generate),
        )
        .route(
            "/avatars/models/{model_id}/inferences/{inference_id}",
            get(routes::inference_status),
        )
        .route("/avatars/instant", post(routes::instant))
        .route(
            "/avatars/instant/{inference_id}",
            get(routes::instant_status),
        )
        .route("/balance", get(routes::balance))
        .route_layer(middleware::from_fn(require_key));
    let tools = Router::new()
        .route("/upload", post(files::upload))
        .layer(DefaultBodyLimit::max(
            MAX_UPLOAD_BYTES + MULTIPART_SLACK_BYTES,
        ))
        .route_layer(middleware::from_fn(require_key));
    // Result and upload URLs are public, like the real CDN's: no key.
    Router::new()
        .nest("/v1", api)
        .nest("/tools/1.0", tools)
        .route("/files/uploads/{name}", get(files::serve_upload))
        .route(
            "/files/results/{inference_id}/{file}",
            get(files::serve_result),
        )
        // Faults hit what a client calls; an unknown URL stays a plain 404.
        .route_layer(middleware::from_fn_with_state(app.clone(), faults::inject))
        .fallback(|| async { ApiError::not_found("no such endpoint in the avatar API sandbox") })
        .layer(middleware::map_response(add_correlation_id))
        .layer(middleware::from_fn_with_state(app.clone(), delay))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            requests::record,
        ))
        .with_state(app)
}

/// Any non-empty key is accepted: the sandbox only checks that the client sends one.
async fn require_key(request: Request, next: Next) -> Response {
    let has_key = request
        .headers()
        .get(API_KEY_HEADER)
        .is_some_and(|key| !key.as_bytes().trim_ascii().is_empty());
    if !has_key {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!("Missing or invalid {API_KEY_HEADER} header"),
        )
        .into_response();
    }
    next.run(request).await
}

async fn delay(State(app): State<App>, request: Request, next: Next) -> Response {
    if !app.faults.latency.is_zero() {
        tokio::time::sleep(app.faults.latency).await;
    }
    next.run(request).await
}

async fn add_correlation_id(mut response: Response) -> Response {
    // A `missing` fault sends the answer without one.
    if response
        .extensions()
        .get::<faults::Uncorrelated>()
        .is_some()
    {
        return response;
    }
    let id = HeaderValue::from_str(&store::new_id()).expect("hex digits are a valid header value");
    response.headers_mut().insert(CORRELATION_HEADER, id);
    response
}

/// Runs file and image work off the async runtime: it may wait for another
/// process's lock on the store, or decode and resize photos.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)?
}
