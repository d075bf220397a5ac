use std::time::SystemTime;

use anyhow::{Context as _, Result};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::Context;
use super::fetch::fetch_one;
use super::generate::ensure_trained;
use super::jobs::{Source, check_sources, deadline, start_generation, start_training};
use crate::api::types::{ModelType, Prompt};
use crate::cli::RunArgs;
use crate::exit::Failure;
use crate::state::Pipeline;

/// train → wait → generate → wait → fetch, every id recorded as it comes.
/// Running the same command again continues where it stopped.
pub async fn run(ctx: &Context, args: RunArgs) -> Result<()> {
    let sources = check_sources(ctx, &args.images, !args.no_resize).await?;
    super::fetch::check_out_dir(&args.save.out)?;
    let prompts = args.styles.prompts();
    let deadline = deadline(args.limit.timeout);
    let fingerprint = fingerprint(args.kind, &sources, &prompts)?;
    let pipeline = ctx.state.update(|state| {
        if !args.new
            && let Some(existing) = state.latest_pipeline(&fingerprint)
        {
            return existing.clone();
        }
        let fresh = Pipeline {
            id: format!("{:016x}", rand::random::<u64>()),
            fingerprint: fingerprint.clone(),
            created_at: SystemTime::now(),
            model_id: None,
            inference_id: None,
        };
        state.pipelines.push(fresh.clone());
        fresh
    })?;
    let resend = args.resend;
    refuse_after_unconfirmed(
        ctx,
        &pipeline.id,
        "training",
        pipeline.model_id.is_none() && !resend,
    )?;
    let model_id = match pipeline.model_id {
        Some(id) => {
            ctx.printer.info(format!(
                "continuing the same run: model {id} was started before (--new starts over)"
            ));
            id
        }
        None => {
            start_training(
                ctx,
                args.kind,
                args.name,
                sources,
                usize::from(args.save.jobs),
                Some(&pipeline.id),
            )
            .await?
        }
    };
    let model = recorded(ctx, |s| s.model(&model_id).cloned())?;
    ensure_trained(ctx, &model, true, deadline).await?;
    refuse_after_unconfirmed(
        ctx,
        &pipeline.id,
        "generation",
        pipeline.inference_id.is_none() && !resend,
    )?;
    let inference_id = match pipeline.inference_id {
        Some(id) => {
            ctx.printer.info(format!(
                "continuing the same run: inference {id} was started before"
            ));
            id
        }
        None => start_generation(ctx, &model_id, prompts, Some(&pipeline.id)).await?,
    };
    let inference = recorded(ctx, |s| s.inference(&inference_id).cloned())?;
    let saved = fetch_one(ctx, &inference, &args.save.out, &args.save, deadline).await?;
    let files: Vec<_> = saved.into_iter().filter_map(|a| a.file).collect();
    if ctx.printer.json {
        ctx.printer.json_line(&json!({
            "model_id": model_id,
            "inference_id": inference_id,
            "files": files,
        }))?;
    } else {
        for file in &files {
            ctx.printer.data(file.display())?;
        }
    }
    Ok(())
}

/// A step of this run that was sent before without a known outcome is not
/// sent again behind the user's back: it may already exist, and cost money.
fn refuse_after_unconfirmed(
    ctx: &Context,
    pipeline_id: &str,
    what: &str,
    step_pending: bool,
) -> Result<()> {
    if !step_pending {
        return Ok(());
    }
    let state = ctx.state.load()?;
    let Some(attempt) = state
        .attempts
        .iter()
        .find(|a| a.pipeline.as_deref() == Some(pipeline_id) && a.what == what)
    else {
        return Ok(());
    };
    Err(Failure::Unconfirmed(format!(
        "the {what} of this run was sent at {} but its answer never came ({}); it may exist and be paid for. \
         Check your Picsart account; to send it again anyway, run the same command with --resend",
        humantime::format_rfc3339_seconds(attempt.sent_at),
        attempt.unconfirmed.as_deref().unwrap_or("the process stopped while waiting")
    ))
    .into())
}

fn recorded<T>(ctx: &Context, find: impl FnOnce(&crate::state::State) -> Option<T>) -> Result<T> {
    find(&ctx.state.load()?).context("a job just recorded is missing from the state file")
}

/// What makes two runs the same: the type, the photos' contents (in any
/// order) and the styles with their counts. Labels and folders do not count.
fn fingerprint(kind: ModelType, sources: &[Source], prompts: &[Prompt]) -> Result<String> {
    let mut photos = Vec::with_capacity(sources.len());
    for source in sources {
        photos.push(match source {
            // Of the file's content, hashed by the preflight.
            Source::File(photo) => photo.sha256.clone(),
            Source::Url(url) => url.clone(),
        });
    }
    photos.sort();
    let mut hasher = Sha256::new();
    hasher.update(format!("avatar run v1\n{kind}\n"));
    for photo in photos {
        hasher.update(format!("{photo}\n"));
    }
    for prompt in prompts {
        hasher.update(format!("{}:{}\n", prompt.style, prompt.count));
    }
    Ok(hex::encode(hasher.finalize()))
}
