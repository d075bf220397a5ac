//! Each fault knob as a client meets it. The faults are certain here
//! (probability 1), and the training they spoil goes to a second, faulty
//! sandbox on the same directory, so its photos come from a well-behaved one.

use std::time::SystemTime;

use super::*;
use crate::sandbox::{Fault, REQUEST_LOG, parse_random};

/// Short, so a stalled request costs the suite little.
const STALL: Duration = Duration::from_millis(300);

fn always(fault: Fault) -> Faults {
    Faults {
        random: vec![(fault, 1.0)],
        stall: STALL,
        ..Faults::default()
    }
}

fn models(h: &Harness) -> usize {
    match std::fs::read(h.dir.path().join("jobs.json")) {
        Ok(_) => h.jobs()["models"].as_array().unwrap().len(),
        Err(_) => 0,
    }
}

/// Five photos uploaded to the well-behaved sandbox, as a training request.
async fn training(h: &Harness) -> Value {
    let mut urls = Vec::new();
    for seed in 0..5 {
        urls.push(h.uploaded_url(jpeg(seed * 40)).await);
    }
    json!({"images": urls, "type": "man"})
}

async fn send_training(h: &Harness, to: &Sandbox, body: &Value) -> reqwest::Response {
    let url = format!("{}/avatars/models", to.api_url());
    h.http.post(url).json(body).send().await.unwrap()
}

async fn get_on(h: &Harness, to: &Sandbox, path: &str) -> reqwest::Response {
    let url = format!("{}{path}", to.api_url());
    h.http.get(url).send().await.unwrap()
}

/// Starts a training on `h`, whatever status vocabulary it answers in.
async fn new_model(h: &Harness) -> String {
    let response = h.post("/avatars/models", training(h).await).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    body["model_id"].as_str().unwrap().to_string()
}

/// A trained model and a finished inference of it: `(model path, inference path)`.
async fn finished_inference(h: &Harness) -> (String, String) {
    let model_id = new_model(h).await;
    assert_eq!(h.wait_model(&model_id).await.status, JobStatus::Done);
    let response = h
        .generate(&model_id, json!([{"style": "realistic", "count": 2}]))
        .await;
    let inference_id = inference_id(response.json().await.unwrap());
    let model = format!("/avatars/models/{model_id}");
    let inference = format!("{model}/inferences/{inference_id}");
    assert_eq!(h.wait_inference(&inference).await.status, JobStatus::Done);
    (model, inference)
}

#[tokio::test]
async fn refusals_come_before_anything_is_done() {
    let h = start(FAST, None).await;
    let body = training(&h).await;
    for fault in &Fault::ALL[..7] {
        let faulty = h.faulty(always(*fault)).await;
        let response = send_training(&h, &faulty, &body).await;
        let status = response.status();
        let headers = response.headers().clone();
        let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_string());
        let body: Value = response.json().await.unwrap();
        assert!(header(CORRELATION_HEADER).is_some(), "{fault}");
        match fault {
            Fault::RateLimited => assert_eq!(header("retry-after").unwrap(), "1"),
            Fault::RateLimitedDate => {
                let at = httpdate::parse_http_date(&header("retry-after").unwrap()).unwrap();
                let ahead = at.duration_since(SystemTime::now()).unwrap();
                assert!(ahead <= Duration::from_secs(2), "{ahead:?}");
            }
            Fault::RateLimitedReset => {
                assert_eq!(header("x-picsart-ratelimit-reset-time").unwrap(), "1");
                assert_eq!(header("retry-after"), None);
            }
            Fault::RateLimitedBare => {
                assert_eq!(header("retry-after"), None);
                assert_eq!(header("x-picsart-ratelimit-reset-time"), None);
                let expected = json!({"fault": {"faultstring": "Rate limit quota violation",
                    "detail": {"errorcode": "policies.ratelimit.QuotaViolation"}}});
                assert_eq!(body, expected);
            }
            _ => assert_eq!(body["code"], status.as_u16(), "{fault}"),
        }
        let expected = match fault {
            Fault::ServerError => 500,
            Fault::BadGateway => 502,
            Fault::Unavailable => 503,
            _ => 429,
        };
        assert_eq!(status.as_u16(), expected, "{fault}");
    }
    assert_eq!(models(&h), 0, "a refused training must not exist");
}

