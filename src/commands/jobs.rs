//! The steps that several commands share: start a training or a generation
//! (recording its id before anything else), refresh and wait for jobs.

use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result};
use tokio::time::Instant;

use super::paid::{Purchase, buy};
use super::{Context, short};
use crate::api::types::{GenerateRequest, JobStatus, ModelType, Prompt, TrainRequest};
use crate::exit::Failure;
use crate::poll::{self, Cadence, Waited};
use crate::progress::JobProgress;
use crate::state::{Inference, Model};

/// How long the service says a training takes, for estimates.
const TYPICAL_TRAINING: Duration = Duration::from_secs(20 * 60);
/// How long inferences usually take, for estimates.
const TYPICAL_INFERENCE: Duration = Duration::from_secs(4 * 60);
/// How long the service keeps results once they are ready.
pub const RESULTS_LIFETIME: Duration = Duration::from_secs(48 * 3600);

pub use crate::photos::Source;

/// The local preflight: every photo decoded and checked, every problem
/// reported at once, nothing sent when it fails (exit 2). Returns the photos
/// to send, prepared for upload unless `resize` is off.
pub async fn check_sources(ctx: &Context, images: &[String], resize: bool) -> Result<Vec<Source>> {
    let report = super::check::preflight(images, resize).await?;
    for warning in report.warnings() {
        ctx.printer.warn(warning);
    }
    if !report.trainable() {
        return Err(super::check::refusal(&report, true).into());
    }
    Ok(report.sources())
}

/// Uploads local photos, starts the training and records the model id
/// before returning it.
/// `pipeline`: the id of the `run` this training belongs to.
pub async fn start_training(
    ctx: &Context,
    kind: ModelType,
    label: Option<String>,
    sources: Vec<Source>,
    jobs: usize,
    pipeline: Option<&str>,
) -> Result<String> {
    // Fail on an unusable state file before anything is spent.
    ctx.state.update(|_| ())?;
    let images = super::upload::upload_all(ctx, sources, jobs).await?;
    let api = ctx.api().await?;
    let request = TrainRequest {
        images: images.iter().map(|i| i.url.clone()).collect(),
        kind,
    };
    let now = SystemTime::now();
    let purchase = Purchase {
        what: "training",
        model_id: None,
        pipeline,
        request: &request,
    };
    let id = buy(
        ctx,
        purchase,
        || api.client.train(&request),
        |state, id| {
            state.models.push(Model {
                id: id.to_string(),
                kind,
                label,
                images,
                status: JobStatus::Accepted,
                progress: None,
                created_at: now,
                checked_at: None,
                done_at: None,
            });
            if let Some(p) = pipeline.and_then(|f| state.pipeline_mut(f)) {
                p.model_id = Some(id.to_string());
            }
        },
    )
    .await
    .context("starting the training failed")?;
    ctx.printer.info(format!(
        "model {id} recorded in {}",
        ctx.state.path().display()
    ));
    Ok(id)
}

/// Starts a generation and records the inference id before returning it.
pub async fn start_generation(
    ctx: &Context,
    model_id: &str,
    prompts: Vec<Prompt>,
    pipeline: Option<&str>,
) -> Result<String> {
    let api = ctx.api().await?;
    let request = GenerateRequest {
        prompts: prompts.clone(),
    };
    let purchase = Purchase {
        what: "generation",
        model_id: Some(model_id),
        pipeline,
        request: &request,
    };
    let id = buy(
        ctx,
        purchase,
        || api.client.generate(model_id, &request),
        |state, id| {
            state.inferences.push(Inference {
                id: id.to_string(),
                model_id: model_id.to_string(),
                prompts,
                status: JobStatus::Accepted,
                created_at: SystemTime::now(),
                checked_at: None,
                done_at: None,
                expires_at: None,
                avatars: Vec::new(),
            });
            if let Some(p) = pipeline.and_then(|f| state.pipeline_mut(f)) {
                p.inference_id = Some(id.to_string());
            }
        },
    )
    .await
    .with_context(|| format!("starting a generation on model {model_id} failed"))?;
    ctx.printer.info(format!(
        "inference {id} recorded in {}",
        ctx.state.path().display()
    ));
    Ok(id)
}

/// Asks the service how the model stands; returns the updated record.
pub async fn refresh_model(ctx: &Context, id: &str) -> Result<Model> {
    let status = ctx
        .api()
        .await?
        .client
        .model(id)
        .await
        .with_context(|| format!("checking model {id} failed"))?;
    ctx.state
        .update(|state| {
            state.record_model_status(id, &status, SystemTime::now());
            state.model(id).cloned()
        })?
        .context("the model vanished from the state file")
}

