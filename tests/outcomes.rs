//! How jobs end, and the exit codes that tell a script: failed (3), still
//! running (4), expired (5), out of credits (7).

mod common;

use common::*;

#[test]
fn an_unusable_photo_fails_the_training_with_exit_3() {
    let env = Env::new();
    let id = single_line(
        env.sandbox()
            .args(["train", "--type", "woman"])
            .args(env.photos(5)),
    );
    // The preflight stops what it can see (tests/photos.rs); the service may
    // still reject a photo it cannot (no face, say): make the sandbox do so.
    let jobs_path = env.sandbox_dir().join("jobs.json");
    let mut jobs = read_json(&jobs_path);
    jobs["models"][0]["images_valid"] = false.into();
    std::fs::write(&jobs_path, serde_json::to_vec(&jobs).unwrap()).unwrap();
    let output = env
        .sandbox()
        .args(["status", &id, "--wait"])
        .output()
        .unwrap();
    assert_code(&output, 3);
    let err = stderr(&output);
    assert!(
        err.contains("IMAGE_NOT_VALID") && err.contains("replace"),
        "{err}"
    );
    assert_eq!(env.state()["models"][0]["status"], "IMAGE_NOT_VALID");
    // A script asking later gets the same answer.
    let output = env.sandbox().args(["status", &id]).output().unwrap();
    assert_code(&output, 3);
}

#[test]
fn out_of_credits_is_exit_7_and_records_nothing() {
    let env = Env::new();
    let output = env
        .sandbox()
        .env("AVATAR_SANDBOX_CREDITS", "0")
        .args(["train", "--type", "woman"])
        .args(env.photos(5))
        .output()
        .unwrap();
    assert_code(&output, 7);
    assert!(stderr(&output).contains("out of credits"));
    assert_eq!(env.state()["models"].as_array().unwrap().len(), 0);
}

#[test]
fn a_timeout_stops_only_the_wait_and_status_resumes_it() {
    let env = Env::new();
    // A training of 3 s real time.
    let slow = |cmd: &mut assert_cmd::Command| {
        cmd.env("AVATAR_SANDBOX_SPEED", "400");
    };
    let mut train = env.sandbox();
    slow(&mut train);
    let output = train
        .args(["train", "--type", "woman", "--wait", "--timeout", "200ms"])
        .args(env.photos(5))
        .output()
        .unwrap();
    assert_code(&output, 4);
    let id = stdout(&output).trim().to_string();
    let err = stderr(&output);
    assert!(
        err.contains(&format!("avatar --sandbox status {id} --wait")),
        "says how to resume: {err}"
    );

    // Not trained yet: generate refuses without spending, and says so.
    let mut generate = env.sandbox();
    slow(&mut generate);
    let output = generate
        .args(["generate", &id, "--style", "realistic"])
        .output()
        .unwrap();
    assert_code(&output, 4);
    assert!(stderr(&output).contains("--wait"));
    assert_eq!(env.service_count("inferences"), 0);

    let mut status = env.sandbox();
    slow(&mut status);
    let line = single_line(status.args(["status", &id, "--wait"]));
    assert!(line.contains("DONE"), "{line}");
    assert_eq!(env.service_count("models"), 1, "trained once");
}

#[test]
fn expired_results_give_exit_5_and_keep_the_record() {
    let env = Env::new();
    // 48 service hours pass in about 0.2 s.
    let fast = |cmd: &mut assert_cmd::Command| {
        cmd.env("AVATAR_SANDBOX_SPEED", "1000000");
    };
    let mut train = env.sandbox();
    fast(&mut train);
    let model = single_line(
        train
            .args(["train", "--type", "couple", "--wait"])
            .args(env.photos(5)),
    );
    let mut generate = env.sandbox();
    fast(&mut generate);
    let inference =
        single_line(generate.args(["generate", &model, "--style", "realistic", "--wait"]));
    std::thread::sleep(std::time::Duration::from_millis(500));

    let mut fetch = env.sandbox();
    fast(&mut fetch);
    let output = fetch
        .args(["fetch", &inference, "--out"])
        .arg(env.path("late"))
        .output()
        .unwrap();
    assert_code(&output, 5);
    let err = stderr(&output);
    assert!(
        err.contains("expired") && err.contains("1 avatar(s) were never downloaded"),
        "{err}"
    );
    let record = &env.state()["inferences"][0];
    assert_eq!(record["id"], inference.as_str());
    assert_eq!(record["status"], "EXPIRED");

    let mut status = env.sandbox();
    fast(&mut status);
    let output = status.args(["status", &inference]).output().unwrap();
    assert_code(&output, 5);
    let table = stdout(&env.sandbox().arg("status").output().unwrap());
    assert!(table.contains("EXPIRED"), "{table}");
}
