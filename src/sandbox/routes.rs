//! The `/v1` avatar API: training, generation, instant avatars, balance.

use std::path::Path as FsPath;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::error::ApiError;
use super::sources::{decodes, ext_of};
use super::store::{
    INFERENCE, InferenceRecord, ModelRecord, RESULT_LIFETIME, TRAINING, new_id, now_ms, scaled_ms,
};
use super::{App, Shared, blocking};
use crate::api::types::{
    Accepted, AvatarResult, Balance, GenerateRequest, InferenceStatus, JobStatus, MAX_IMAGES,
    MIN_IMAGES, ModelStatus, ModelType, Prompt, TrainRequest,
};
use crate::durable::write_atomic;

/// Avatars per prompt, and per generation.
const MAX_PER_PROMPT: u32 = 20;
const MAX_PER_GENERATION: usize = 100;

/// What `/balance` reports when the sandbox was given no credit limit.
const UNLIMITED_CREDITS: f64 = 1_000_000.0;

/// A JSON body whose rejection still becomes an error in the service's shape.
type Body<T> = Result<Json<T>, JsonRejection>;

type Created = (StatusCode, Json<Accepted>);

/// `POST /avatars/instant`; the client has no use for this type outside the
/// sandbox yet, so it lives here rather than in `api::types`.
#[derive(Debug, Deserialize)]
pub struct InstantRequest {
    images: Vec<String>,
    prompt: String,
    count: u32,
    #[serde(rename = "type", default)]
    kind: Option<ModelType>,
}

pub async fn train(State(app): State<App>, body: Body<TrainRequest>) -> Result<Created, ApiError> {
    app.require_credits()?;
    let Json(request) = body?;
    let count = request.images.len();
    if !(MIN_IMAGES..=MAX_IMAGES).contains(&count) {
        return Err(ApiError::invalid(format!(
            "images: a training takes {MIN_IMAGES} to {MAX_IMAGES} reference photo URLs, got {count}"
        )));
    }
    // Fetch before taking the store's lock: this may take seconds.
    let photos = app.fetcher.get_images(&request.images).await?;
    let id = new_id();
    let now = now_ms();
    let done_at = now + scaled_ms(TRAINING, app.speed);
    let (store, model_id) = (app.store.clone(), id.clone());
    let outcome = app.faults.training_outcome.clone();
    blocking(move || {
        let model = ModelRecord {
            images: save_photos(store.dir(), &format!("models/{model_id}"), &photos)?,
            images_valid: photos.iter().all(|p| decodes(p)),
            id: model_id,
            kind: request.kind,
            created_at: now,
            done_at,
            outcome,
        };
        Ok(store.add_model(model)?)
    })
    .await?;
    Ok(accepted(Some(id), None))
}

pub async fn model_status(
    State(app): State<App>,
    Path(model_id): Path<String>,
) -> Result<Json<ModelStatus>, ApiError> {
    let model = find_model(&app, &model_id)?;
    let (status, progress) = model.status(now_ms());
    Ok(Json(ModelStatus {
        model_id: Some(model.id),
        status,
        progress,
    }))
}

pub async fn generate(
    State(app): State<App>,
    Path(model_id): Path<String>,
    body: Body<GenerateRequest>,
) -> Result<Created, ApiError> {
    app.require_credits()?;
    let Json(request) = body?;
    let model = find_model(&app, &model_id)?;
    match model.status(now_ms()).0 {
        JobStatus::Done => {}
        status if status.is_failure() => {
            return Err(ApiError::conflict(format!(
                "model {model_id} failed (status {status}); train a new model with usable photos"
            )));
        }
        status => {
            return Err(ApiError::conflict(format!(
                "model {model_id} is not ready (status {status}); wait until it is DONE"
            )));
        }
    }
    let styles = expand_prompts(&request.prompts)?;
    let inference = new_inference(&app, new_id(), Some(model_id), model.images, styles);
    record(&app, inference).await
}

pub async fn inference_status(
    State(app): State<App>,
    Path((model_id, inference_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<InferenceStatus>, ApiError> {
    let inference = app
        .store
        .inference(&inference_id)?
        .filter(|i| i.model_id.as_ref() == Some(&model_id))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "inference {inference_id} of model {model_id} not found"
            ))
        })?;
    Ok(Json(status_of(&inference, &app.base_url(&headers))))
}

pub async fn instant(
    State(app): State<App>,
    body: Body<InstantRequest>,
) -> Result<Created, ApiError> {
    app.require_credits()?;
    let Json(request) = body?;
    if request.images.len() != 1 {
        return Err(ApiError::invalid(format!(
            "images: an instant avatar takes exactly 1 photo URL, got {}",
            request.images.len()
        )));
    }
    if request.prompt.trim().is_empty() {
        return Err(ApiError::invalid("prompt must not be empty"));
    }
    check_count("count", request.count)?;
    if matches!(request.kind, Some(ModelType::Dog | ModelType::Cat)) {
        return Err(ApiError::invalid(
            "type: instant avatars support man, woman or couple",
        ));
    }
    let photos = app.fetcher.get_images(&request.images).await?;
    let id = new_id();
    let store = app.store.clone();
    let (url, dir) = (request.images[0].clone(), format!("instant/{id}"));
    let sources = blocking(move || {
        // No training step to fail later: an unusable photo is refused at once.
        if !decodes(&photos[0]) {
            return Err(ApiError::invalid(format!(
                "image 1 ({url}) is not a JPEG or PNG photo"
            )));
        }
        Ok(save_photos(store.dir(), &dir, &photos)?)
    })
    .await?;
    let styles = vec![request.prompt; request.count as usize];
    record(&app, new_inference(&app, id, None, sources, styles)).await
}

