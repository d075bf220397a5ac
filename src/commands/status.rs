use std::time::{Duration, SystemTime};

use anyhow::Result;
use serde_json::json;

use super::jobs::{
    deadline, inference_outcome, model_outcome, refresh_inference, refresh_model, still_running,
    wait_inference, wait_model,
};
use super::{Context, short};
use crate::api::types::JobStatus;
use crate::cli::StatusArgs;
use crate::state::{Inference, Job, Model};

pub async fn status(ctx: &Context, args: StatusArgs) -> Result<()> {
    let Some(id) = args.id else {
        return list(ctx);
    };
    let deadline = deadline(args.wait.limit.timeout);
    let state = ctx.state.load()?;
    // The exit code tells a script how the job stands: 0 done, 3 failed,
    // 4 still running, 5 expired.
    match ctx.find(&state, &id)? {
        Job::Model(model) => {
            let model = model.clone();
            if args.wait.wait {
                let waited = wait_model(ctx, &model, deadline).await;
                print_model(ctx, &model.id)?;
                return waited;
            }
            let status = refresh_model(ctx, &model.id).await?.status;
            print_model(ctx, &model.id)?;
            model_outcome(ctx, &model.id, &status)?;
            pending_is_still_running(ctx, "model", &model.id, &status)
        }
        Job::Inference(inference) => {
            let inference = inference.clone();
            if args.wait.wait {
                let waited = wait_inference(ctx, &inference, deadline).await;
                print_inference(ctx, &inference.id)?;
                return waited;
            }
            let inference = refresh_inference(ctx, &inference).await?;
            print_inference(ctx, &inference.id)?;
            inference_outcome(&inference)?;
            pending_is_still_running(ctx, "inference", &inference.id, &inference.status)
        }
    }
}

fn pending_is_still_running(
    ctx: &Context,
    what: &'static str,
    id: &str,
    status: &JobStatus,
) -> Result<()> {
    if status.is_terminal() {
        Ok(())
    } else {
        Err(still_running(ctx, what, id))
    }
}

fn print_model(ctx: &Context, id: &str) -> Result<()> {
    if let Some(model) = ctx.state.load()?.model(id) {
        if ctx.printer.json {
            ctx.printer.json_line(&model_json(model))?;
        } else {
            let progress = model
                .progress
                .map(|p| format!("\t{p:.0}%"))
                .unwrap_or_default();
            ctx.printer
                .data(format!("{}\t{}{progress}", model.id, model.status))?;
        }
    }
    Ok(())
}

fn print_inference(ctx: &Context, id: &str) -> Result<()> {
    if let Some(inference) = ctx.state.load()?.inference(id) {
        if ctx.printer.json {
            ctx.printer.json_line(&inference_json(inference))?;
        } else {
            ctx.printer.data(format!(
                "{}\t{}\t{}",
                inference.id,
                inference.status,
                time_left(inference, SystemTime::now())
            ))?;
        }
    }
    Ok(())
}

fn model_json(model: &Model) -> serde_json::Value {
    json!({"kind": "model", "model": model})
}

fn inference_json(inference: &Inference) -> serde_json::Value {
    json!({"kind": "inference", "inference": inference})
}

/// Every recorded job, newest last.
fn list(ctx: &Context) -> Result<()> {
    let state = ctx.state.load()?;
    if ctx.printer.json {
        for model in &state.models {
            ctx.printer.json_line(&model_json(model))?;
        }
        for inference in &state.inferences {
            ctx.printer.json_line(&inference_json(inference))?;
        }
        for attempt in &state.attempts {
            ctx.printer
                .json_line(&json!({"kind": "unconfirmed", "attempt": attempt}))?;
        }
        return Ok(());
    }
    if state.models.is_empty() && state.inferences.is_empty() && state.attempts.is_empty() {
        ctx.printer.info(format!(
            "no jobs recorded in {} yet; start with `avatar train`",
            ctx.state.path().display()
        ));
        return Ok(());
    }
    let now = SystemTime::now();
    let mut rows =
        vec![["JOB", "ID", "LABEL", "WHAT", "STATUS", "CREATED", "RESULTS"].map(String::from)];
    for model in &state.models {
        rows.push([
            "model".into(),
            model.id.clone(),
            model.label.clone().unwrap_or_else(|| "-".into()),
            format!("{} ({} photos)", model.kind, model.images.len()),
            match model.progress {
                Some(p) if !model.status.is_terminal() => format!("{} {p:.0}%", model.status),
                _ => model.status.to_string(),
            },
            timestamp(model.created_at),
            "-".into(),
        ]);
    }
    for inference in &state.inferences {
        rows.push([
            "inference".into(),
            inference.id.clone(),
            format!("model {}", short(&inference.model_id)),
            inference.styles(),
            inference.status.to_string(),
            timestamp(inference.created_at),
            time_left(inference, now),
        ]);
    }
    for attempt in &state.attempts {
        rows.push([
            "unconfirmed".into(),
            "-".into(),
            attempt
                .model_id
                .as_deref()
                .map_or("-".into(), |m| format!("model {}", short(m))),
            attempt.what.clone(),
            "UNCONFIRMED".into(),
            timestamp(attempt.sent_at),
            "-".into(),
        ]);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        ctx.printer.data(line.join("  ").trim_end())?;
    }
    if !state.attempts.is_empty() {
        ctx.printer.warn(format!(
            "{} paid request(s) got no answer: each may have started a job whose id avatar never learnt; \
             check your Picsart account before sending them again",
            state.attempts.len()
        ));
    }
    Ok(())
}

fn timestamp(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// What a user needs to know about the results' 48-hour window.
fn time_left(inference: &Inference, now: SystemTime) -> String {
    if inference.is_downloaded() {
        return "downloaded".into();
    }
    match (&inference.status, inference.expires_at) {
        (JobStatus::Expired, _) => "expired".into(),
        (_, Some(at)) => match at.duration_since(now) {
            Ok(left) => format!(
                "expire in {}",
                humantime::format_duration(Duration::from_secs(left.as_secs() / 60 * 60))
            ),
            Err(_) => "expired".into(),
        },
        _ => "-".into(),
    }
}
