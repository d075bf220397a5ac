//! The API as a client sees it when the sandbox behaves.

use super::*;

#[tokio::test]
async fn requests_without_a_key_are_unauthorized() {
    let h = start(FAST, None).await;
    for key in [None, Some("  ")] {
        let mut request = h.plain.get(h.api("/balance"));
        if let Some(key) = key {
            request = request.header(API_KEY_HEADER, key);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let correlation = response.headers()[CORRELATION_HEADER].to_str().unwrap();
        assert_eq!(correlation.len(), 32);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"code": 401, "message": "Unauthorized",
                   "detail": "Missing or invalid X-Picsart-API-Key header"})
        );
    }
    let balance: Value = h.get("/balance").await;
    assert_eq!(balance, json!({"credits": 1_000_000.0}));
}

#[tokio::test]
async fn training_needs_five_photos() {
    let h = start(FAST, None).await;
    let mut urls = Vec::new();
    for seed in 0..4 {
        urls.push(h.uploaded_url(jpeg(seed)).await);
    }
    let response = h
        .post("/avatars/models", json!({"images": urls, "type": "man"}))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_detail(response).await.contains("got 4"));
    let unknown_type = h
        .post("/avatars/models", json!({"images": urls, "type": "robot"}))
        .await;
    assert_eq!(unknown_type.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn upload_train_generate_download() {
    let h = start(FAST, None).await;
    let upload = h
        .plain
        .get(h.uploaded_url(jpeg(1)).await)
        .send()
        .await
        .unwrap();
    assert_eq!(upload.headers()["content-type"], "image/jpeg");
    assert_eq!(upload.bytes().await.unwrap(), jpeg(1));

    let model_id = h.train(None).await;
    let model = h.wait_model(&model_id).await;
    assert_eq!(model.status, JobStatus::Done);
    assert_eq!(model.progress, Some(100.0));

    let prompts = json!([{"style": "realistic", "count": 2}, {"style": "anime", "count": 1}]);
    let response = h.generate(&model_id, prompts).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let inference_id = inference_id(response.json().await.unwrap());
    let path = format!("/avatars/models/{model_id}/inferences/{inference_id}");
    let done = h.wait_inference(&path).await;
    assert_eq!(done.status, JobStatus::Done);
    let styles: Vec<_> = done.data.iter().map(|a| a.style.clone().unwrap()).collect();
    assert_eq!(styles, ["realistic", "realistic", "anime"]);

    for avatar in &done.data {
        let response = h.plain.get(&avatar.url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "image/jpeg");
        assert!(response.headers().contains_key("content-length"));
        let bytes = response.bytes().await.unwrap();
        assert_eq!(image::guess_format(&bytes).unwrap(), ImageFormat::Jpeg);
        let picture = image::load_from_memory(&bytes).unwrap();
        assert_eq!((picture.width(), picture.height()), (512, 512));
        let again = h.plain.get(&avatar.url).send().await.unwrap();
        assert_eq!(
            again.bytes().await.unwrap(),
            bytes,
            "cached result is identical"
        );
    }

    let elsewhere = format!(
        "/avatars/models/{}/inferences/{inference_id}",
        "0".repeat(32)
    );
    let response = h.http.get(h.api(&elsewhere)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let jobs = h.jobs();
    assert_eq!(jobs["models"].as_array().unwrap().len(), 1);
    assert_eq!(jobs["inferences"].as_array().unwrap().len(), 1);

    // A later process on the same directory, on another port, knows the jobs
    // and hands out result URLs on its own port.
    let later = Config {
        dir: h.dir.path().into(),
        speed: 1.0,
        credits: None,
        faults: Faults::default(),
    };
    let later = Sandbox::start(later, 0).await.unwrap();
    let url = format!("{}{path}", later.api_url());
    let status: InferenceStatus = h.http.get(url).send().await.unwrap().json().await.unwrap();
    let port = later.addr().port().to_string();
    assert!(status.data[0].url.contains(&port));
}

#[tokio::test]
async fn an_unusable_photo_fails_the_training() {
    let h = start(FAST, None).await;
    let webp = b"RIFF\x20\0\0\0WEBPVP8 not really an image".to_vec();
    let model_id = h.train(Some(webp)).await;
    let model = h.wait_model(&model_id).await;
    assert_eq!(model.status, JobStatus::ImageNotValid);

    let response = h
        .generate(&model_id, json!([{"style": "realistic", "count": 1}]))
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(error_detail(response).await.contains("failed"));
}

#[tokio::test]
async fn generating_before_the_model_is_done_conflicts() {
    let h = start(1.0, None).await;
    let model_id = h.train(None).await;
    let response = h
        .generate(&model_id, json!([{"style": "realistic", "count": 1}]))
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let detail = error_detail(response).await;
    assert!(detail.contains("is not ready (status"), "{detail}");
}

#[tokio::test]
async fn results_expire_after_48_simulated_hours() {
    // 48 h take 173 ms at this speed.
    let h = start(1_000_000.0, None).await;
    let model_id = h.train(None).await;
    h.wait_model(&model_id).await;
    let response = h
        .generate(&model_id, json!([{"style": "noir", "count": 1}]))
        .await;
    let inference_id = inference_id(response.json().await.unwrap());
    let path = format!("/avatars/models/{model_id}/inferences/{inference_id}");
    let done = h.wait_inference(&path).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let response = h.plain.get(&done.data[0].url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"detail": "result expired"})
    );
    let later: InferenceStatus = h.get(&path).await;
    assert_eq!(later.status, JobStatus::Done);
    assert_eq!(later.data, done.data);
}

