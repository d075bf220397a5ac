//! Saving result pictures: streamed to `NAME.part` (constant memory whatever
//! the size), resumed with HTTP `Range` after an interruption, checked against
//! the announced length, synced, then renamed, so a file under its final name
//! is always complete. Result hosts are plain CDNs: no API key is sent to them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use rand::RngExt;
use reqwest::{StatusCode, header};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Tries per file before giving up; each resumes where the last one stopped.
const ATTEMPTS: u32 = 5;
const BACKOFF_BASE: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The host no longer serves the result (403/404/410): past its 48 hours.
    #[error("{url} is gone (HTTP {status}): the results have expired")]
    Gone { url: String, status: u16 },
    #[error("{url} answered HTTP {status}")]
    Http { url: String, status: u16 },
    #[error("downloading {url} failed")]
    Network {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// Past any reasonable picture size: an endless or runaway body.
    #[error(
        "{url} sent more than {limit} bytes; no avatar is that large, so the download was stopped"
    )]
    TooLarge { url: String, limit: u64 },
    /// A page, an error document or nothing at all, where a picture belongs.
    #[error("{url} did not send a picture (it sent {sent})")]
    NotAPicture { url: String, sent: String },
    #[error("{url} ended after {got} of {expected} bytes")]
    Truncated {
        url: String,
        got: u64,
        expected: u64,
    },
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl DownloadError {
    /// Worth another try: the network or the host may do better next time.
    fn is_transient(&self) -> bool {
        match self {
            Self::Network { .. } | Self::Truncated { .. } | Self::NotAPicture { .. } => true,
            Self::Http { status, .. } => *status == 429 || *status >= 500,
            Self::Gone { .. } | Self::Io { .. } | Self::TooLarge { .. } => false,
        }
    }
}

/// A complete file.
#[derive(Debug, Clone)]
pub struct Saved {
    pub size: u64,
    pub sha256: String,
}

/// Downloads `url` to `dest`, resuming a `dest.part` left by an earlier try;
/// `notice` hears about retries.
pub async fn download(
    http: &reqwest::Client,
    url: &str,
    dest: &Path,
    limit: u64,
    notice: &(dyn Fn(String) + Sync),
) -> Result<Saved, DownloadError> {
    let part = part_path(dest);
    let mut attempt = 1;
    let saved = loop {
        match fetch_into(http, url, &part, limit, notice).await {
            Ok(saved) => break saved,
            Err(e) if e.is_transient() && attempt < ATTEMPTS => {
                let ceiling = BACKOFF_BASE * 2u32.pow(attempt - 1);
                let wait = ceiling.mul_f64(rand::rng().random_range(0.0..=1.0));
                notice(format!(
                    "{e}; trying again in {:.1}s (attempt {} of {ATTEMPTS})",
                    wait.as_secs_f64(),
                    attempt + 1
                ));
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    };
    tokio::fs::rename(&part, dest)
        .await
        .map_err(|source| DownloadError::Io {
            path: dest.to_path_buf(),
            source,
        })?;
    Ok(saved)
}

/// One request: appends to `part` what the host sends, then checks and syncs.
async fn fetch_into(
    http: &reqwest::Client,
    url: &str,
    part: &Path,
    limit: u64,
    notice: &(dyn Fn(String) + Sync),
) -> Result<Saved, DownloadError> {
    let network = |source| DownloadError::Network {
        url: url.to_string(),
        source,
    };
    let io = |source| DownloadError::Io {
        path: part.to_path_buf(),
        source,
    };
    let have = tokio::fs::metadata(part).await.map_or(0, |m| m.len());
    let mut request = http.get(url);
    if have > 0 {
        request = request.header(header::RANGE, format!("bytes={have}-"));
    }
    let response = request.send().await.map_err(network)?;
    let status = response.status();
    let resumed = have > 0 && status == StatusCode::PARTIAL_CONTENT && starts_at(&response, have);
    match status {
        _ if resumed => notice(format!("resuming {url} from byte {have}")),
        StatusCode::OK => {}
        // The part no longer matches what the host has: start afresh.
        StatusCode::RANGE_NOT_SATISFIABLE | StatusCode::PARTIAL_CONTENT => {
            tokio::fs::remove_file(part).await.map_err(io)?;
            return Err(DownloadError::Truncated {
                url: url.to_string(),
                got: have,
                expected: 0,
            });
        }
        s @ (StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::GONE) => {
            return Err(DownloadError::Gone {
                url: url.to_string(),
                status: s.as_u16(),
            });
        }
        s => {
            return Err(DownloadError::Http {
                url: url.to_string(),
                status: s.as_u16(),
            });
        }
    }
    let start = if resumed { have } else { 0 };
    let expected = response.content_length().map(|len| start + len);
    let mut hasher = Sha256::new();
    let mut file = if resumed {
        hash_existing(part, &mut hasher).await.map_err(io)?;
        tokio::fs::OpenOptions::new()
            .append(true)
            .open(part)
            .await
            .map_err(io)?
    } else {
        tokio::fs::File::create(part).await.map_err(io)?
    };
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("no content type")
        .to_string();
    let mut written = start;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(source) => {
                // Keep what arrived: the next try resumes from it.
                file.flush().await.map_err(io)?;
                return Err(network(source));
            }
        };
        if written == 0 && !chunk.is_empty() && !is_picture(&chunk) {
            drop(file);
            tokio::fs::remove_file(part).await.map_err(io)?;
            return Err(not_a_picture(url, &content_type, &chunk));
        }
        written += chunk.len() as u64;
        if written > limit {
            drop(file);
            tokio::fs::remove_file(part).await.map_err(io)?;
            return Err(DownloadError::TooLarge {
                url: url.to_string(),
                limit,
            });
        }
        file.write_all(&chunk).await.map_err(io)?;
        hasher.update(&chunk);
    }
    if written == 0 {
        drop(file);
        tokio::fs::remove_file(part).await.map_err(io)?;
        return Err(not_a_picture(url, &content_type, &[]));
    }
    file.flush().await.map_err(io)?;
    if let Some(expected) = expected.filter(|&e| e != written) {
        return Err(DownloadError::Truncated {
            url: url.to_string(),
            got: written,
            expected,
        });
    }
    file.sync_all().await.map_err(io)?;
    Ok(Saved {
        size: written,
        sha256: hex::encode(hasher.finalize()),
    })
}

/// JPEG, PNG or WebP, by their first bytes.
fn is_picture(start: &[u8]) -> bool {
    start.starts_with(&[0xFF, 0xD8, 0xFF])
        || start.starts_with(b"\x89PNG")
        || (start.starts_with(b"RIFF") && start.get(8..12) == Some(b"WEBP"))
}

fn not_a_picture(url: &str, content_type: &str, start: &[u8]) -> DownloadError {
    let sent = if start.is_empty() {
        "an empty body".to_string()
    } else {
        let text: String = String::from_utf8_lossy(&start[..start.len().min(40)])
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        format!("{content_type}: \"{}…\"", text.trim())
    };
    DownloadError::NotAPicture {
        url: url.to_string(),
        sent,
    }
}

/// The host resumed where we asked (`Content-Range: bytes HAVE-…`).
fn starts_at(response: &reqwest::Response, have: u64) -> bool {
    response
        .headers()
        .get(header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes "))
        .and_then(|v| v.split('-').next())
        .and_then(|first| first.parse::<u64>().ok())
        == Some(have)
}

async fn hash_existing(path: &Path, hasher: &mut Sha256) -> std::io::Result<()> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let n = file.read(&mut buffer).await?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buffer[..n]);
    }
}

pub fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}
