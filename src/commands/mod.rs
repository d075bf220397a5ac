//! One module per subcommand; they orchestrate the API client, the state file,
//! waiting and downloads. `Context` is what every command gets.

mod auth;
mod check;
mod fetch;
mod generate;
mod jobs;
mod paid;
mod run;
mod sandbox;
mod status;
mod train;
mod upload;

use std::time::Duration;

use anyhow::Result;
use tokio::sync::OnceCell;

use crate::api::{ApiKey, Client};
use crate::cli::Command;
use crate::exit::Failure;
use crate::poll::Cadence;
use crate::printer::Printer;
use crate::sandbox::Sandbox;
use crate::settings::{Endpoint, Settings};
use crate::state::{FindError, Job, State, StateFile};

pub async fn dispatch(command: Command, settings: Settings, printer: Printer) -> Result<()> {
    let ctx = Context::new(settings, printer);
    if !matches!(command, Command::Sandbox(_) | Command::Auth(_)) {
        warn_of_expiry(&ctx);
    }
    match command {
        Command::Train(args) => train::train(&ctx, args).await,
        Command::Check(args) => check::check(&ctx, args).await,
        Command::Status(args) => status::status(&ctx, args).await,
        Command::Generate(args) => generate::generate(&ctx, args).await,
        Command::Fetch(args) => fetch::fetch(&ctx, args).await,
        Command::Run(args) => run::run(&ctx, args).await,
        Command::Sandbox(command) => sandbox::sandbox(&ctx, command).await,
        Command::Auth(command) => auth::auth(&ctx, command).await,
    }
}

pub struct Context {
    pub printer: Printer,
    pub state: StateFile,
    settings: Settings,
    api: OnceCell<Api>,
}

/// A connection to the API, made on first use so that local-only commands
/// need no key and start no sandbox.
pub struct Api {
    pub client: Client,
    /// For result hosts: carries no API key.
    pub downloads: reqwest::Client,
    /// Plain-http result URLs are accepted only from a loopback API (the
    /// sandbox or a local test server).
    pub allow_http: bool,
    /// Larger results are refused: no avatar is anywhere near this.
    pub max_result_bytes: u64,
    _sandbox: Option<Sandbox>,
}

impl Context {
    fn new(settings: Settings, printer: Printer) -> Self {
        Self {
            printer,
            state: StateFile::new(settings.state_path.clone()).with_patience(settings.lock_timeout),
            settings,
            api: OnceCell::new(),
        }
    }

    pub async fn api(&self) -> Result<&Api> {
        self.api.get_or_try_init(|| self.connect()).await
    }

