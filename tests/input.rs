//! Mistakes a user can make: each gets exit code, a message that says what to
//! do, and loses nothing already recorded.

mod common;

use common::*;

#[test]
fn too_few_or_too_many_photos_send_nothing() {
    let env = Env::new();
    for n in [4, 31] {
        let output = env
            .sandbox()
            .args(["train", "--type", "woman"])
            .args(env.photos(n))
            .output()
            .unwrap();
        assert_code(&output, 2);
        let err = stderr(&output);
        assert!(err.contains(&format!("5 to 30 photos; {n} given")), "{err}");
        assert!(err.contains("nothing was sent"), "{err}");
        assert_eq!(stdout(&output), "");
    }
    assert!(!env.state_path().exists(), "nothing recorded");
    assert_eq!(
        env.service_count("models"),
        0,
        "nothing reached the service"
    );
}

#[test]
fn all_photo_problems_are_reported_together() {
    let env = Env::new();
    let mut images = env.photos(5);
    images.push(env.path("missing.jpg").display().to_string());
    images.push("http://example.com/a.jpg".into());
    images.push("ftp://example.com/b.jpg".into());
    let output = env
        .sandbox()
        .args(["train", "--type", "man"])
        .args(&images)
        .output()
        .unwrap();
    assert_code(&output, 2);
    let err = stderr(&output);
    assert!(err.contains("missing.jpg"), "{err}");
    assert!(err.contains("http://example.com/a.jpg"), "{err}");
    assert!(err.contains("ftp://example.com/b.jpg"), "{err}");
}

#[test]
fn unknown_type_is_a_usage_error() {
    let env = Env::new();
    let output = env
        .sandbox()
        .args(["train", "--type", "robot"])
        .args(env.photos(5))
        .output()
        .unwrap();
    assert_code(&output, 2);
    assert!(stderr(&output).contains("man, woman, couple, dog, cat"));
}

#[test]
fn zero_count_is_a_usage_error() {
    let env = Env::new();
    for args in [["--style", "anime:0"], ["--count", "0"]] {
        let output = env
            .sandbox()
            .args(["generate", "abcd", "--style", "x"])
            .args(args)
            .output()
            .unwrap();
        assert_code(&output, 2);
    }
}

#[test]
fn missing_key_outside_the_sandbox_sends_nothing() {
    let env = Env::new();
    let output = env
        .avatar()
        // Nothing listens there; the key check must come first anyway.
        .args([
            "--api-url",
            "http://127.0.0.1:9/v1",
            "--upload-url",
            "http://127.0.0.1:9/tools",
        ])
        .args(["train", "--type", "woman"])
        .args(env.photos(5))
        .output()
        .unwrap();
    assert_code(&output, 6);
    let err = stderr(&output);
    assert!(err.contains("PICSART_API_KEY"), "{err}");
    assert!(err.contains("--sandbox"), "{err}");
}

#[test]
fn unknown_and_wrong_kind_ids() {
    let env = Env::new();
    let output = env.sandbox().args(["status", "deadbeef"]).output().unwrap();
    assert_code(&output, 2);
    assert!(stderr(&output).contains("avatar status"));

    let model_id = single_line(
        env.sandbox()
            .args(["train", "--type", "woman", "--wait"])
            .args(env.photos(5)),
    );
    let output = env
        .sandbox()
        .args(["fetch", &model_id, "--out"])
        .arg(env.path("out"))
        .output()
        .unwrap();
    assert_code(&output, 2);
    assert!(stderr(&output).contains("is a model id"));
}

#[test]
fn a_corrupt_state_file_is_never_touched() {
    let env = Env::new();
    let garbage = b"{\"version\": 1, \"models\": [ truncated";
    std::fs::write(env.state_path(), garbage).unwrap();
    for args in [vec!["status"], vec!["train", "--type", "woman"]] {
        let mut cmd = env.sandbox();
        cmd.args(&args);
        if args[0] == "train" {
            cmd.args(env.photos(5));
        }
        let output = cmd.output().unwrap();
        assert_code(&output, 8);
        let err = stderr(&output);
        assert!(
            err.contains(&env.state_path().display().to_string()),
            "{err}"
        );
        assert!(err.contains("left untouched"), "{err}");
    }
    assert_eq!(std::fs::read(env.state_path()).unwrap(), garbage);
    assert_eq!(env.service_count("models"), 0, "nothing spent");
}

#[test]
fn a_state_file_from_a_newer_version_is_refused() {
    let env = Env::new();
    let newer = br#"{"version": 7, "models": [], "inferences": [], "future": true}"#;
    std::fs::write(env.state_path(), newer).unwrap();
    let output = env.sandbox().arg("status").output().unwrap();
    assert_code(&output, 8);
    assert!(stderr(&output).contains("Upgrade avatar"));
    assert_eq!(std::fs::read(env.state_path()).unwrap(), newer);
}

#[test]
fn fetch_never_overwrites_a_file_that_is_not_ours() {
    let env = Env::new();
    let out = env.path("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("realistic-1.jpg"), b"my own picture").unwrap();
    let output = env
        .sandbox()
        .args(["run", "--type", "woman", "--style", "realistic", "--out"])
        .arg(&out)
        .args(env.photos(5))
        .output()
        .unwrap();
    assert_code(&output, 2);
    assert!(stderr(&output).contains("already exists"));
    assert_eq!(
        std::fs::read(out.join("realistic-1.jpg")).unwrap(),
        b"my own picture"
    );
    // The paid jobs are recorded all the same.
    assert_eq!(env.state()["inferences"].as_array().unwrap().len(), 1);
}

#[test]
fn avatar_sandbox_environment_variable_selects_the_sandbox() {
    let env = Env::new();
    let output = env
        .avatar()
        .env("AVATAR_SANDBOX", "1")
        .args(["train", "--type", "woman"])
        .args(env.photos(5))
        .output()
        .unwrap();
    assert_code(&output, 0);
    assert_eq!(env.service_count("models"), 1);
    let output = env
        .avatar()
        .env("AVATAR_SANDBOX", "0")
        .args([
            "--api-url",
            "http://127.0.0.1:9/v1",
            "train",
            "--type",
            "woman",
        ])
        .args(env.photos(5))
        .output()
        .unwrap();
    assert_code(&output, 6);
}
