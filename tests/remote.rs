//! The code path used against Picsart: `--api-url` and a key, here pointed at
//! a sandbox or a tiny test server on 127.0.0.1.

mod common;

use axum::http::StatusCode;
use common::*;

const KEY: &str = "test-key-5f0c9a1e-never-print-me";

#[test]
fn the_whole_pipeline_over_the_real_code_path_never_shows_the_key() {
    let env = Env::new();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = standalone_sandbox(&env, &runtime, None);
    let out = env.path("out");
    let output = env
        .remote(&sandbox, KEY)
        .args(["--poll-interval", "20ms"])
        .args([
            "-v",
            "run",
            "--type",
            "woman",
            "--style",
            "realistic:2",
            "--out",
        ])
        .arg(&out)
        .args(env.photos(5))
        .output()
        .unwrap();
    assert_code(&output, 0);
    assert_eq!(stdout_lines(&output).len(), 2);
    let state = std::fs::read_to_string(env.state_path()).unwrap();
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    let requests =
        std::fs::read_to_string(env.path("standalone").join(avatar::sandbox::REQUEST_LOG)).unwrap();
    for (what, text) in [
        ("stdout", stdout(&output)),
        ("stderr", stderr(&output)),
        ("state file", state),
        ("manifest", manifest),
        ("sandbox request log", requests),
    ] {
        assert!(!text.contains(KEY), "the key leaked into {what}");
    }
    // The real-mode state file is not the sandbox's.
    assert!(!env.path("data/avatar/sandbox-state.json").exists());
}

#[test]
fn a_rejected_key_is_exit_6_with_advice() {
    let env = Env::new();
    let app = axum::Router::new().fallback(|| async {
        (
            StatusCode::UNAUTHORIZED,
            [("X-Picsart-Correlation-Id", "corr-123")],
            r#"{"code":401,"message":"Unauthorized","detail":"Invalid API key"}"#,
        )
    });
    let (_runtime, base) = serve(app);
    let output = env
        .avatar()
        .env("PICSART_API_KEY", KEY)
        .args(["--api-url", &format!("{base}/v1"), "--upload-url", &base])
        .args(["train", "--type", "man"])
        .args(env.photos(5))
        .output()
        .unwrap();
    assert_code(&output, 6);
    let err = stderr(&output);
    assert!(
        err.contains("Invalid API key") && err.contains("corr-123"),
        "{err}"
    );
    assert!(
        err.contains("PICSART_API_KEY"),
        "says how to set the key: {err}"
    );
    assert!(!err.contains(KEY));
}
