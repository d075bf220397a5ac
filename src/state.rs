//! The state file: the only index of a user's models and inferences, since the
//! service keeps none. This module is its only reader and writer.
//!
//! Every change is a locked read-modify-write ending in an atomic replace, so
//! concurrent `avatar` processes lose no update and a crash leaves the old or
//! the new file, never a torn one. A file we cannot read is never overwritten.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::api::types::{AvatarResult, InferenceStatus, JobStatus, ModelStatus, ModelType, Prompt};
use crate::durable::{FileLock, LockError, write_atomic};

pub const VERSION: u64 = 1;

/// How long to wait for another `avatar` process to finish its update: an
/// update takes milliseconds, so a longer hold means a stuck process.
pub const LOCK_PATIENCE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub version: u64,
    #[serde(default)]
    pub models: Vec<Model>,
    #[serde(default)]
    pub inferences: Vec<Inference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pipelines: Vec<Pipeline>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
    /// Recent uploads, recorded as each one finishes, so that a training
    /// that fails after them (no credits, Ctrl-C) uploads nothing again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uploads: Vec<ReferenceImage>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            version: VERSION,
            models: Vec::new(),
            inferences: Vec::new(),
            pipelines: Vec::new(),
            attempts: Vec::new(),
            uploads: Vec::new(),
        }
    }
}

/// A training the user paid for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Model {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ModelType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub images: Vec<ReferenceImage>,
    pub status: JobStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<f64>,
    #[serde(with = "humantime_serde")]
    pub created_at: SystemTime,
    #[serde(with = "humantime_serde", default)]
    pub checked_at: Option<SystemTime>,
    #[serde(with = "humantime_serde", default)]
    pub done_at: Option<SystemTime>,
}

/// A reference photo as the user named it, and the URL the service fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceImage {
    pub source: String,
    pub url: String,
    /// Of the bytes uploaded (the prepared JPEG, or the original file), so a
    /// later training of the same photo can reuse the URL. None for a URL
    /// given by the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// When it was uploaded: the upload API keeps files for about a day.
    #[serde(
        with = "humantime_serde",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub uploaded_at: Option<SystemTime>,
}

/// A generation the user paid for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Inference {
    pub id: String,
    pub model_id: String,
    pub prompts: Vec<Prompt>,
    pub status: JobStatus,
    #[serde(with = "humantime_serde")]
    pub created_at: SystemTime,
    #[serde(with = "humantime_serde", default)]
    pub checked_at: Option<SystemTime>,
    #[serde(with = "humantime_serde", default)]
    pub done_at: Option<SystemTime>,
    /// When the service deletes the results. Estimated on the safe side: from
    /// the last time the job was seen unfinished, not from when we saw it done.
    #[serde(with = "humantime_serde", default)]
    pub expires_at: Option<SystemTime>,
    #[serde(default)]
    pub avatars: Vec<Avatar>,
}

/// One result picture, and where we save it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Avatar {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
    /// Where it goes; recorded before the download starts, so that a file
    /// left there by an interrupted run is known to be ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// The file is complete.
    #[serde(default)]
    pub saved: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl Inference {
    pub fn is_downloaded(&self) -> bool {
        !self.avatars.is_empty() && self.avatars.iter().all(|a| a.saved)
    }

    pub fn styles(&self) -> String {
        self.prompts
            .iter()
            .map(|p| format!("{}:{}", p.style, p.count))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// One `avatar run`, known by a fingerprint of its inputs, so that running
/// the same command again continues it instead of paying again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pipeline {
    /// Local: tells apart two runs of the same inputs (`--new`).
    #[serde(default)]
    pub id: String,
    pub fingerprint: String,
    #[serde(with = "humantime_serde")]
    pub created_at: SystemTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_id: Option<String>,
}

/// A paid request on its way, recorded before it is sent. It is removed when
/// the answer is known; one left behind (the answer broke off, or the process
/// died) may have created a job whose id we never learnt, so the user is told
/// instead of being made to pay twice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    /// Local only: the service has no id for what it may never have received.
    pub id: String,
    /// `training` or `generation`.
    pub what: String,
    #[serde(with = "humantime_serde")]
    pub sent_at: SystemTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// The id of the `run` it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    /// What was asked for (photo URLs and type, or styles).
    pub request: serde_json::Value,
    /// Why the outcome is unknown; none if the process died waiting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unconfirmed: Option<String>,
}