#[tokio::test]
async fn a_reset_cuts_the_answer_after_the_job_is_made() {
    let h = start(FAST, None).await;
    let body = training(&h).await;
    let faulty = h.faulty(always(Fault::Reset)).await;
    let response = send_training(&h, &faulty, &body).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert!(response.content_length().unwrap() > 8);
    assert!(response.bytes().await.is_err(), "the body must break off");
    assert_eq!(models(&h), 1);
}

#[tokio::test]
async fn a_stall_holds_the_answer_back() {
    let h = start(FAST, None).await;
    let body = training(&h).await;
    let faulty = h.faulty(always(Fault::Stall)).await;
    let started = Instant::now();
    let response = send_training(&h, &faulty, &body).await;
    assert!(started.elapsed() >= STALL);
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let accepted: Accepted = response.json().await.unwrap();
    assert!(accepted.model_id.is_some());
    assert_eq!(models(&h), 1);

    let impatient = h.http.get(format!("{}/balance", faulty.api_url()));
    let error = impatient
        .timeout(Duration::from_millis(100))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
}

#[tokio::test]
async fn malformed_and_empty_answers_come_after_the_work() {
    let h = start(FAST, None).await;
    let body = training(&h).await;
    for (fault, text) in [(Fault::Malformed, r#"{"status": "DO"#), (Fault::Empty, "")] {
        let faulty = h.faulty(always(fault)).await;
        let response = send_training(&h, &faulty, &body).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.text().await.unwrap(), text);
    }
    assert_eq!(models(&h), 2);
}

#[tokio::test]
async fn answers_gain_or_lose_fields() {
    let h = start(FAST, None).await;
    let (model, inference) = finished_inference(&h).await;

    let extra = h.faulty(always(Fault::Extra)).await;
    let response = get_on(&h, &extra, &model).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["eta"], 12);
    assert!(body["_sandbox"]["note"].is_string());
    let status: ModelStatus = serde_json::from_value(body).unwrap();
    assert_eq!(status.status, JobStatus::Done);
    let body: Value = get_on(&h, &extra, &inference).await.json().await.unwrap();
    assert_eq!(body["data"][1]["nsfw"], false);
    let status: InferenceStatus = serde_json::from_value(body).unwrap();
    assert_eq!(status.data.len(), 2);

    let missing = h.faulty(always(Fault::Missing)).await;
    let response = get_on(&h, &missing, &model).await;
    assert!(!response.headers().contains_key(CORRELATION_HEADER));
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"status": "DONE"})
    );
    let body: Value = get_on(&h, &missing, &inference).await.json().await.unwrap();
    let item = body["data"][0].as_object().unwrap();
    assert_eq!(item.keys().collect::<Vec<_>>(), ["url"]);
    // A new job's id is not optional: the answer to a POST keeps it.
    let response = send_training(&h, &missing, &training(&h).await).await;
    let accepted: Accepted = response.json().await.unwrap();
    assert!(accepted.model_id.is_some());
}

/// The statuses a sandbox answers to `count` balance reads.
async fn draws(seed: u64, count: usize) -> Vec<u16> {
    let faults = Faults {
        random: parse_random("500:0.3,503:0.2").unwrap(),
        seed,
        ..Faults::default()
    };
    let h = start_with(FAST, None, faults).await;
    let mut statuses = Vec::new();
    for _ in 0..count {
        let response = h.http.get(h.api("/balance")).send().await.unwrap();
        statuses.push(response.status().as_u16());
    }
    statuses
}

#[tokio::test]
async fn a_seed_repeats_its_faults() {
    let first = draws(7, 40).await;
    assert_eq!(draws(7, 40).await, first);
    for status in [200, 500, 503] {
        assert!(first.contains(&status), "{first:?}");
    }
    assert_ne!(draws(8, 40).await, first);
}

