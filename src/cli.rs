//! Command-line syntax only: clap derive types, no logic.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::api::types::{ModelType, Prompt};

#[derive(Debug, Parser)]
#[command(
    name = "avatar",
    version,
    about = "Turn a handful of photos into AI avatars with Picsart's AI Avatar API",
    long_about = "Turn a handful of photos into AI avatars with Picsart's AI Avatar API.\n\n\
        Every model and inference id is recorded in a local state file before anything \
        else can go wrong, so nothing paid for is lost. Try everything for free with \
        --sandbox, a local copy of the API with accelerated time.",
    after_help = "Exit codes: 0 success, 1 unexpected error, 2 invalid input (nothing sent), \
        3 job failed, 4 still running, 5 results expired, 6 API key missing or rejected, \
        7 out of credits, 8 state file unreadable or locked, 130 interrupted."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print one JSON object per result on stdout instead of plain ids and paths
    #[arg(long, global = true)]
    pub json: bool,
    /// Print nothing on stderr but errors
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Say more about what happens (retries, requests)
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Use the built-in sandbox of the API: no key, no network, no cost
    #[arg(long, global = true, env = "AVATAR_SANDBOX", value_parser = clap::builder::BoolishValueParser::new())]
    pub sandbox: bool,
    /// Base URL of the avatar API
    #[arg(
        long,
        global = true,
        env = "PICSART_AVATAR_API_URL",
        value_name = "URL"
    )]
    pub api_url: Option<String>,
    /// Base URL of the upload API
    #[arg(
        long,
        global = true,
        env = "PICSART_UPLOAD_API_URL",
        value_name = "URL"
    )]
    pub upload_url: Option<String>,
    /// The state file that records every id [default: in your data directory]
    #[arg(long, global = true, env = "AVATAR_STATE_FILE", value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Check waiting jobs at this interval instead of the vendor's cadence (e.g. 2s)
    #[arg(long, global = true, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub poll_interval: Option<Duration>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model on 5 to 30 photos (local JPG/PNG files or https:// URLs); prints its id
    Train(TrainArgs),
    /// Show recorded jobs, or refresh one (a model or an inference id)
    Status(StatusArgs),
    /// Generate avatars from a trained model; prints the inference id
    Generate(GenerateArgs),
    /// Download the avatars of an inference (or of every pending one) into a folder
    Fetch(FetchArgs),
    /// The whole pipeline: train, wait, generate, wait, download
    Run(RunArgs),
    /// Check photos locally as `train` would, without sending anything; a report per photo
    Check(CheckArgs),
    /// Run the sandbox API as a standalone server
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// Store or remove the API key (used when PICSART_API_KEY is not set)
    #[command(subcommand)]
    Auth(AuthCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Store the key, typed without echo or piped on stdin, in a file only you can read
    Login,
    /// Remove the stored key
    Logout,
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Wait until the job has ended
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub limit: TimeoutArg,
}

#[derive(Debug, Args)]
pub struct TimeoutArg {
    /// Stop waiting after this long (e.g. 30m); the job goes on and stays recorded (exit 4)
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// What the photos show: man, woman, couple, dog or cat
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: ModelType,
    /// A label to recognise the model by in `avatar status`
    #[arg(long, value_name = "LABEL")]
    pub name: Option<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
    /// Upload the original files instead of upright 512-px JPEGs without metadata
    #[arg(long)]
    pub no_resize: bool,
    /// Uploads at once
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64), value_name = "N")]
    pub jobs: u16,
    /// 5 to 30 photos: JPG/PNG files, folders of them, https:// URLs, or - to read a list on stdin
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Also write the JPEGs that would be uploaded into this folder
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,
    /// Photos as `train` takes them: files, folders, https:// URLs, or - for a list on stdin
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// A model or inference id (or a unique prefix); none lists every recorded job
    pub id: Option<String>,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct StyleArgs {
    /// A style and how many avatars of it, e.g. realistic or anime:2 (repeatable)
    #[arg(long = "style", required = true, value_name = "NAME[:COUNT]")]
    pub styles: Vec<StyleSpec>,
    /// Avatars per style when a --style names no count
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..), value_name = "N")]
    pub count: u32,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The trained model's id (or a unique prefix)
    pub model_id: String,
    #[command(flatten)]
    pub styles: StyleArgs,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The inference id (or a unique prefix); none, or --all, fetches every pending inference
    #[arg(conflicts_with = "all")]
    pub inference_id: Option<String>,
    /// Fetch every recorded inference whose results are not downloaded yet (quiet when there is none: cron-safe)
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub save: SaveArgs,
    #[command(flatten)]
    pub limit: TimeoutArg,
}

