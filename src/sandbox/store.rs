//! The sandbox's persistent jobs: `dir/jobs.json`, shared by every `avatar`
//! process that runs a sandbox on the same directory.
//!
//! A job stores when it was created and when it finishes (unix ms), never its
//! status: the status is computed from the wall clock on every read, so a job
//! keeps progressing between processes and a later process with another speed
//! does not change it.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::api::types::{JobStatus, ModelType};
use crate::durable::{FileLock, write_atomic};

/// Nominal durations of the real service, divided by the sandbox speed.
pub const TRAINING: Duration = Duration::from_secs(20 * 60);
pub const INFERENCE: Duration = Duration::from_secs(4 * 60);
pub const RESULT_LIFETIME: Duration = Duration::from_secs(48 * 60 * 60);

const FORMAT_VERSION: u32 = 1;

/// How long a writer waits for another process that is updating the store.
const LOCK_PATIENCE: Duration = Duration::from_secs(10);

#[derive(Debug, Default, Serialize, Deserialize)]
struct Jobs {
    version: u32,
    models: Vec<ModelRecord>,
    inferences: Vec<InferenceRecord>,
}

/// A training job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelRecord {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ModelType,
    /// The fetched reference photos, relative to the sandbox directory.
    pub images: Vec<String>,
    /// All reference photos decode as JPEG or PNG; if not, training fails.
    pub images_valid: bool,
    pub created_at: u64,
    pub done_at: u64,
    /// How the training ends instead of `DONE` (a fault knob), fixed when it is
    /// created so that every later process reports the same ending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<JobStatus>,
}

impl ModelRecord {
    /// Status and progress (0–100) at `now`: `ACCEPTED` for the first 2% of the
    /// training, then `IN_PROGRESS`, then `DONE` (or the `outcome` it was given).
    /// Invalid photos are "noticed" 10% into the training, as a real service
    /// would after some work.
    pub fn status(&self, now: u64) -> (JobStatus, Option<f64>) {
        let total = self.done_at.saturating_sub(self.created_at);
        let elapsed = now.saturating_sub(self.created_at);
        if !self.images_valid && elapsed >= total / 10 {
            (JobStatus::ImageNotValid, None)
        } else if now >= self.done_at {
            match &self.outcome {
                Some(outcome) => (outcome.clone(), None),
                None => (JobStatus::Done, Some(100.0)),
            }
        } else if elapsed < total / 50 {
            (JobStatus::Accepted, Some(0.0))
        } else {
            let percent = elapsed * 100 / total;
            (JobStatus::InProgress, Some(percent as f64))
        }
    }
}

/// A generation from a trained model, or an instant avatar (no model).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InferenceRecord {
    pub id: String,
    /// `None` for an instant avatar.
    pub model_id: Option<String>,
    /// Reference photos the avatars are drawn from, relative to the sandbox directory.
    pub sources: Vec<String>,
    /// The style of each avatar, in order: avatar `n` (from 1) is `styles[n - 1]`.
    pub styles: Vec<String>,
    pub created_at: u64,
    pub done_at: u64,
    pub expires_at: u64,
    /// How the inference ends instead of `DONE` (a fault knob), fixed at creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<JobStatus>,
}

impl InferenceRecord {
    pub fn status(&self, now: u64) -> JobStatus {
        if now >= self.done_at {
            self.outcome.clone().unwrap_or(JobStatus::Done)
        } else {
            JobStatus::InProgress
        }
    }

    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }
}

