use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context as _, Result};
use futures_util::StreamExt;
use serde_json::json;

use super::jobs::{deadline, expired, reload_inference, wait_inference};
use super::{Api, Context, short};
use crate::api::types::JobStatus;
use crate::cli::{FetchArgs, SaveArgs};
use crate::download::{DownloadError, Saved, download};
use crate::exit::Failure;
use crate::manifest;
use crate::progress::BatchProgress;
use crate::state::{Avatar, Inference, Job};

/// `--out` must be a folder we can create: found out before anything is
/// sent or spent.
pub fn check_out_dir(out: &Path) -> Result<()> {
    if out.exists() && !out.is_dir() {
        return Err(Failure::Usage(format!(
            "--out {} is a file, not a folder; choose a folder (nothing was sent)",
            out.display()
        ))
        .into());
    }
    std::fs::create_dir_all(out).map_err(|e| {
        Failure::Usage(format!(
            "cannot create the folder {} ({e}); choose another --out (nothing was sent)",
            out.display()
        ))
    })?;
    Ok(())
}

pub async fn fetch(ctx: &Context, args: FetchArgs) -> Result<()> {
    check_out_dir(&args.save.out)?;
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
        // One inference's trouble (say, expired results) must not keep the
        // others from being saved: report it, go on, and fail at the end.
        let mut first_error = None;
        for inference in pending {
            let out = args.save.out.join(short(&inference.id));
            match fetch_one(ctx, &inference, &out, &args.save, deadline).await {
                Ok(saved) => print_saved(ctx, &inference.id, &saved)?,
                Err(error) if first_error.is_none() => first_error = Some(error),
                Err(error) => ctx.printer.error(format!("{error:#}")),
            }
        }
        return first_error.map_or(Ok(()), Err);
    };
    let inference = match ctx.find(&state, &id)? {
        Job::Inference(inference) => inference.clone(),
        Job::Model(model) => {
            return Err(Failure::Usage(format!(
                "{} is a model id; fetch takes an inference id (`avatar generate {}` makes one)",
                model.id, model.id
            ))
            .into());
        }
    };
    let saved = fetch_one(ctx, &inference, &args.save.out, &args.save, deadline).await?;
    print_saved(ctx, &inference.id, &saved)
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
                "size": avatar.size,
                "sha256": avatar.sha256,
            }))?;
        } else {
            ctx.printer.data(file.display())?;
        }
    }
    Ok(())
}

/// Waits for the inference if needed, downloads what is not saved yet into
/// `out`; returns every saved avatar.
pub async fn fetch_one(
    ctx: &Context,
    inference: &Inference,
    out: &Path,
    save: &SaveArgs,
    deadline: Option<tokio::time::Instant>,
) -> Result<Vec<Avatar>> {
    if inference.status == JobStatus::Expired {
        return Err(expired(inference));
    }
    if !inference.is_downloaded() {
        wait_inference(ctx, inference, deadline).await?;
    }
    let inference = reload_inference(ctx, &inference.id)?;
    let plan = plan_files(&inference, out, save)?;
    if !plan.is_empty() {
        if inference
            .expires_at
            .is_some_and(|at| at <= SystemTime::now())
        {
            return Err(mark_expired(ctx, &inference)?);
        }
        download_all(ctx, &inference, plan, save.jobs.into()).await?;
    }
    let inference = reload_inference(ctx, &inference.id)?;
    let saved: Vec<Avatar> = inference.avatars.into_iter().filter(|a| a.saved).collect();
    manifest::record(out, &inference.id, &inference.model_id, &saved)
        .with_context(|| format!("cannot write the manifest in {}", out.display()))?;
    Ok(saved)
}

/// One avatar to download: its index in the inference and where it goes.
struct Planned {
    index: usize,
    url: String,
    dest: PathBuf,
}