#[tokio::test]
async fn trainings_and_inferences_end_as_told() {
    for outcome in [JobStatus::Failed, JobStatus::ImageNotValid] {
        let faults = Faults {
            training_outcome: Some(outcome.clone()),
            ..Faults::default()
        };
        let h = start_with(FAST, None, faults).await;
        let model_id = h.train(None).await;
        assert_eq!(h.wait_model(&model_id).await.status, outcome);
        assert_eq!(h.jobs()["models"][0]["outcome"], outcome.as_str());
        // The ending belongs to the job: a sandbox without the knob keeps it.
        let later = h.faulty(Faults::default()).await;
        let path = format!("/avatars/models/{model_id}");
        let body: Value = get_on(&h, &later, &path).await.json().await.unwrap();
        assert_eq!(body["status"], outcome.as_str());
        let response = h
            .generate(&model_id, json!([{"style": "realistic", "count": 1}]))
            .await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
    }

    let faults = Faults {
        inference_outcome: Some(JobStatus::Failed),
        ..Faults::default()
    };
    let h = start_with(FAST, None, faults).await;
    let model_id = h.train(None).await;
    assert_eq!(h.wait_model(&model_id).await.status, JobStatus::Done);
    let response = h
        .generate(&model_id, json!([{"style": "realistic", "count": 1}]))
        .await;
    let inference_id = inference_id(response.json().await.unwrap());
    let path = format!("/avatars/models/{model_id}/inferences/{inference_id}");
    let failed = h.wait_inference(&path).await;
    assert_eq!(failed.status, JobStatus::Failed);
    assert!(failed.data.is_empty());
}

#[tokio::test]
async fn statuses_speak_the_2026_vocabulary() {
    let vocabulary = |training_outcome| Faults {
        vocabulary_2026: true,
        training_outcome,
        ..Faults::default()
    };
    // Slow enough that the new model is still at its very start.
    let slow = start_with(1.0, None, vocabulary(None)).await;
    let response = slow.post("/avatars/models", training(&slow).await).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "processing");
    let path = format!("/avatars/models/{}", body["model_id"].as_str().unwrap());
    assert_eq!(slow.get::<Value>(&path).await["status"], "processing");

    let h = start_with(FAST, None, vocabulary(None)).await;
    let (model, inference) = finished_inference(&h).await;
    assert_eq!(h.get::<Value>(&model).await["status"], "success");
    assert_eq!(h.get::<Value>(&inference).await["status"], "success");

    for (outcome, word) in [
        (JobStatus::Failed, "error"),
        (JobStatus::ImageNotValid, "IMAGE_NOT_VALID"),
    ] {
        let h = start_with(FAST, None, vocabulary(Some(outcome))).await;
        let model_id = new_model(&h).await;
        h.wait_model(&model_id).await;
        let path = format!("/avatars/models/{model_id}");
        assert_eq!(h.get::<Value>(&path).await["status"], word);
    }
}

#[tokio::test]
async fn results_can_be_gone_while_still_listed() {
    let faults = Faults {
        results_gone: true,
        ..Faults::default()
    };
    let h = start_with(FAST, None, faults).await;
    let (_, inference) = finished_inference(&h).await;
    let listed: InferenceStatus = h.get(&inference).await;
    assert_eq!(listed.data.len(), 2);
    let response = h.plain.get(&listed.data[0].url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"detail": "not found"})
    );
}

#[tokio::test]
async fn the_request_log_names_headers_and_never_their_values() {
    let h = start(FAST, None).await;
    let (_, inference) = finished_inference(&h).await;
    let listed: InferenceStatus = h.get(&inference).await;
    h.plain.get(&listed.data[0].url).send().await.unwrap();
    let unknown = format!("http://{}/nowhere", h.sandbox.addr());
    h.http.get(unknown).send().await.unwrap();

    let log = std::fs::read_to_string(h.dir.path().join(REQUEST_LOG)).unwrap();
    assert!(!log.contains("test-key"), "a header value leaked");
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds =
        |kind: &str| -> Vec<&Value> { lines.iter().filter(|l| l["host_kind"] == kind).collect() };
    let has_key = |line: &Value| {
        let names = line["headers"].as_array().unwrap();
        names.iter().any(|n| n == "x-picsart-api-key")
    };
    assert!(kinds("api").iter().all(|l| has_key(l)));
    assert!(kinds("upload").iter().all(|l| has_key(l)) && kinds("upload").len() == 5);
    let files = kinds("files");
    // The training fetched the five uploads, and one result was downloaded.
    assert_eq!(files.len(), 6);
    assert!(files.iter().all(|l| !has_key(l)));
    let result = files.last().unwrap();
    assert_eq!(result["method"], "GET");
    assert!(
        result["path"]
            .as_str()
            .unwrap()
            .starts_with("/files/results/")
    );
    assert!(result["at_ms"].as_u64().unwrap() > 0);
    assert_eq!(kinds("other")[0]["path"], "/nowhere");
}
