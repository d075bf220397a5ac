//! Saving result pictures: streamed to `NAME.part`, checked against the
//! announced length, synced, then renamed, so a file under its final name is
//! always complete. Result hosts are plain CDNs: no API key is sent to them.

use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;

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

/// Downloads `url` to `dest`; returns the number of bytes written.
pub async fn download(
    http: &reqwest::Client,
    url: &str,
    dest: &Path,
) -> Result<u64, DownloadError> {
    let network = |source| DownloadError::Network {
        url: url.to_string(),
        source,
    };
    let response = http.get(url).send().await.map_err(network)?;
    match response.status() {
        s if s.is_success() => {}
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
    let expected = response.content_length();
    let part = part_path(dest);
    let io = |source| DownloadError::Io {
        path: part.clone(),
        source,
    };
    let mut file = tokio::fs::File::create(&part).await.map_err(io)?;
    let mut written = 0u64;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(network)?;
        file.write_all(&chunk).await.map_err(io)?;
        written += chunk.len() as u64;
    }
    if let Some(expected) = expected.filter(|&e| e != written) {
        return Err(DownloadError::Truncated {
            url: url.to_string(),
            got: written,
            expected,
        });
    }
    file.sync_all().await.map_err(io)?;
    drop(file);
    tokio::fs::rename(&part, dest)
        .await
        .map_err(|source| DownloadError::Io {
            path: dest.to_path_buf(),
            source,
        })?;
    Ok(written)
}

fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}