/// Decides every file name before a byte moves: names stay inside `out`, are
/// distinct, and never replace a file that is not ours (unless `--force`).
fn plan_files(inference: &Inference, out: &Path, save: &SaveArgs) -> Result<Vec<Planned>> {
    let mut plan = Vec::new();
    let mut names = HashSet::new();
    let mut per_style = std::collections::HashMap::<String, usize>::new();
    for (index, avatar) in inference.avatars.iter().enumerate() {
        let style = avatar.style.as_deref().unwrap_or("avatar");
        let n = per_style.entry(style.to_string()).or_default();
        *n += 1;
        let name = file_name(
            &save.template,
            &[
                ("model", &inference.model_id),
                ("inference", &inference.id),
                ("style", style),
                ("n", &n.to_string()),
                ("ext", extension(&avatar.url)),
            ],
        )?;
        if !names.insert(name.clone()) {
            return Err(Failure::Usage(format!(
                "the name template `{}` gives several avatars the name {name}; add {{n}} to it",
                save.template
            ))
            .into());
        }
        if avatar.saved && avatar.file.as_ref().is_some_and(|f| f.is_file()) {
            continue;
        }
        let dest = out.join(&name);
        if dest.exists() && avatar.file.as_ref() != Some(&dest) && !save.force {
            return Err(Failure::Usage(format!(
                "{} already exists and is not from inference {}; choose another --out, or pass --force to replace it (nothing was downloaded)",
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

/// Fills `{key}` placeholders, each value made safe, and checks that the
/// result is one plain file name.
fn file_name(template: &str, values: &[(&str, &str)]) -> Result<String> {
    let mut name = template.to_string();
    for (key, value) in values {
        name = name.replace(&format!("{{{key}}}"), &sanitize(value));
    }
    let name = sanitize(&name);
    let mut components = Path::new(&name).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(_)), None) => Ok(name),
        _ => Err(Failure::Usage(format!(
            "the name template `{template}` does not make a plain file name (got `{name}`)"
        ))
        .into()),
    }
}

/// No path separators, no `..`, no control characters; at most 128 characters.
fn sanitize(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .take(128)
        .collect();
    let cleaned = cleaned.replace("..", "_");
    if cleaned.trim().is_empty() {
        "_".into()
    } else {
        cleaned
    }
}

async fn download_all(
    ctx: &Context,
    inference: &Inference,
    plan: Vec<Planned>,
    jobs: usize,
) -> Result<()> {
    let api = ctx.api().await?;
    let out = plan[0].dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create the folder {}", out.display()))?;
    for planned in &plan {
        check_scheme(api, &planned.url)?;
    }
    // Recorded first, so that a file left by an interrupted run is known to be ours.
    ctx.state.update(|state| {
        if let Some(i) = state.inference_mut(&inference.id) {
            for planned in &plan {
                i.avatars[planned.index].file = Some(planned.dest.clone());
            }
        }
    })?;
    let progress = BatchProgress::new(&ctx.printer, "downloading", plan.len());
    let printer = ctx.printer.clone();
    let notice = move |note: String| printer.detail(note);
    let mut downloads = futures_util::stream::iter(plan.iter().map(|planned| {
        let notice = &notice;
        async move {
            let result = download(
                &api.downloads,
                &planned.url,
                &planned.dest,
                api.max_result_bytes,
                notice,
            )
            .await;
            (planned, result)
        }
    }))
    .buffer_unordered(jobs);
    let mut total = 0;
    let mut first_error = None;
    while let Some((planned, result)) = downloads.next().await {
        match result {
            Ok(Saved { size, sha256 }) => {
                total += size;
                ctx.state.update(|state| {
                    if let Some(i) = state.inference_mut(&inference.id) {
                        let avatar = &mut i.avatars[planned.index];
                        avatar.saved = true;
                        avatar.size = Some(size);
                        avatar.sha256 = Some(sha256);
                    }
                })?;
                let secs = progress.elapsed().as_secs_f64().max(0.001);
                progress.done(Some(format!(
                    "{:.1} MB, {:.1} MB/s",
                    total as f64 / 1e6,
                    total as f64 / 1e6 / secs
                )));
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

fn extension(url: &str) -> &'static str {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if path.ends_with(".png") { "png" } else { "jpg" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_never_leave_the_folder() {
        let values = [("style", "../../etc"), ("n", "1"), ("ext", "jpg")];
        for template in [
            "{style}-{n}.{ext}",
            "../{style}.{ext}",
            "a/b/{n}",
            "..",
            "/abs/{n}",
        ] {
            let name = file_name(template, &values).unwrap();
            assert!(
                !name.contains('/') && !name.contains(".."),
                "{template} → {name}"
            );
        }
        assert_eq!(
            file_name(
                "{style}-{n}.{ext}",
                &[("style", "anime"), ("n", "2"), ("ext", "png")]
            )
            .unwrap(),
            "anime-2.png"
        );
        assert_eq!(sanitize("a\u{7}b\nc"), "a_b_c");
    }
}
