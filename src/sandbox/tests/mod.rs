//! The sandbox driven over real HTTP on 127.0.0.1, as the client drives it:
//! a shared harness, then the API (`api`), the faults as a client meets them
//! (`faults`) and the knobs that set them (`knobs`).

mod api;
mod faults;
mod knobs;

use std::io::Cursor;
use std::time::{Duration, Instant};

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tempfile::TempDir;

use super::{Config, Faults, Sandbox};
use crate::api::types::{
    API_KEY_HEADER, Accepted, CORRELATION_HEADER, InferenceStatus, JobStatus, ModelStatus,
    UploadResponse,
};

/// Fast enough that a training takes 120 ms, slow enough that results stay
/// downloadable for 17 s even on a loaded machine.
const FAST: f64 = 10_000.0;

struct Harness {
    dir: TempDir,
    sandbox: Sandbox,
    /// Sends the API key, like the client.
    http: reqwest::Client,
    /// Sends no key, like a browser opening a result URL.
    plain: reqwest::Client,
}

async fn start(speed: f64, credits: Option<f64>) -> Harness {
    start_with(speed, credits, Faults::default()).await
}

async fn start_with(speed: f64, credits: Option<f64>, faults: Faults) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        dir: dir.path().into(),
        speed,
        credits,
        faults,
    };
    let sandbox = Sandbox::start(config, 0).await.unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(API_KEY_HEADER, "test-key".parse().unwrap());
    let client = || reqwest::Client::builder().no_proxy();
    Harness {
        dir,
        sandbox,
        http: client().default_headers(headers).build().unwrap(),
        plain: client().build().unwrap(),
    }
}

/// A small non-square JPEG, different for each `seed`.
fn jpeg(seed: u8) -> Vec<u8> {
    let img = RgbImage::from_fn(80, 60, |x, y| Rgb([x as u8 * 3, y as u8 * 4, seed]));
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(img)
        .write_to(&mut out, ImageFormat::Jpeg)
        .unwrap();
    out.into_inner()
}

impl Harness {
    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.api_url())
    }

    async fn upload(&self, bytes: Vec<u8>) -> reqwest::Response {
        let form = Form::new().part("image", Part::bytes(bytes).file_name("photo.jpg"));
        let url = format!("{}/upload", self.sandbox.upload_url());
        self.http.post(url).multipart(form).send().await.unwrap()
    }

    async fn uploaded_url(&self, bytes: Vec<u8>) -> String {
        let response = self.upload(bytes).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<UploadResponse>().await.unwrap().data.url
    }

    async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.api(path))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> T {
        let response = self.http.get(self.api(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.unwrap()
    }

    /// Uploads five JPEGs plus `extra` and starts a training on them.
    async fn train(&self, extra: Option<Vec<u8>>) -> String {
        let mut urls = Vec::new();
        for seed in 0..5 {
            urls.push(self.uploaded_url(jpeg(seed * 40)).await);
        }
        if let Some(bytes) = extra {
            urls[4] = self.uploaded_url(bytes).await;
        }
        let response = self
            .post("/avatars/models", json!({"images": urls, "type": "woman"}))
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let accepted: Accepted = response.json().await.unwrap();
        assert_eq!(accepted.status, Some(JobStatus::Accepted));
        accepted.model_id.unwrap()
    }

    async fn wait_model(&self, model_id: &str) -> ModelStatus {
        let path = format!("/avatars/models/{model_id}");
        poll(
            || self.get::<ModelStatus>(&path),
            |m| m.status.is_terminal(),
        )
        .await
    }

    async fn generate(&self, model_id: &str, prompts: Value) -> reqwest::Response {
        let path = format!("/avatars/models/{model_id}/inferences");
        self.post(&path, json!({ "prompts": prompts })).await
    }

    async fn wait_inference(&self, path: &str) -> InferenceStatus {
        poll(
            || self.get::<InferenceStatus>(path),
            |i| i.status.is_terminal(),
        )
        .await
    }

    fn jobs(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.dir.path().join("jobs.json")).unwrap()).unwrap()
    }

    /// Another sandbox on the same directory that misbehaves as told.
    async fn faulty(&self, faults: Faults) -> Sandbox {
        let config = Config {
            dir: self.dir.path().into(),
            speed: FAST,
            credits: None,
            faults,
        };
        Sandbox::start(config, 0).await.unwrap()
    }
}

async fn poll<T, F: Future<Output = T>>(get: impl Fn() -> F, done: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let value = get().await;
        if done(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "job did not finish in time");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn error_detail(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["detail"].as_str().unwrap().to_string()
}

fn inference_id(accepted: Accepted) -> String {
    accepted.inference_id.unwrap()
}