#[tokio::test]
async fn spent_credits_refuse_paid_requests() {
    let h = start(FAST, Some(0.0)).await;
    let response = h.post("/avatars/models", json!({})).await;
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["message"], "Payment Required");
    assert!(body.get("code").is_none());
    let balance: Value = h.get("/balance").await;
    assert_eq!(balance["credits"], 0.0);
}

#[tokio::test]
async fn instant_avatars_come_from_one_photo() {
    let h = start(FAST, None).await;
    let url = h.uploaded_url(jpeg(7)).await;
    let body = json!({"images": [url], "prompt": "anime hero", "count": 2});
    let response = h.post("/avatars/instant", body).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let inference_id = inference_id(response.json().await.unwrap());
    let done = h
        .wait_inference(&format!("/avatars/instant/{inference_id}"))
        .await;
    assert_eq!(done.data.len(), 2);
    let bytes = h.plain.get(&done.data[1].url).send().await.unwrap();
    let picture = image::load_from_memory(&bytes.bytes().await.unwrap()).unwrap();
    assert_eq!(picture.width(), 512);
}

#[tokio::test]
async fn uploads_are_checked() {
    let h = start(FAST, None).await;
    let text = h.upload(b"just some text".to_vec()).await;
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(error_detail(text).await.contains("JPG, PNG, TIFF or WEBP"));

    let upload = format!("{}/upload", h.sandbox.upload_url());
    let both = Form::new()
        .part("image", Part::bytes(jpeg(1)).file_name("a.jpg"))
        .text("image_url", "http://127.0.0.1:9/a.jpg");
    let response = h.http.post(&upload).multipart(both).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let original = h.uploaded_url(jpeg(2)).await;
    let by_url = Form::new().text("image_url", original);
    let response = h.http.post(&upload).multipart(by_url).send().await.unwrap();
    let copy: UploadResponse = response.json().await.unwrap();
    assert!(copy.data.id.ends_with(".jpg"));

    let missing = format!(
        "http://{}/files/uploads/{}",
        h.sandbox.addr(),
        "1".repeat(32) + ".jpg"
    );
    let response = h.plain.get(missing).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_unreachable_photo_is_named() {
    let h = start(FAST, None).await;
    let mut urls: Vec<String> = Vec::new();
    for seed in 0..5 {
        urls.push(h.uploaded_url(jpeg(seed)).await);
    }
    // Nothing listens on the discard port of the loopback address.
    urls[2] = "http://127.0.0.1:9/gone.jpg".into();
    let response = h
        .post("/avatars/models", json!({"images": urls, "type": "cat"}))
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let detail = error_detail(response).await;
    assert!(
        detail.starts_with("image 3 (http://127.0.0.1:9/gone.jpg) could not be fetched"),
        "{detail}"
    );
}