/// Asks the service how the inference stands; returns the updated record.
pub async fn refresh_inference(ctx: &Context, inference: &Inference) -> Result<Inference> {
    let id = &inference.id;
    let status = ctx
        .api()
        .await?
        .client
        .inference(&inference.model_id, id)
        .await
        .with_context(|| format!("checking inference {id} failed"))?;
    let lifetime = ctx.service_time(RESULTS_LIFETIME);
    ctx.state
        .update(|state| {
            state.record_inference_status(id, &status, SystemTime::now(), lifetime);
            state.inference(id).cloned()
        })?
        .context("the inference vanished from the state file")
}

/// Waits until the model has ended; a failed training is an error (exit 3).
pub async fn wait_model(ctx: &Context, model: &Model, deadline: Option<Instant>) -> Result<()> {
    let id = model.id.as_str();
    let job = Watched {
        label: format!("model {}", short(id)),
        started: model.created_at,
        typical: TYPICAL_TRAINING,
        cadence: Cadence::MODEL,
    };
    let refresh = || async {
        let model = refresh_model(ctx, id).await?;
        Ok((model.status.clone(), model.progress))
    };
    match watch(ctx, job, deadline, refresh).await? {
        Waited::Finished(status) => model_outcome(ctx, id, &status),
        Waited::TimedOut(_) => Err(still_running(ctx, "model", id)),
    }
}

/// Waits until the inference has ended; a failed one is an error (exit 3).
pub async fn wait_inference(
    ctx: &Context,
    inference: &Inference,
    deadline: Option<Instant>,
) -> Result<()> {
    let id = inference.id.as_str();
    let job = Watched {
        label: format!("inference {}", short(id)),
        started: inference.created_at,
        typical: TYPICAL_INFERENCE,
        cadence: Cadence::INFERENCE,
    };
    let refresh = || async {
        let inference = refresh_inference(ctx, inference).await?;
        Ok((inference.status.clone(), None))
    };
    match watch(ctx, job, deadline, refresh).await? {
        Waited::Finished(_) => inference_outcome(&reload_inference(ctx, id)?),
        Waited::TimedOut(_) => Err(still_running(ctx, "inference", id)),
    }
}

/// A job being waited for, as the progress line shows it.
struct Watched {
    label: String,
    started: SystemTime,
    /// How long such a job usually takes in service time.
    typical: Duration,
    cadence: Cadence,
}

/// Polls `refresh` (status and progress) at the job's cadence, with a
/// progress line, until the job ends or the deadline passes.
async fn watch<F, Fut>(
    ctx: &Context,
    job: Watched,
    deadline: Option<Instant>,
    refresh: F,
) -> Result<Waited<JobStatus>>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(JobStatus, Option<f64>)>>,
{
    let bar = JobProgress::new(
        &ctx.printer,
        job.label,
        job.started,
        ctx.service_time(job.typical),
    );
    let waited = poll::wait_for(
        ctx.cadence(job.cadence),
        deadline,
        || async {
            let (status, progress) = refresh().await?;
            bar.update(&status, progress);
            anyhow::Ok(status)
        },
        JobStatus::is_terminal,
    )
    .await;
    bar.finish();
    waited
}

pub fn reload_inference(ctx: &Context, id: &str) -> Result<Inference> {
    ctx.state
        .load()?
        .inference(id)
        .cloned()
        .context("the inference vanished from the state file")
}

pub fn model_outcome(ctx: &Context, id: &str, status: &JobStatus) -> Result<()> {
    match status {
        JobStatus::ImageNotValid => Err(Failure::JobFailed {
            what: "model",
            id: id.to_string(),
            status: status.to_string(),
            advice: Some(format!(
                "a reference photo could not be used; replace it (JPG or PNG, one clear face) and train again. \
                 The photos are listed in {}",
                ctx.state.path().display()
            )),
        }
        .into()),
        s if s.is_failure() => Err(Failure::JobFailed {
            what: "model",
            id: id.to_string(),
            status: status.to_string(),
            advice: Some("train again; if it keeps failing, try other photos".into()),
        }
        .into()),
        _ => Ok(()),
    }
}

pub fn inference_outcome(inference: &Inference) -> Result<()> {
    match &inference.status {
        JobStatus::Expired => Err(expired(inference)),
        s if s.is_failure() => Err(Failure::JobFailed {
            what: "inference",
            id: inference.id.clone(),
            status: s.to_string(),
            advice: Some("generate again from the same model".into()),
        }
        .into()),
        _ => Ok(()),
    }
}

pub fn expired(inference: &Inference) -> anyhow::Error {
    Failure::Expired {
        id: inference.id.clone(),
        lost: Some(inference.avatars.iter().filter(|a| !a.saved).count()),
    }
    .into()
}

pub fn still_running(ctx: &Context, what: &'static str, id: &str) -> anyhow::Error {
    Failure::StillRunning {
        what,
        id: id.to_string(),
        resume: format!("avatar {}status {id} --wait", ctx.mode_flag()),
    }
    .into()
}

/// Turns `--timeout` into a deadline for every wait of one command.
pub fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}
