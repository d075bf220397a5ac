//! The client against a bad day, served by the sandbox's fault knobs: reads
//! retry, paid requests are never sent twice, and every fault yields at most
//! one job in the service.

mod common;

use common::*;
use serde_json::Value;

const ALL_FAULTS: &str = "429:0.06,429-date:0.03,429-reset:0.03,429-bare:0.03,500:0.05,502:0.05,503:0.05,reset:0.05,stall:0.03,malformed:0.04,empty:0.04,extra:0.05,missing:0.05";

fn faulty(env: &Env, seed: u64) -> assert_cmd::Command {
    let mut cmd = env.sandbox();
    cmd.env("AVATAR_SANDBOX_FAULTS", ALL_FAULTS)
        .env("AVATAR_SANDBOX_SEED", seed.to_string())
        .env("AVATAR_SANDBOX_STALL_MS", "1500")
        .env("AVATAR_HTTP_TIMEOUT", "700ms")
        .arg("-v");
    cmd
}

fn jobs_in(value: &Value, key: &str) -> usize {
    value[key].as_array().map_or(0, Vec::len)
}

#[test]
fn random_faults_never_cost_a_second_job() {
    let mut retries_seen = 0;
    for seed in 1..=4 {
        let env = Env::new();
        let photos = env.photos(5);
        let mut resend = false;
        let mut tries = 0;
        loop {
            tries += 1;
            let mut cmd = faulty(&env, seed * 100 + tries);
            cmd.args(["run", "--type", "woman", "--style", "realistic:2", "--out"])
                .arg(env.path("out"))
                .args(&photos);
            if resend {
                cmd.arg("--resend");
            }
            let output = cmd.output().unwrap();
            let err = stderr(&output);
            retries_seen += err.matches("retrying").count();
            let state = env.state();
            let service = env.service_jobs();
            let attempts = jobs_in(&state, "attempts");
            assert!(
                jobs_in(&service, "models") + jobs_in(&service, "inferences")
                    <= jobs_in(&state, "models") + jobs_in(&state, "inferences") + attempts,
                "seed {seed}: the service has a job the state does not account for\n{err}"
            );
            match output.status.code() {
                Some(0) => break,
                Some(1) => {
                    // The message says what failed and what to do.
                    assert!(
                        err.contains("run the same command again")
                            || err.contains("may or may not")
                            || err.contains("--resend"),
                        "seed {seed}: {err}"
                    );
                    resend = err.contains("--resend");
                }
                other => panic!("seed {seed}: exit {other:?}\n{err}"),
            }
            assert!(
                tries < 12,
                "seed {seed}: no success after {tries} runs; last:\n{err}"
            );
        }
        for file in std::fs::read_dir(env.path("out")).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "jpg") {
                image::open(&path).unwrap();
            }
        }
    }
    assert!(retries_seen > 0, "faults were injected and retried");
}

#[test]
fn the_key_goes_to_the_api_and_never_to_result_hosts() {
    let env = Env::new();
    let output = env
        .sandbox()
        .args(["run", "--type", "man", "--style", "realistic:2", "--out"])
        .arg(env.path("out"))
        .args(env.photos(5))
        .output()
        .unwrap();
    assert_code(&output, 0);
    let log =
        std::fs::read_to_string(env.sandbox_dir().join(avatar::sandbox::REQUEST_LOG)).unwrap();
    let mut seen = std::collections::HashMap::<String, (usize, usize)>::new();
    for line in log.lines() {
        let request: Value = serde_json::from_str(line).unwrap();
        let has_key = request["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h == "x-picsart-api-key");
        let kind = request["host_kind"].as_str().unwrap().to_string();
        let entry = seen.entry(kind).or_default();
        entry.0 += 1;
        entry.1 += usize::from(has_key);
    }
    let (files, files_with_key) = seen["files"];
    assert!(
        files >= 2 && files_with_key == 0,
        "result hosts saw the key: {seen:?}"
    );
    let (api, api_with_key) = seen["api"];
    assert!(api > 0 && api_with_key == api, "{seen:?}");
}

#[test]
fn service_side_failures_and_the_2026_vocabulary() {
    let env = Env::new();
    let photos = env.photos(5);
    let failed_training = env
        .sandbox()
        .env("AVATAR_SANDBOX_TRAINING_OUTCOME", "FAILED")
        .args(["train", "--type", "woman", "--wait"])
        .args(&photos)
        .output()
        .unwrap();
    assert_code(&failed_training, 3);
    assert!(stderr(&failed_training).contains("FAILED"));

    let model = single_line(
        env.sandbox()
            .env("AVATAR_SANDBOX_VOCABULARY_2026", "1")
            .args(["train", "--type", "woman", "--wait"])
            .args(&photos),
    );
    assert_eq!(
        env.state()["models"][1]["status"],
        "DONE",
        "`success` read as DONE"
    );
    let failed_inference = env
        .sandbox()
        .env("AVATAR_SANDBOX_INFERENCE_OUTCOME", "FAILED")
        .args(["generate", &model, "--style", "realistic", "--wait"])
        .output()
        .unwrap();
    assert_code(&failed_inference, 3);
    assert!(stderr(&failed_inference).contains("generate again"));

    let inference = single_line(
        env.sandbox()
            .args(["generate", &model, "--style", "anime", "--wait"]),
    );
    let gone = env
        .sandbox()
        .env("AVATAR_SANDBOX_RESULTS_GONE", "1")
        .args(["fetch", &inference, "--out"])
        .arg(env.path("out"))
        .output()
        .unwrap();
    assert_code(&gone, 5);
    assert_eq!(
        env.state()["inferences"][1]["status"],
        "EXPIRED",
        "kept, marked expired"
    );
}

#[test]
fn rate_limits_are_waited_out_and_said_in_verbose_mode() {
    let env = Env::new();
    let output = env
        .sandbox()
        .env(
            "AVATAR_SANDBOX_FAULTS",
            "429:0.3,429-date:0.1,429-reset:0.1",
        )
        .env("AVATAR_SANDBOX_SEED", "7")
        .args([
            "-v",
            "run",
            "--type",
            "cat",
            "--style",
            "realistic",
            "--out",
        ])
        .arg(env.path("out"))
        .args(env.photos(5))
        .output()
        .unwrap();
    assert_code(&output, 0);
    let err = stderr(&output);
    assert!(
        err.contains("HTTP 429") && err.contains("retrying"),
        "{err}"
    );
    assert_eq!(env.service_count("models"), 1);
}