/// What an id the user typed refers to.
#[derive(Debug, Clone, Copy)]
pub enum Job<'a> {
    Model(&'a Model),
    Inference(&'a Inference),
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read the state file {path}")]
    Unreadable { path: PathBuf, source: io::Error },
    #[error(
        "the state file {path} is not valid ({reason}); it was left untouched. \
         Repair it by hand, or move it aside to start a new one (the ids in it are your only record of paid jobs)"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "the state file {path} was written by a newer avatar (format version {version}, this one reads {VERSION}); \
         it was left untouched. Upgrade avatar"
    )]
    TooNew { path: PathBuf, version: u64 },
    #[error("cannot lock the state file")]
    Locked(#[from] LockError),
    #[error("cannot write the state file {path}")]
    Unwritable { path: PathBuf, source: io::Error },
}

#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
    patience: Duration,
}

impl StateFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            patience: LOCK_PATIENCE,
        }
    }

    pub fn with_patience(mut self, patience: Duration) -> Self {
        self.patience = patience;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the state; a missing file is an empty state.
    pub fn load(&self) -> Result<State, StateError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(State::default()),
            Err(source) => {
                return Err(StateError::Unreadable {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let corrupt = |reason: String| StateError::Corrupt {
            path: self.path.clone(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let version = value
            .get("version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| corrupt("no `version` number".into()))?;
        if version > VERSION {
            return Err(StateError::TooNew {
                path: self.path.clone(),
                version,
            });
        }
        serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))
    }

    /// Applies `change` under the lock and saves atomically; returns what
    /// `change` returns.
    pub fn update<R>(&self, change: impl FnOnce(&mut State) -> R) -> Result<R, StateError> {
        let _lock = FileLock::acquire(&self.path, self.patience)?;
        let mut state = self.load()?;
        let result = change(&mut state);
        let mut bytes = serde_json::to_vec_pretty(&state).expect("state serialises");
        bytes.push(b'\n');
        write_atomic(&self.path, &bytes).map_err(|source| StateError::Unwritable {
            path: self.path.clone(),
            source,
        })?;
        Ok(result)
    }
}

impl State {
    pub fn model(&self, id: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.id == id)
    }

    pub fn inference(&self, id: &str) -> Option<&Inference> {
        self.inferences.iter().find(|i| i.id == id)
    }

    pub fn inference_mut(&mut self, id: &str) -> Option<&mut Inference> {
        self.inferences.iter_mut().find(|i| i.id == id)
    }

    /// The latest pipeline started with these inputs.
    pub fn latest_pipeline(&self, fingerprint: &str) -> Option<&Pipeline> {
        self.pipelines
            .iter()
            .rev()
            .find(|p| p.fingerprint == fingerprint)
    }

    pub fn pipeline_mut(&mut self, id: &str) -> Option<&mut Pipeline> {
        self.pipelines.iter_mut().find(|p| p.id == id)
    }

    /// Finds a job by its id or an unambiguous prefix of it (like git).
    pub fn find(&self, id: &str) -> Result<Job<'_>, FindError> {
        if let Some(m) = self.model(id) {
            return Ok(Job::Model(m));
        }
        if let Some(i) = self.inference(id) {
            return Ok(Job::Inference(i));
        }
        let mut found = self
            .models
            .iter()
            .filter(|m| m.id.starts_with(id))
            .map(Job::Model)
            .chain(
                self.inferences
                    .iter()
                    .filter(|i| i.id.starts_with(id))
                    .map(Job::Inference),
            );
        match (found.next(), found.next()) {
            (Some(job), None) if id.len() >= 4 => Ok(job),
            (Some(_), _) => Err(FindError::Ambiguous(id.to_string())),
            (None, _) => Err(FindError::Unknown(id.to_string())),
        }
    }

    pub fn record_model_status(&mut self, id: &str, status: &ModelStatus, now: SystemTime) {
        if let Some(model) = self.models.iter_mut().find(|m| m.id == id) {
            if status.status == JobStatus::Done && model.done_at.is_none() {
                model.done_at = Some(now);
            }
            model.status = status.status.clone();
            model.progress = status.progress.or(model.progress);
            model.checked_at = Some(now);
        }
    }

    /// `window` is how long the service keeps results once they are ready.
    pub fn record_inference_status(
        &mut self,
        id: &str,
        status: &InferenceStatus,
        now: SystemTime,
        window: Duration,
    ) {
        let Some(inference) = self.inferences.iter_mut().find(|i| i.id == id) else {
            return;
        };
        if inference.status == JobStatus::Expired {
            return;
        }
        if status.status == JobStatus::Done && inference.done_at.is_none() {
            let last_seen_unfinished = inference.checked_at.unwrap_or(inference.created_at);
            inference.done_at = Some(now);
            inference.expires_at = Some(last_seen_unfinished + window);
        }
        inference.status = status.status.clone();
        inference.checked_at = Some(now);
        merge_avatars(&mut inference.avatars, &status.data);
        // Past the window the service may still list the results, but their
        // files are gone: what was not saved is lost.
        if inference.expires_at.is_some_and(|at| at <= now) && !inference.is_downloaded() {
            inference.status = JobStatus::Expired;
        }
    }
}

/// The service's list is the truth for URLs (they may be re-signed, or a
/// sandbox may move to another port); what we saved stays with its position.
fn merge_avatars(avatars: &mut Vec<Avatar>, results: &[AvatarResult]) {
    for (index, result) in results.iter().enumerate() {
        match avatars.get_mut(index) {
            Some(avatar) => {
                avatar.url = result.url.clone();
                avatar.style = result.style.clone().or(avatar.style.take());
            }
            None => avatars.push(Avatar {
                url: result.url.clone(),
                style: result.style.clone(),
                file: None,
                saved: false,
                size: None,
                sha256: None,
            }),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("no recorded model or inference has the id `{0}`; `avatar status` lists them")]
    Unknown(String),
    #[error("`{0}` matches several recorded jobs; type more of the id")]
    Ambiguous(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(id: &str) -> Model {
        Model {
            id: id.into(),
            kind: ModelType::Woman,
            label: None,
            images: vec![],
            status: JobStatus::Accepted,
            progress: None,
            created_at: SystemTime::UNIX_EPOCH,
            checked_at: None,
            done_at: None,
        }
    }

    #[test]
    fn finds_by_unambiguous_prefix() {
        let mut state = State::default();
        state.models.push(model("abcd1234"));
        state.models.push(model("abce9999"));
        assert!(matches!(state.find("abcd"), Ok(Job::Model(m)) if m.id == "abcd1234"));
        assert!(matches!(state.find("abc"), Err(FindError::Ambiguous(_))));
        assert!(matches!(state.find("zz"), Err(FindError::Unknown(_))));
    }

    #[test]
    fn corrupt_and_newer_files_are_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let file = StateFile::new(&path);
        std::fs::write(&path, b"{not json").unwrap();
        assert!(matches!(
            file.update(|_| ()),
            Err(StateError::Corrupt { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"{not json");
        std::fs::write(&path, br#"{"version": 2, "models": []}"#).unwrap();
        assert!(matches!(
            file.load(),
            Err(StateError::TooNew { version: 2, .. })
        ));
    }

    #[test]
    fn expiry_counts_from_the_last_unfinished_sighting() {
        let mut state = State::default();
        let created = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        state.inferences.push(Inference {
            id: "i".into(),
            model_id: "m".into(),
            prompts: vec![],
            status: JobStatus::InProgress,
            created_at: created,
            checked_at: None,
            done_at: None,
            expires_at: None,
            avatars: vec![],
        });
        let done = InferenceStatus {
            status: JobStatus::Done,
            data: vec![],
        };
        let later = created + Duration::from_secs(500);
        state.record_inference_status("i", &done, later, Duration::from_secs(100));
        let i = state.inference("i").unwrap();
        assert_eq!(i.done_at, Some(later));
        assert_eq!(i.expires_at, Some(created + Duration::from_secs(100)));
    }
}
