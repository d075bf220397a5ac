use anyhow::{Context as _, Result};
use serde_json::json;

use super::Context;
use super::fetch::fetch_one;
use super::generate::ensure_trained;
use super::jobs::{check_sources, deadline, start_generation, start_training};
use crate::cli::RunArgs;

/// train → wait → generate → wait → fetch, every id recorded as it comes.
pub async fn run(ctx: &Context, args: RunArgs) -> Result<()> {
    let sources = check_sources(&args.images)?;
    let deadline = deadline(args.limit.timeout);
    let model_id = start_training(ctx, args.kind, args.name, sources).await?;
    let model = recorded(ctx, |s| s.model(&model_id).cloned())?;
    ensure_trained(ctx, &model, true, deadline).await?;
    let inference_id = start_generation(ctx, &model_id, args.styles.prompts()).await?;
    let inference = recorded(ctx, |s| s.inference(&inference_id).cloned())?;
    let saved = fetch_one(ctx, &inference, &args.out, deadline).await?;
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

fn recorded<T>(ctx: &Context, find: impl FnOnce(&crate::state::State) -> Option<T>) -> Result<T> {
    find(&ctx.state.load()?).context("a job just recorded is missing from the state file")
}
