//! `requests.jsonl` in the sandbox directory: one JSON line per request the
//! sandbox receives, so a test can check what each host was sent, such as that
//! result files never received the API key. Header names only, never values:
//! the key must not be written anywhere.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::store::now_ms;
use super::{App, blocking};

pub const LOG_FILE: &str = "requests.jsonl";

#[derive(Debug, Serialize)]
struct Line<'a> {
    at_ms: u64,
    method: &'a str,
    path: &'a str,
    /// `api` (`/v1`), `upload` (`/tools`), `files` (the CDN's `/files`), or
    /// `other` for URLs no real host serves.
    host_kind: &'static str,
    /// Lowercase, each name once.
    headers: Vec<&'a str>,
}

/// The middleware: writes the line before the request is handled, so the log
/// is in the order the requests arrived.
pub async fn record(State(app): State<App>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let line = Line {
        at_ms: now_ms(),
        method: request.method().as_str(),
        path,
        host_kind: host_kind(path),
        headers: request.headers().keys().map(|name| name.as_str()).collect(),
    };
    let mut bytes = serde_json::to_vec(&line).expect("strings and numbers serialise");
    bytes.push(b'\n');
    let log = app.store.dir().join(LOG_FILE);
    // A log that cannot be written would let a test pass on missing lines: fail loudly.
    if let Err(error) = blocking(move || Ok(append(&log, &bytes)?)).await {
        return error.into_response();
    }
    next.run(request).await
}

fn host_kind(path: &str) -> &'static str {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    if under("/v1") {
        "api"
    } else if under("/tools") {
        "upload"
    } else if under("/files") {
        "files"
    } else {
        "other"
    }
}

/// The whole line in one `write` with `O_APPEND`: lines from concurrent
/// processes never interleave.
fn append(log: &Path, line: &[u8]) -> io::Result<()> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?
        .write_all(line)
}
