use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context as _, Result};
use futures_util::StreamExt;
use serde_json::json;

use super::jobs::{deadline, expired, wait_inference};
use super::{Api, Context, short};
use crate::api::types::JobStatus;
use crate::cli::FetchArgs;
use crate::download::{DownloadError, download};
use crate::exit::Failure;
use crate::progress::DownloadProgress;
use crate::state::{Avatar, Inference, Job};

/// Downloads running at once.
const PARALLEL_DOWNLOADS: usize = 8;

pub async fn fetch(ctx: &Context, args: FetchArgs) -> Result<()> {
    let deadline = deadline(args.limit.timeout);
    let state = ctx.state.load()?;
    let Some(id) = args.inference_id else {
        // Every pending inference, each in a folder of its own so that
        // same-style avatars of different inferences never collide.
        let pending: Vec<Inference> = state
            .inferences
            .iter()
            .filter(|i| {
                !i.is_downloaded() && (i.status == JobStatus::Done || !i.status.is_terminal())
            })
            .cloned()
            .collect();
        for inference in pending {
            let out = args.out.join(short(&inference.id));
            let saved = fetch_one(ctx, &inference, &out, deadline).await?;
            print_saved(ctx, &inference.id, &saved)?;
        }
        return Ok(());
    };
    let inference = match state.find(&id)? {
        Job::Inference(inference) => inference.clone(),
        Job::Model(model) => {
            return Err(Failure::Usage(format!(
                "{} is a model id; fetch takes an inference id (`avatar generate {}` makes one)",
                model.id, model.id
            ))
            .into());
        }
    };
    let saved = fetch_one(ctx, &inference, &args.out, deadline).await?;
    print_saved(ctx, &inference.id, &saved)
}

/// Waits for the inference if needed, downloads what is not saved yet;
/// returns every saved avatar.
pub async fn fetch_one(
    ctx: &Context,
    inference: &Inference,
    out: &Path,
    deadline: Option<tokio::time::Instant>,
) -> Result<Vec<Avatar>> {
    if inference.status == JobStatus::Expired {
        return Err(expired(inference));
    }
    if !inference.is_downloaded() {
        wait_inference(ctx, inference, deadline).await?;
    }
    let inference = ctx
        .state
        .load()?
        .inference(&inference.id)
        .cloned()
        .context("the inference vanished from the state file")?;
    let plan = plan_files(&inference, out)?;
    if !plan.is_empty() {
        if inference
            .expires_at
            .is_some_and(|at| at <= SystemTime::now())
        {
            return Err(mark_expired(ctx, &inference)?);
        }
        download_all(ctx, &inference, plan).await?;
    }
    let inference = ctx
        .state
        .load()?
        .inference(&inference.id)
        .cloned()
        .context("the inference vanished from the state file")?;
    Ok(inference.avatars.into_iter().filter(|a| a.saved).collect())
}

fn print_saved(ctx: &Context, inference_id: &str, avatars: &[Avatar]) -> Result<()> {
    for avatar in avatars {
        let Some(file) = &avatar.file else { continue };
        if ctx.printer.json {
            ctx.printer.json_line(&json!({
                "inference_id": inference_id,
                "file": file,
                "style": avatar.style,
                "url": avatar.url,
            }))?;
        } else {
            ctx.printer.data(file.display())?;
        }
    }
    Ok(())
}

/// One avatar to download: its index in the inference and where it goes.
struct Planned {
    index: usize,
    url: String,
    dest: PathBuf,
}

/// Decides every file name before a byte moves, refusing to overwrite a file
/// that is not ours.
fn plan_files(inference: &Inference, out: &Path) -> Result<Vec<Planned>> {
    let mut plan = Vec::new();
    let mut per_style = std::collections::HashMap::<String, usize>::new();
    for (index, avatar) in inference.avatars.iter().enumerate() {
        let style = file_stem(avatar.style.as_deref().unwrap_or("avatar"));
        let n = per_style.entry(style.clone()).or_default();
        *n += 1;
        if avatar.saved && avatar.file.as_ref().is_some_and(|f| f.is_file()) {
            continue;
        }
        let dest = out.join(format!("{style}-{n}.{}", extension(&avatar.url)));
        if dest.exists() && avatar.file.as_ref() != Some(&dest) {
            return Err(Failure::Usage(format!(
                "{} already exists and is not from inference {}; choose another --out (nothing was downloaded)",
                dest.display(),
                inference.id
            ))
            .into());
        }
        plan.push(Planned {
            index,
            url: avatar.url.clone(),
            dest,
        });
    }
    Ok(plan)
}

async fn download_all(ctx: &Context, inference: &Inference, plan: Vec<Planned>) -> Result<()> {
    let api = ctx.api().await?;
    let out = plan[0].dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create the folder {}", out.display()))?;
    for planned in &plan {
        check_scheme(api, &planned.url)?;
    }
    ctx.state.update(|state| {
        if let Some(i) = state.inference_mut(&inference.id) {
            for planned in &plan {
                i.avatars[planned.index].file = Some(planned.dest.clone());
            }
        }
    })?;
    let progress = DownloadProgress::new(ctx.printer, plan.len());
    let mut downloads = futures_util::stream::iter(plan.iter().map(|planned| async move {
        let result = download(&api.downloads, &planned.url, &planned.dest).await;
        (planned, result)
    }))
    .buffer_unordered(PARALLEL_DOWNLOADS);
    let mut total = 0;
    let mut first_error = None;
    while let Some((planned, result)) = downloads.next().await {
        match result {
            Ok(bytes) => {
                total += bytes;
                ctx.state.update(|state| {
                    if let Some(i) = state.inference_mut(&inference.id) {
                        i.avatars[planned.index].saved = true;
                    }
                })?;
                progress.file_done(total);
            }
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    progress.finish();
    match first_error {
        None => Ok(()),
        Some(DownloadError::Gone { .. }) => Err(mark_expired(ctx, inference)?),
        Some(error) => Err(error).with_context(|| {
            format!(
                "downloading the avatars of inference {} failed; run the same command again to resume",
                inference.id
            )
        }),
    }
}

/// Plain http only from a loopback API (the sandbox, a local test server).
fn check_scheme(api: &Api, url: &str) -> Result<()> {
    if url.starts_with("https://") || (api.allow_http && url.starts_with("http://")) {
        Ok(())
    } else {
        anyhow::bail!("refusing to download {url}: result URLs must be https")
    }
}

fn mark_expired(ctx: &Context, inference: &Inference) -> Result<anyhow::Error> {
    ctx.state.update(|state| {
        if let Some(i) = state.inference_mut(&inference.id) {
            i.status = JobStatus::Expired;
        }
    })?;
    Ok(expired(inference))
}

/// A style name made safe as a file name.
fn file_stem(style: &str) -> String {
    let stem: String = style
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let stem = stem.trim_matches('-');
    if stem.is_empty() {
        "avatar".into()
    } else {
        stem.chars().take(64).collect()
    }
}

fn extension(url: &str) -> &'static str {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if path.ends_with(".png") { "png" } else { "jpg" }
}
