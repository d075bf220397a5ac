//! The upload API (`/tools/1.0/upload`) and the public, CDN-like `/files/`
//! URLs it and the generated results are served from.

use std::io;

use axum::Json;
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::faults::cut_short;
use super::sources::ImageKind;
use super::store::{InferenceRecord, Store, new_id, now_ms};
use super::{App, blocking, render};
use crate::api::types::{ErrorBody, JobStatus, UploadResponse, UploadedImage};
use crate::durable::write_atomic;

/// Where an uploaded image comes from: one of the two fields the API accepts.
enum Source {
    File(Bytes),
    Url(String),
}

pub async fn upload(
    State(app): State<App>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<UploadResponse>, ApiError> {
    let mut multipart = multipart?;
    let mut sources = Vec::new();
    while let Some(field) = multipart.next_field().await? {
        // Other fields are ignored, as the real API ignores options it does not need.
        match field.name() {
            Some("image") => sources.push(Source::File(field.bytes().await?)),
            Some("image_url") => sources.push(Source::Url(field.text().await?)),
            _ => {}
        }
    }
    let bytes = match <[Source; 1]>::try_from(sources) {
        Ok([Source::File(bytes)]) => bytes.to_vec(),
        Ok([Source::Url(url)]) => app.fetcher.get(&url).await.map_err(|why| {
            ApiError::invalid(format!("image_url ({url}) could not be fetched: {why}"))
        })?,
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "send exactly one of the multipart fields `image` (a file) or `image_url`",
            ));
        }
    };
    // The documented limits, whichever field the image came in.
    if bytes.is_empty() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "the image is empty"));
    }
    if bytes.len() > super::MAX_UPLOAD_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the image is {:.1} MB; the upload limit is 100 MB",
                bytes.len() as f64 / 1e6
            ),
        ));
    }
    let kind = ImageKind::sniff(&bytes).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported file type: upload JPG, PNG, TIFF or WEBP",
        )
    })?;
    let name = format!("{}.{}", new_id(), kind.ext());
    let path = app.store.dir().join("uploads").join(&name);
    blocking(move || Ok(write_atomic(&path, &bytes)?)).await?;
    let url = format!("{}/files/uploads/{name}", app.base_url(&headers));
    Ok(Json(UploadResponse {
        status: Some("success".into()),
        data: UploadedImage { id: name, url },
    }))
}

pub async fn serve_upload(
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found(format!("no uploaded file {name}"));
    // Only names the sandbox hands out (`<hex id>.<ext>`), so no path escapes `uploads/`.
    let (id, ext) = name.split_once('.').ok_or_else(not_found)?;
    let kind = ImageKind::from_ext(ext)
        .filter(|_| id.chars().all(|c| c.is_ascii_hexdigit()))
        .ok_or_else(not_found)?;
    match tokio::fs::read(app.store.dir().join("uploads").join(&name)).await {
        Ok(bytes) => Ok(([(header::CONTENT_TYPE, kind.mime())], bytes).into_response()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(not_found()),
        Err(e) => Err(e.into()),
    }
}

/// `/files/results/{inference_id}/{n}.jpg`: avatar `n` (from 1) of an inference.
pub async fn serve_result(
    State(app): State<App>,
    Path((inference_id, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found(format!("no result {inference_id}/{file}"));
    let n: usize = file
        .strip_suffix(".jpg")
        .and_then(|n| n.parse().ok())
        .ok_or_else(not_found)?;
    let inference = app.store.inference(&inference_id)?.ok_or_else(not_found)?;
    let now = now_ms();
    if n == 0 || n > inference.styles.len() || inference.status(now) != JobStatus::Done {
        return Err(not_found());
    }
    if inference.is_expired(now) {
        // The CDN's answer for an expired result, not the API's error shape.
        let body = ErrorBody {
            detail: Some("result expired".into()),
            ..ErrorBody::default()
        };
        return Ok((StatusCode::FORBIDDEN, Json(body)).into_response());
    }
    let store = app.store.clone();
    let cut = app.faults.cut_downloads;
    let (jpeg, first) = blocking(move || {
        let jpeg = cached_or_rendered(&store, &inference, n)?;
        let first = cut && first_download(&store, &inference.id, n)?;
        Ok((jpeg, first))
    })
    .await?;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.split('-').next()?.parse::<usize>().ok());
    let len = jpeg.len();
    match range {
        Some(start) if start >= len => Ok((
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{len}"))],
        )
            .into_response()),
        Some(start) => Ok((
            StatusCode::PARTIAL_CONTENT,
            [
                (header::CONTENT_TYPE, "image/jpeg".to_string()),
                (
                    header::CONTENT_RANGE,
                    format!("bytes {start}-{}/{len}", len - 1),
                ),
            ],
            jpeg[start..].to_vec(),
        )
            .into_response()),
        None => {
            let whole = (
                [
                    (header::CONTENT_TYPE, "image/jpeg"),
                    (header::ACCEPT_RANGES, "bytes"),
                ],
                jpeg,
            )
                .into_response();
            Ok(if first {
                cut_short(whole, usize::MAX).await
            } else {
                whole
            })
        }
    }
}

/// True the first time result `n` is asked for: a marker file remembers it
/// across processes.
fn first_download(store: &Store, inference_id: &str, n: usize) -> Result<bool, ApiError> {
    let marker = store
        .dir()
        .join("results")
        .join(inference_id)
        .join(format!("{n}.cut"));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(marker)
    {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Renders on the first download and keeps the file, so later downloads are
/// cheap and byte-identical. Concurrent first downloads render the same bytes,
/// and atomic writes make either copy win cleanly.
fn cached_or_rendered(
    store: &Store,
    inference: &InferenceRecord,
    n: usize,
) -> Result<Vec<u8>, ApiError> {
    let path = store
        .dir()
        .join("results")
        .join(&inference.id)
        .join(format!("{n}.jpg"));
    match std::fs::read(&path) {
        Ok(jpeg) => return Ok(jpeg),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    let source = &inference.sources[(n - 1) % inference.sources.len()];
    let reference = std::fs::read(store.dir().join(source))?;
    let jpeg = render::avatar(&reference, &inference.styles[n - 1], n)
        .map_err(|e| ApiError::internal(format!("cannot render from {source}: {e}")))?;
    write_atomic(&path, &jpeg)?;
    Ok(jpeg)
}
