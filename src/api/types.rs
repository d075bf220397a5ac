//! Wire types of the Picsart avatar API, shared by the client and the sandbox.
//!
//! Every field name here that the public documentation does not state is marked
//! `[inferred]` in `shared/api/picsart-avatars.md`; this file is the one place to
//! correct them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a model is trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelType {
    Man,
    Woman,
    Couple,
    Dog,
    Cat,
}

impl ModelType {
    pub const ALL: [ModelType; 5] = [Self::Man, Self::Woman, Self::Couple, Self::Dog, Self::Cat];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Man => "man",
            Self::Woman => "woman",
            Self::Couple => "couple",
            Self::Dog => "dog",
            Self::Cat => "cat",
        }
    }
}

impl fmt::Display for ModelType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown type `{s}`: expected one of man, woman, couple, dog, cat")
            })
    }
}

/// Reference photos accepted by one training.
pub const MIN_IMAGES: usize = 5;
pub const MAX_IMAGES: usize = 30;

/// The state of a training or an inference, in either of the service's two
/// vocabularies (`IN_PROGRESS/DONE/FAILED` and the 2026 `processing/success/error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    Accepted,
    InProgress,
    Done,
    Failed,
    /// A reference photo could not be used; the user must replace it.
    ImageNotValid,
    /// Expired results: set by the client, never sent by the service.
    Expired,
    /// A status word we do not know: kept visible, treated as still pending.
    Other(String),
}

impl JobStatus {
    pub fn parse(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "accepted" | "queued" | "pending" => Self::Accepted,
            "in_progress" | "processing" | "running" => Self::InProgress,
            "done" | "success" | "succeeded" | "completed" => Self::Done,
            "failed" | "error" => Self::Failed,
            "image_not_valid" => Self::ImageNotValid,
            "expired" => Self::Expired,
            _ => Self::Other(s.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Accepted => "ACCEPTED",
            Self::InProgress => "IN_PROGRESS",
            Self::Done => "DONE",
            Self::Failed => "FAILED",
            Self::ImageNotValid => "IMAGE_NOT_VALID",
            Self::Expired => "EXPIRED",
            Self::Other(s) => s,
        }
    }

    /// The job will not change any more.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Done | Self::Failed | Self::ImageNotValid | Self::Expired
        )
    }

    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Failed | Self::ImageNotValid)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for JobStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for JobStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::parse(&String::deserialize(d)?))
    }
}

/// `POST /avatars/models`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainRequest {
    pub images: Vec<String>,
    #[serde(rename = "type")]
    pub kind: ModelType,
}

/// One prompt of a generation: a style and how many avatars of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub style: String,
    pub count: u32,
}

/// `POST /avatars/models/{model_id}/inferences`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenerateRequest {
    pub prompts: Vec<Prompt>,
}

/// The answer to a training or generation POST (`202`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Accepted {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<JobStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_id: Option<String>,
}

/// `GET /avatars/models/{model_id}`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    pub status: JobStatus,
    /// 0–100, [inferred]: shown when present, estimated otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<f64>,
}

/// `GET /avatars/models/{model_id}/inferences/{inference_id}`
#[derive(Debug, Clone, Serialize)]
pub struct InferenceStatus {
    pub status: JobStatus,
    pub data: Vec<AvatarResult>,
}

/// One generated avatar as the service lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvatarResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<String>,
}

/// Liberal reading of an inference status: `data` may hold objects or plain URL
/// strings, and may be named `urls`.
impl<'de> Deserialize<'de> for InferenceStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Item {
            Url(String),
            Avatar(AvatarResult),
        }
        #[derive(Deserialize)]
        struct Raw {
            status: JobStatus,
            #[serde(default, alias = "urls")]
            data: Option<Vec<Item>>,
        }
        let raw = Raw::deserialize(d)?;
        let data = raw
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|item| match item {
                Item::Url(url) => AvatarResult {
                    id: None,
                    url,
                    style: None,
                },
                Item::Avatar(a) => a,
            })
            .collect();
        Ok(Self {
            status: raw.status,
            data,
        })
    }
}

/// `GET /balance`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Balance {
    pub credits: f64,
}

/// `POST {upload}/upload` → `{"status": "success", "data": {...}}`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    pub data: UploadedImage,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadedImage {
    #[serde(alias = "image_id")]
    pub id: String,
    #[serde(alias = "image_url")]
    pub url: String,
}

/// The service's error body, in any of its known shapes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<serde_json::Value>,
}

impl ErrorBody {
    /// The most specific text the body carries.
    pub fn best_text(&self) -> Option<String> {
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        };
        let fault = self
            .fault
            .as_ref()
            .and_then(|f| f.get("faultstring"))
            .and_then(text);
        self.detail
            .as_ref()
            .and_then(text)
            .or(fault)
            .or_else(|| self.message.clone().filter(|m| !m.is_empty()))
    }
}

pub const API_KEY_HEADER: &str = "X-Picsart-API-Key";
pub const CORRELATION_HEADER: &str = "X-Picsart-Correlation-Id";
pub const RATE_LIMIT_RESET_HEADER: &str = "X-Picsart-Ratelimit-Reset-Time";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_status_vocabularies() {
        assert_eq!(JobStatus::parse("success"), JobStatus::Done);
        assert_eq!(JobStatus::parse("DONE"), JobStatus::Done);
        assert_eq!(JobStatus::parse("processing"), JobStatus::InProgress);
        assert_eq!(JobStatus::parse("error"), JobStatus::Failed);
        assert_eq!(
            JobStatus::parse("IMAGE_NOT_VALID"),
            JobStatus::ImageNotValid
        );
        assert_eq!(JobStatus::parse("weird"), JobStatus::Other("weird".into()));
        assert!(!JobStatus::parse("weird").is_terminal());
    }

    #[test]
    fn reads_inference_results_liberally() {
        let objects: InferenceStatus = serde_json::from_str(
            r#"{"status":"DONE","data":[{"id":"a1","url":"https://x/a1.jpg","style":"realistic","extra":1}]}"#,
        )
        .unwrap();
        assert_eq!(objects.data[0].url, "https://x/a1.jpg");
        let strings: InferenceStatus =
            serde_json::from_str(r#"{"status":"success","urls":["https://x/1.jpg"]}"#).unwrap();
        assert_eq!(strings.data[0].url, "https://x/1.jpg");
        let pending: InferenceStatus = serde_json::from_str(r#"{"status":"processing"}"#).unwrap();
        assert!(pending.data.is_empty());
    }

    #[test]
    fn picks_the_most_specific_error_text() {
        let body: ErrorBody = serde_json::from_str(
            r#"{"code":422,"message":"Unprocessable Entity","detail":"images: too few"}"#,
        )
        .unwrap();
        assert_eq!(body.best_text().unwrap(), "images: too few");
        let fault: ErrorBody = serde_json::from_str(
            r#"{"fault":{"faultstring":"Rate limit quota violation","detail":{"errorcode":"x"}}}"#,
        )
        .unwrap();
        assert_eq!(fault.best_text().unwrap(), "Rate limit quota violation");
        let upload: UploadResponse = serde_json::from_str(
            r#"{"status":"success","data":{"image_id":"1.jpg","image_url":"https://c/1.jpg"}}"#,
        )
        .unwrap();
        assert_eq!(upload.data.url, "https://c/1.jpg");
    }
}