pub async fn instant_status(
    State(app): State<App>,
    Path(inference_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<InferenceStatus>, ApiError> {
    let inference = app
        .store
        .inference(&inference_id)?
        .filter(|i| i.model_id.is_none())
        .ok_or_else(|| {
            ApiError::not_found(format!("instant inference {inference_id} not found"))
        })?;
    Ok(Json(status_of(&inference, &app.base_url(&headers))))
}

pub async fn balance(State(app): State<App>) -> Json<Balance> {
    Json(Balance {
        credits: app.credits.unwrap_or(UNLIMITED_CREDITS),
    })
}

fn find_model(app: &Shared, model_id: &str) -> Result<ModelRecord, ApiError> {
    app.store
        .model(model_id)?
        .ok_or_else(|| ApiError::not_found(format!("model {model_id} not found")))
}

fn accepted(model_id: Option<String>, inference_id: Option<String>) -> Created {
    let body = Accepted {
        status: Some(JobStatus::Accepted),
        model_id,
        inference_id,
    };
    (StatusCode::ACCEPTED, Json(body))
}

/// One style per avatar, in prompt order, after checking the service's limits.
fn expand_prompts(prompts: &[Prompt]) -> Result<Vec<String>, ApiError> {
    if prompts.is_empty() {
        return Err(ApiError::invalid(
            "prompts: send at least one {\"style\": …, \"count\": …}",
        ));
    }
    let mut styles = Vec::new();
    for (i, prompt) in prompts.iter().enumerate() {
        let n = i + 1;
        if prompt.style.trim().is_empty() {
            return Err(ApiError::invalid(format!(
                "prompt {n}: style must not be empty"
            )));
        }
        check_count(&format!("prompt {n}: count"), prompt.count)?;
        styles.extend(std::iter::repeat_n(
            prompt.style.clone(),
            prompt.count as usize,
        ));
    }
    if styles.len() > MAX_PER_GENERATION {
        return Err(ApiError::invalid(format!(
            "at most {MAX_PER_GENERATION} avatars per generation, asked for {}",
            styles.len()
        )));
    }
    Ok(styles)
}

fn check_count(what: &str, count: u32) -> Result<(), ApiError> {
    if (1..=MAX_PER_PROMPT).contains(&count) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "{what} must be 1 to {MAX_PER_PROMPT}, got {count}"
        )))
    }
}

fn new_inference(
    app: &Shared,
    id: String,
    model_id: Option<String>,
    sources: Vec<String>,
    styles: Vec<String>,
) -> InferenceRecord {
    let now = now_ms();
    let done_at = now + scaled_ms(INFERENCE, app.speed);
    InferenceRecord {
        id,
        model_id,
        sources,
        styles,
        created_at: now,
        done_at,
        expires_at: done_at + scaled_ms(RESULT_LIFETIME, app.speed),
        outcome: app.faults.inference_outcome.clone(),
    }
}

async fn record(app: &Shared, inference: InferenceRecord) -> Result<Created, ApiError> {
    let id = inference.id.clone();
    let store = app.store.clone();
    blocking(move || Ok(store.add_inference(inference)?)).await?;
    Ok(accepted(None, Some(id)))
}

/// The service's view of an inference: results are listed once it is done, and
/// stay listed after they expire (only downloading them fails then).
fn status_of(inference: &InferenceRecord, base_url: &str) -> InferenceStatus {
    let status = inference.status(now_ms());
    let data = if status == JobStatus::Done {
        (1..)
            .zip(&inference.styles)
            .map(|(n, style)| AvatarResult {
                id: Some(format!("{}_{n}", inference.id)),
                url: format!("{base_url}/files/results/{}/{n}.jpg", inference.id),
                style: Some(style.clone()),
            })
            .collect()
    } else {
        Vec::new()
    };
    InferenceStatus { status, data }
}

/// Saves photos as `<subdir>/<n>.<ext>` (n from 1) under the sandbox directory
/// and returns their paths relative to it.
fn save_photos(dir: &FsPath, subdir: &str, photos: &[Vec<u8>]) -> std::io::Result<Vec<String>> {
    (1..)
        .zip(photos)
        .map(|(n, bytes)| {
            let relative = format!("{subdir}/{n}.{}", ext_of(bytes));
            write_atomic(&dir.join(&relative), bytes)?;
            Ok(relative)
        })
        .collect()
}
