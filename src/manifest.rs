//! `manifest.json` in a download folder: what each file is, for scripts.
//! Entries of other inferences saved in the same folder are kept.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::durable::write_atomic;
use crate::state::Avatar;

pub const FILE_NAME: &str = "manifest.json";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    files: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    file: String,
    inference_id: String,
    model_id: String,
    #[serde(default)]
    style: Option<String>,
    url: String,
    size: Option<u64>,
    sha256: Option<String>,
}

/// Adds or replaces the entries of `saved` (files inside `dir`).
pub fn record(
    dir: &Path,
    inference_id: &str,
    model_id: &str,
    saved: &[Avatar],
) -> std::io::Result<()> {
    let ours: Vec<Entry> = saved
        .iter()
        .filter_map(|avatar| {
            let file = avatar.file.as_ref().filter(|f| f.parent() == Some(dir))?;
            Some(Entry {
                file: file.file_name()?.to_string_lossy().into_owned(),
                inference_id: inference_id.to_string(),
                model_id: model_id.to_string(),
                style: avatar.style.clone(),
                url: avatar.url.clone(),
                size: avatar.size,
                sha256: avatar.sha256.clone(),
            })
        })
        .collect();
    if ours.is_empty() {
        return Ok(());
    }
    let path = dir.join(FILE_NAME);
    // A manifest we cannot read is ours to rewrite: it only describes the files.
    let mut manifest: Manifest = std::fs::read(&path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    manifest
        .files
        .retain(|e| !ours.iter().any(|o| o.file == e.file));
    manifest.files.extend(ours);
    manifest.files.sort_by(|a, b| a.file.cmp(&b.file));
    let mut bytes = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    write_atomic(&path, &bytes)
}