    async fn connect(&self) -> Result<Api> {
        let (sandbox, api_url, upload_url, key) = match &self.settings.endpoint {
            Endpoint::Sandbox(config) => {
                let sandbox = Sandbox::start(config.clone(), 0).await?;
                self.printer.detail(format!(
                    "sandbox listening on {} (jobs in {})",
                    sandbox.api_url(),
                    config.dir.display()
                ));
                let (api, upload) = (sandbox.api_url(), sandbox.upload_url());
                (Some(sandbox), api, upload, "sandbox".to_string())
            }
            Endpoint::Remote {
                api_url,
                upload_url,
                key,
            } => {
                let key = match key {
                    Some(key) => key.clone(),
                    None => crate::credentials::load(&crate::credentials::path()?)?
                        .ok_or(Failure::MissingKey)?,
                };
                (None, api_url.clone(), upload_url.clone(), key)
            }
        };
        let allow_http = is_loopback_http(&api_url);
        let http = reqwest::Client::builder()
            .user_agent(concat!("avatar/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .redirect(result_redirects(allow_http))
            .build()?;
        let printer = self.printer.clone();
        let client = Client::new(http.clone(), &api_url, &upload_url, ApiKey::new(key))
            .with_timeout(self.settings.http_timeout)
            .with_retry(crate::api::RetryPolicy {
                attempts: self.settings.retries,
                ..Default::default()
            })
            .with_observer(std::sync::Arc::new(move |note: &str| printer.detail(note)));
        Ok(Api {
            client,
            downloads: http,
            allow_http,
            max_result_bytes: self.settings.max_result_bytes,
            _sandbox: sandbox,
        })
    }

    /// How much faster than real time the service's clock runs.
    pub fn time_factor(&self) -> f64 {
        self.settings.endpoint.time_factor()
    }

    /// `--poll-interval`, else the vendor cadence at the service's speed.
    pub fn cadence(&self, vendor: Cadence) -> Cadence {
        match self.settings.poll_interval {
            Some(interval) => Cadence::fixed(interval),
            None => vendor.accelerated(self.time_factor()),
        }
    }

    /// A duration of service time, in real time.
    pub fn service_time(&self, d: Duration) -> Duration {
        d.div_f64(self.time_factor())
    }

    /// Finds a recorded job by id or prefix. An id unknown here but recorded
    /// by the other mode (sandbox or real) says so, since that is the usual
    /// mistake.
    pub fn find<'s>(&self, state: &'s State, id: &str) -> Result<Job<'s>> {
        match state.find(id) {
            Ok(job) => Ok(job),
            Err(error @ FindError::Unknown(_)) => {
                let elsewhere = self
                    .settings
                    .other_state_path
                    .as_ref()
                    .and_then(|path| StateFile::new(path).load().ok())
                    .is_some_and(|other| other.find(id).is_ok());
                if !elsewhere {
                    return Err(error.into());
                }
                let fix = match self.settings.endpoint {
                    Endpoint::Sandbox(_) => "it is a real job: run the command without --sandbox",
                    Endpoint::Remote { .. } => "it is a sandbox job: add --sandbox",
                };
                Err(Failure::Usage(format!(
                    "{id} is not recorded in {}; {fix}",
                    self.state.path().display()
                ))
                .into())
            }
            Err(error) => Err(error.into()),
        }
    }

    pub fn in_process_sandbox(&self) -> bool {
        matches!(self.settings.endpoint, Endpoint::Sandbox(_))
    }

    /// `--sandbox` when the command ran against the sandbox, for resume hints.
    pub fn mode_flag(&self) -> &'static str {
        if self.in_process_sandbox() {
            "--sandbox "
        } else {
            ""
        }
    }
}

fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Follows redirects to https only (or anywhere from a loopback test API),
/// so a result is never fetched in clear text from the real service.
fn result_redirects(allow_http: bool) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= 10 {
            attempt.error("too many redirects")
        } else if allow_http || attempt.url().scheme() == "https" {
            attempt.follow()
        } else {
            attempt.error("refusing to follow a redirect to a non-https URL")
        }
    })
}

/// Results not downloaded yet that the service deletes within this window
/// earn a warning from every command.
const EXPIRY_WARNING: Duration = Duration::from_secs(6 * 3600);

fn warn_of_expiry(ctx: &Context) {
    // An unreadable state file is reported by the command itself.
    let Ok(state) = ctx.state.load() else { return };
    let now = std::time::SystemTime::now();
    let soon = now + ctx.service_time(EXPIRY_WARNING);
    for inference in &state.inferences {
        let Some(at) = inference.expires_at else {
            continue;
        };
        if inference.status == crate::api::types::JobStatus::Done
            && !inference.is_downloaded()
            && at > now
            && at <= soon
        {
            let left = at.duration_since(now).unwrap_or_default();
            ctx.printer.warn(format!(
                "the avatars of inference {} expire in {}: run `avatar {}fetch {} --out DIR` now",
                inference.id,
                humantime::format_duration(Duration::from_secs(left.as_secs().max(1))),
                ctx.mode_flag(),
                inference.id
            ));
        }
    }
}

/// The first characters of an id, enough to recognise it in human text.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_is_trusted() {
        assert!(is_loopback_http("http://127.0.0.1:8080/v1"));
        assert!(is_loopback_http("http://localhost/v1"));
        assert!(is_loopback_http("http://[::1]:99/v1"));
        assert!(!is_loopback_http("https://127.0.0.1/v1"));
        assert!(!is_loopback_http("http://10.0.0.1/v1"));
        assert!(!is_loopback_http("http://example.com/v1"));
    }
}
