//! A paid request whose answer is lost is recorded as unconfirmed and never
//! sent again behind the user's back.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::StatusCode;
use axum::routing::post;
use common::*;

/// A service that accepts every training but garbles its answer, counting POSTs.
fn garbling_service() -> (tokio::runtime::Runtime, String, Arc<AtomicUsize>) {
    let posts = Arc::new(AtomicUsize::new(0));
    let counter = posts.clone();
    let app = axum::Router::new().route(
        "/v1/avatars/models",
        post(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { (StatusCode::ACCEPTED, r#"{"status": "ACCEPTED", "model_"#) }
        }),
    );
    let (runtime, base) = serve(app);
    (runtime, base, posts)
}

#[test]
fn a_garbled_answer_is_unconfirmed_listed_and_not_resent() {
    let env = Env::new();
    let (_runtime, base, posts) = garbling_service();
    let urls: Vec<String> = (1..=5)
        .map(|n| format!("https://cdn.example/{n}.jpg"))
        .collect();
    let run = || {
        env.avatar()
            .env("PICSART_API_KEY", "k")
            .args(["--api-url", &format!("{base}/v1"), "--upload-url", &base])
            .args(["run", "--type", "woman", "--style", "realistic", "--out"])
            .arg(env.path("out"))
            .args(&urls)
            .output()
            .unwrap()
    };
    let first = run();
    assert_code(&first, 1);
    let err = stderr(&first);
    assert!(err.contains("may or may not"), "{err}");
    assert!(
        err.contains("not sent again") || err.contains("unconfirmed"),
        "{err}"
    );
    let state = env.state();
    let attempt = &state["attempts"][0];
    assert_eq!(attempt["what"], "training");
    assert_eq!(attempt["request"]["images"].as_array().unwrap().len(), 5);
    assert!(
        attempt["unconfirmed"]
            .as_str()
            .unwrap()
            .contains("could not be read")
    );

    let again = run();
    assert_code(&again, 1);
    assert!(stderr(&again).contains("--resend"), "{}", stderr(&again));
    assert_eq!(posts.load(Ordering::SeqCst), 1, "never paid twice");

    let listing = env
        .avatar()
        .args(["--api-url", &format!("{base}/v1"), "status"])
        .output()
        .unwrap();
    assert_code(&listing, 0);
    assert!(stdout(&listing).contains("UNCONFIRMED"));
    assert!(stderr(&listing).contains("check your Picsart account"));
}