/// The sandbox directory and its `jobs.json`.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn jobs_path(&self) -> PathBuf {
        self.dir.join("jobs.json")
    }

    /// Reads without the lock: writers replace the file atomically.
    fn load(&self) -> io::Result<Jobs> {
        let path = self.jobs_path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Jobs {
                    version: FORMAT_VERSION,
                    ..Jobs::default()
                });
            }
            Err(e) => return Err(e),
        };
        let jobs: Jobs = serde_json::from_slice(&bytes)
            .map_err(|e| io::Error::other(format!("{} is corrupt: {e}", path.display())))?;
        if jobs.version != FORMAT_VERSION {
            return Err(io::Error::other(format!(
                "{} has format version {}, this sandbox reads version {FORMAT_VERSION}",
                path.display(),
                jobs.version
            )));
        }
        Ok(jobs)
    }

    /// Read-modify-write under the lock, so concurrent processes never lose a job.
    /// Blocks while another process holds the lock: call it off the async runtime.
    fn update(&self, change: impl FnOnce(&mut Jobs)) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.jobs_path();
        let _lock = FileLock::acquire(&path, LOCK_PATIENCE).map_err(io::Error::other)?;
        let mut jobs = self.load()?;
        change(&mut jobs);
        let bytes = serde_json::to_vec_pretty(&jobs).map_err(io::Error::other)?;
        write_atomic(&path, &bytes)
    }

    pub fn add_model(&self, model: ModelRecord) -> io::Result<()> {
        self.update(|jobs| jobs.models.push(model))
    }

    pub fn add_inference(&self, inference: InferenceRecord) -> io::Result<()> {
        self.update(|jobs| jobs.inferences.push(inference))
    }

    pub fn model(&self, id: &str) -> io::Result<Option<ModelRecord>> {
        Ok(self.load()?.models.into_iter().find(|m| m.id == id))
    }

    pub fn inference(&self, id: &str) -> io::Result<Option<InferenceRecord>> {
        Ok(self.load()?.inferences.into_iter().find(|i| i.id == id))
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `nominal` shrunk by `speed`, in ms.
pub fn scaled_ms(nominal: Duration, speed: f64) -> u64 {
    (nominal.as_millis() as f64 / speed).round() as u64
}

/// A random 32-hex-digit id, the shape of the service's ids.
pub fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(valid: bool) -> ModelRecord {
        ModelRecord {
            id: new_id(),
            kind: ModelType::Woman,
            images: vec![],
            images_valid: valid,
            created_at: 1_000,
            done_at: 2_000,
            outcome: None,
        }
    }

    #[test]
    fn training_status_follows_the_clock() {
        let m = model(true);
        assert_eq!(m.status(1_010), (JobStatus::Accepted, Some(0.0)));
        assert_eq!(m.status(1_400), (JobStatus::InProgress, Some(40.0)));
        assert_eq!(m.status(2_000), (JobStatus::Done, Some(100.0)));
    }

    #[test]
    fn invalid_photos_fail_a_tenth_of_the_way_in() {
        let m = model(false);
        assert_eq!(m.status(1_050).0, JobStatus::InProgress);
        assert_eq!(m.status(1_100).0, JobStatus::ImageNotValid);
        assert_eq!(m.status(5_000).0, JobStatus::ImageNotValid);
    }

    #[test]
    fn a_training_given_an_outcome_ends_with_it() {
        let m = ModelRecord {
            outcome: Some(JobStatus::Failed),
            ..model(true)
        };
        assert_eq!(m.status(1_400), (JobStatus::InProgress, Some(40.0)));
        assert_eq!(m.status(2_000), (JobStatus::Failed, None));
    }

    #[test]
    fn jobs_from_before_outcomes_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let old = r#"{"version": 1, "inferences": [], "models": [{"id": "m", "type": "dog",
            "images": [], "images_valid": true, "created_at": 1, "done_at": 2}]}"#;
        std::fs::write(dir.path().join("jobs.json"), old).unwrap();
        let m = Store::new(dir.path().into()).model("m").unwrap().unwrap();
        assert_eq!(m.status(3), (JobStatus::Done, Some(100.0)));
    }

    #[test]
    fn jobs_survive_a_new_store_on_the_same_dir() {
        let dir = tempfile::tempdir().unwrap();
        let m = model(true);
        Store::new(dir.path().into()).add_model(m.clone()).unwrap();
        let again = Store::new(dir.path().into());
        assert_eq!(again.model(&m.id).unwrap().unwrap().done_at, m.done_at);
        assert!(again.model("nope").unwrap().is_none());
    }
}
