use anyhow::Result;
use serde_json::json;

use super::Context;
use super::jobs::{check_sources, deadline, start_training, wait_model};
use crate::cli::TrainArgs;

pub async fn train(ctx: &Context, args: TrainArgs) -> Result<()> {
    let sources = check_sources(ctx, &args.images, !args.no_resize).await?;
    let jobs = usize::from(args.jobs);
    let id = start_training(ctx, args.kind, args.name, sources, jobs, None).await?;
    if ctx.printer.json {
        ctx.printer
            .json_line(&json!({"model_id": id, "type": args.kind}))?;
    } else {
        ctx.printer.data(&id)?;
    }
    if args.wait.wait {
        let model = ctx.state.load()?.model(&id).cloned();
        if let Some(model) = model {
            wait_model(ctx, &model, deadline(args.wait.limit.timeout)).await?;
        }
    }
    Ok(())
}
