//! Flags, environment and defaults resolved once into `Settings`.
//! Precedence: flag > environment (clap reads both) > default.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result};

use crate::cli::GlobalArgs;
use crate::sandbox;

pub const DEFAULT_API_URL: &str = "https://genai-avatars-api.picsart.io/v1";
pub const DEFAULT_UPLOAD_URL: &str = "https://api.picsart.io/tools/1.0";
/// Avatars are 512 px (instant ones 2048 px): a gigabyte is far past any.
const DEFAULT_MAX_RESULT_BYTES: u64 = 1 << 30;

#[derive(Debug, Clone)]
pub struct Settings {
    pub json: bool,
    pub quiet: bool,
    pub verbose: bool,
    pub state_path: PathBuf,
    /// The default state file of the other mode (sandbox or real), to tell
    /// a user who mixed them up; none when `--state` names one file for both.
    pub other_state_path: Option<PathBuf>,
    pub endpoint: Endpoint,
    pub poll_interval: Option<Duration>,
    /// How long one API request may take (`AVATAR_HTTP_TIMEOUT`).
    pub http_timeout: Duration,
    /// How long to wait for another process's lock on the state file
    /// (`AVATAR_LOCK_TIMEOUT`).
    pub lock_timeout: Duration,
    /// The largest result file accepted (`AVATAR_MAX_RESULT_BYTES`).
    pub max_result_bytes: u64,
    /// Tries per API read before giving up (`AVATAR_RETRIES`).
    pub retries: u32,
}

/// Where the API is.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// The built-in sandbox, started in this process.
    Sandbox(sandbox::Config),
    Remote {
        api_url: String,
        upload_url: String,
        /// From `PICSART_API_KEY`, else `avatar auth login`'s file; checked
        /// only when a command needs the API.
        key: Option<String>,
    },
}

impl Endpoint {
    /// How much faster than real time the service's clock runs.
    pub fn time_factor(&self) -> f64 {
        match self {
            Self::Sandbox(config) => config.speed,
            Self::Remote { .. } => 1.0,
        }
    }
}

impl Settings {
    pub fn resolve(args: &GlobalArgs) -> Result<Self> {
        let endpoint = if args.sandbox {
            Endpoint::Sandbox(sandbox_config()?)
        } else {
            Endpoint::Remote {
                api_url: args.api_url.clone().unwrap_or(DEFAULT_API_URL.into()),
                upload_url: args.upload_url.clone().unwrap_or(DEFAULT_UPLOAD_URL.into()),
                key: std::env::var("PICSART_API_KEY")
                    .ok()
                    .filter(|k| !k.trim().is_empty()),
            }
        };
        // Sandbox ids never mix with real, paid ones.
        let (mine, other) = if args.sandbox {
            ("sandbox-state.json", "state.json")
        } else {
            ("state.json", "sandbox-state.json")
        };
        let (state_path, other_state_path) = match &args.state {
            Some(path) => (path.clone(), None),
            None => (data_dir()?.join(mine), Some(data_dir()?.join(other))),
        };
        Ok(Self {
            json: args.json,
            quiet: args.quiet,
            verbose: args.verbose,
            state_path,
            other_state_path,
            endpoint,
            poll_interval: args.poll_interval,
            http_timeout: duration_var("AVATAR_HTTP_TIMEOUT")?
                .unwrap_or(crate::api::client::API_TIMEOUT),
            lock_timeout: duration_var("AVATAR_LOCK_TIMEOUT")?
                .unwrap_or(crate::state::LOCK_PATIENCE),
            max_result_bytes: knob("AVATAR_MAX_RESULT_BYTES", |v| {
                v.trim().parse::<u64>().map_err(|e| e.to_string())
            })?
            .unwrap_or(DEFAULT_MAX_RESULT_BYTES),
            retries: knob("AVATAR_RETRIES", |v| match v.trim().parse::<u32>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err("expected a whole number of tries, 1 or more".into()),
            })?
            .unwrap_or(crate::api::RetryPolicy::default().attempts),
        })
    }
}

/// A sandbox setting in the environment, parsed by the sandbox's own parser.
fn knob<T>(name: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<Option<T>> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(parse(&v).map_err(|why| {
            crate::exit::Failure::Usage(format!("{name}={v}: {why}"))
        })?)),
        Err(_) => Ok(None),
    }
}

fn duration_var(name: &str) -> Result<Option<Duration>> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(humantime::parse_duration(&v).map_err(|e| {
            crate::exit::Failure::Usage(format!("{name}={v} is not a duration like 10s: {e}"))
        })?)),
        Err(_) => Ok(None),
    }
}

fn data_dir() -> Result<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "avatar")
        .context("cannot find your home directory; pass --state FILE")?;
    Ok(dirs.data_dir().to_path_buf())
}

/// The sandbox's settings: `AVATAR_SANDBOX_DIR`, `AVATAR_SANDBOX_SPEED`,
/// `AVATAR_SANDBOX_CREDITS` and the fault knobs `AVATAR_SANDBOX_LATENCY_MS`,
/// `AVATAR_SANDBOX_CUT_DOWNLOADS`.
pub fn sandbox_config() -> Result<sandbox::Config> {
    let dir = match std::env::var_os("AVATAR_SANDBOX_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => data_dir()?.join("sandbox"),
    };
    let number = |name: &str| -> Result<Option<f64>> {
        match std::env::var(name) {
            Ok(v) => match v.trim().parse::<f64>() {
                Ok(n) if n.is_finite() && n >= 0.0 => Ok(Some(n)),
                _ => anyhow::bail!(crate::exit::Failure::Usage(format!(
                    "{name}={v} is not a non-negative number"
                ))),
            },
            Err(_) => Ok(None),
        }
    };
    let speed = number("AVATAR_SANDBOX_SPEED")?
        .filter(|s| *s > 0.0)
        .unwrap_or(sandbox::DEFAULT_SPEED);
    let flag = |name: &str| {
        std::env::var(name).is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false" | "no"))
    };
    let millis = |name: &str| -> Result<Duration> {
        Ok(Duration::from_secs_f64(
            number(name)?.unwrap_or(0.0) / 1000.0,
        ))
    };
    Ok(sandbox::Config {
        dir,
        speed,
        credits: number("AVATAR_SANDBOX_CREDITS")?,
        faults: sandbox::Faults {
            latency: millis("AVATAR_SANDBOX_LATENCY_MS")?,
            cut_downloads: flag("AVATAR_SANDBOX_CUT_DOWNLOADS"),
            random: knob("AVATAR_SANDBOX_FAULTS", sandbox::parse_random)?.unwrap_or_default(),
            seed: number("AVATAR_SANDBOX_SEED")?.map_or(0, |s| s as u64),
            stall: millis("AVATAR_SANDBOX_STALL_MS")?,
            training_outcome: knob(
                "AVATAR_SANDBOX_TRAINING_OUTCOME",
                sandbox::parse_training_outcome,
            )?,
            inference_outcome: knob(
                "AVATAR_SANDBOX_INFERENCE_OUTCOME",
                sandbox::parse_inference_outcome,
            )?,
            vocabulary_2026: flag("AVATAR_SANDBOX_VOCABULARY_2026"),
            results_gone: flag("AVATAR_SANDBOX_RESULTS_GONE"),
        },
    })
}