/// Where and how result pictures are saved.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// The folder to save the avatars in
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    /// File name template: {model}, {inference}, {style}, {n}, {ext}
    #[arg(
        long = "name-template",
        default_value = "{style}-{n}.{ext}",
        value_name = "TEMPLATE"
    )]
    pub template: String,
    /// Overwrite files in the folder that are not from this inference
    #[arg(long)]
    pub force: bool,
    /// Downloads at once
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64), value_name = "N")]
    pub jobs: u16,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// What the photos show: man, woman, couple, dog or cat
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: ModelType,
    /// A label to recognise the model by in `avatar status`
    #[arg(long, value_name = "LABEL")]
    pub name: Option<String>,
    #[command(flatten)]
    pub styles: StyleArgs,
    #[command(flatten)]
    pub save: SaveArgs,
    #[command(flatten)]
    pub limit: TimeoutArg,
    /// Start a new pipeline even if the same one was started before
    #[arg(long)]
    pub new: bool,
    /// Send again a paid step of this run whose answer never came (it may then be paid twice)
    #[arg(long)]
    pub resend: bool,
    /// Upload the original files instead of upright 512-px JPEGs without metadata
    #[arg(long)]
    pub no_resize: bool,
    /// 5 to 30 photos: JPG/PNG files, folders of them, https:// URLs, or - to read a list on stdin
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Serve the sandbox API on 127.0.0.1 until interrupted; prints its base URL
    Serve {
        /// The port to listen on (0 picks a free one)
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

/// `NAME[:COUNT]` as typed after `--style`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StyleSpec {
    pub style: String,
    pub count: Option<u32>,
}

impl FromStr for StyleSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (style, count) = match s.rsplit_once(':') {
            Some((style, count)) if count.chars().all(|c| c.is_ascii_digit() || c == '-') => {
                let count: i64 = count
                    .parse()
                    .map_err(|_| format!("`{count}` is not a count of avatars"))?;
                if count < 1 {
                    return Err(format!("a style asks for at least 1 avatar, not {count}"));
                }
                let count = u32::try_from(count).map_err(|_| format!("{count} is too many"))?;
                (style, Some(count))
            }
            _ => (s, None),
        };
        if style.trim().is_empty() {
            return Err("the style name is empty".into());
        }
        Ok(Self {
            style: style.to_string(),
            count,
        })
    }
}

impl StyleArgs {
    pub fn prompts(&self) -> Vec<Prompt> {
        self.styles
            .iter()
            .map(|s| Prompt {
                style: s.style.clone(),
                count: s.count.unwrap_or(self.count),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_styles_with_and_without_counts() {
        let spec: StyleSpec = "anime:2".parse().unwrap();
        assert_eq!((spec.style.as_str(), spec.count), ("anime", Some(2)));
        let spec: StyleSpec = "realistic".parse().unwrap();
        assert_eq!(spec.count, None);
        let spec: StyleSpec = "studio: soft light".parse().unwrap();
        assert_eq!(spec.style, "studio: soft light");
        assert!("anime:0".parse::<StyleSpec>().is_err());
        assert!("anime:-1".parse::<StyleSpec>().is_err());
        assert!(":3".parse::<StyleSpec>().is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
