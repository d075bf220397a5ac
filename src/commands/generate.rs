use anyhow::Result;
use serde_json::json;

use super::Context;
use super::jobs::{
    deadline, model_outcome, refresh_model, start_generation, still_running, wait_inference,
    wait_model,
};
use crate::cli::GenerateArgs;
use crate::exit::Failure;
use crate::state::{Job, Model};

pub async fn generate(ctx: &Context, args: GenerateArgs) -> Result<()> {
    let model = recorded_model(ctx, &args.model_id)?;
    let deadline = deadline(args.wait.limit.timeout);
    ensure_trained(ctx, &model, args.wait.wait, deadline).await?;
    let id = start_generation(ctx, &model.id, args.styles.prompts(), None).await?;
    if ctx.printer.json {
        ctx.printer
            .json_line(&json!({"inference_id": id, "model_id": model.id}))?;
    } else {
        ctx.printer.data(&id)?;
    }
    if args.wait.wait {
        let inference = ctx.state.load()?.inference(&id).cloned();
        if let Some(inference) = inference {
            wait_inference(ctx, &inference, deadline).await?;
        }
    }
    Ok(())
}

pub fn recorded_model(ctx: &Context, id: &str) -> Result<Model> {
    let state = ctx.state.load()?;
    match ctx.find(&state, id)? {
        Job::Model(model) => Ok(model.clone()),
        Job::Inference(i) => Err(Failure::Usage(format!(
            "{} is an inference id; generate takes the id of a trained model (this inference's model is {})",
            i.id, i.model_id
        ))
        .into()),
    }
}

/// A generation needs a DONE model: check it now, and wait for it if asked to.
pub async fn ensure_trained(
    ctx: &Context,
    model: &Model,
    wait: bool,
    deadline: Option<tokio::time::Instant>,
) -> Result<()> {
    let status = if model.status.is_terminal() {
        model.status.clone()
    } else {
        refresh_model(ctx, &model.id).await?.status
    };
    model_outcome(ctx, &model.id, &status)?;
    if status.is_terminal() {
        return Ok(());
    }
    if wait {
        return wait_model(ctx, model, deadline).await;
    }
    ctx.printer.info(format!(
        "model {} is not trained yet ({status}); pass --wait to wait for it first",
        model.id
    ));
    Err(still_running(ctx, "model", &model.id))
}
