//! Reference photos to URLs: parallel, bounded uploads (retried by the
//! client, since an upload spends nothing), reusing a URL recorded by an
//! earlier training of the same bytes while it is still served.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result};
use futures_util::StreamExt as _;

use super::Context;
use crate::photos::{Format, Photo, Source};
use crate::progress::BatchProgress;
use crate::state::{ReferenceImage, State};

/// The upload API keeps files about 24 hours and a training needs them for
/// 30 minutes after it starts: reuse a URL only well inside that.
const REUSE_WITHIN: Duration = Duration::from_secs(20 * 3600);
/// How long to wait for a recorded URL to answer before uploading afresh.
const STILL_SERVED_TIMEOUT: Duration = Duration::from_secs(10);

/// Uploads (or reuses) every local photo; URLs pass through. Keeps the order.
pub async fn upload_all(
    ctx: &Context,
    sources: Vec<Source>,
    jobs: usize,
) -> Result<Vec<ReferenceImage>> {
    let api = ctx.api().await?;
    let now = SystemTime::now();
    // An in-process sandbox serves its uploads only while its process lives,
    // on a port of its own: another run's URLs may vanish under us.
    let recorded = if ctx.in_process_sandbox() {
        HashMap::new()
    } else {
        recorded_uploads(&ctx.state.load()?, now)
    };
    let files = sources
        .iter()
        .filter(|s| matches!(s, Source::File(_)))
        .count();
    let progress = BatchProgress::new(&ctx.printer, "uploading photos", files);
    let results: Vec<Result<(ReferenceImage, bool)>> =
        futures_util::stream::iter(sources.into_iter().enumerate())
            .map(|(n, source)| {
                let recorded = &recorded;
                let progress = &progress;
                async move {
                    let photo = match source {
                        Source::Url(url) => return Ok((user_url(url), false)),
                        Source::File(photo) => photo,
                    };
                    let done = upload_one(ctx, api, photo, n + 1, recorded).await;
                    if let Ok((_, reused)) = &done {
                        progress.done(
                            reused.then(|| "(some reused from an earlier upload)".to_string()),
                        );
                    }
                    done
                }
            })
            .buffered(jobs.max(1))
            .collect()
            .await;
    progress.finish();
    let mut images = Vec::with_capacity(results.len());
    let mut failures = Vec::new();
    let mut reused = 0;
    for result in results {
        match result {
            Ok((image, was_reused)) => {
                reused += usize::from(was_reused);
                images.push(image);
            }
            Err(e) => failures.push(e),
        }
    }
    if let Some(first) = failures.into_iter().next() {
        return Err(first);
    }
    if reused > 0 {
        ctx.printer.info(format!(
            "{reused} photo(s) reused from an earlier upload, {} uploaded",
            files - reused
        ));
    }
    Ok(images)
}

async fn upload_one(
    ctx: &Context,
    api: &super::Api,
    photo: Photo,
    n: usize,
    recorded: &HashMap<String, (String, SystemTime)>,
) -> Result<(ReferenceImage, bool)> {
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&photo.upload));
    let source = std::path::absolute(&photo.path)
        .unwrap_or_else(|_| photo.path.clone())
        .display()
        .to_string();
    if let Some((url, at)) = recorded.get(&sha256)
        && still_served(&api.downloads, url).await
    {
        ctx.printer
            .detail(format!("{}: reusing {url}", photo.path.display()));
        let image = ReferenceImage {
            source,
            url: url.clone(),
            sha256: Some(sha256),
            uploaded_at: Some(*at),
        };
        return Ok((image, true));
    }
    // A neutral name: the file name may be a person's name, and stays here.
    let name = format!(
        "photo-{n:02}.{}",
        match photo.format {
            Format::Jpeg => "jpg",
            Format::Png => "png",
        }
    );
    ctx.printer.detail(format!(
        "uploading {} ({} kB)",
        photo.path.display(),
        photo.upload.len() / 1000
    ));
    let uploaded = api
        .client
        .upload(&name, photo.upload)
        .await
        .with_context(|| format!("uploading {} failed", photo.path.display()))?;
    let now = SystemTime::now();
    let image = ReferenceImage {
        source,
        url: uploaded.url,
        sha256: Some(sha256),
        uploaded_at: Some(now),
    };
    ctx.state.update(|state| {
        state.uploads.retain(|u| is_fresh(u, now));
        state.uploads.push(image.clone());
    })?;
    Ok((image, false))
}

fn user_url(url: String) -> ReferenceImage {
    ReferenceImage {
        source: url.clone(),
        url,
        sha256: None,
        uploaded_at: None,
    }
}

/// Uploads recorded by earlier trainings, recent enough to reuse, by content.
fn recorded_uploads(state: &State, now: SystemTime) -> HashMap<String, (String, SystemTime)> {
    let mut found: HashMap<String, (String, SystemTime)> = HashMap::new();
    let images = state.models.iter().flat_map(|m| &m.images);
    for image in images.chain(&state.uploads) {
        let (Some(sha256), Some(at)) = (&image.sha256, image.uploaded_at) else {
            continue;
        };
        let newer = found.get(sha256).is_none_or(|(_, seen)| at > *seen);
        if is_fresh(image, now) && newer {
            found.insert(sha256.clone(), (image.url.clone(), at));
        }
    }
    found
}

fn is_fresh(image: &ReferenceImage, now: SystemTime) -> bool {
    image
        .uploaded_at
        .is_some_and(|at| now.duration_since(at).is_ok_and(|age| age < REUSE_WITHIN))
}

/// Whether the URL still serves the file; without the API key, like any
/// public result URL.
async fn still_served(http: &reqwest::Client, url: &str) -> bool {
    http.head(url)
        .timeout(STILL_SERVED_TIMEOUT)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}
