//! Nothing is lost: interrupted runs continue where they stopped, downloads
//! resume, names stay inside the folder, and warnings come in time.

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Starts `avatar --sandbox run ...` in the background.
fn spawn_run(env: &Env, extra_env: &[(&str, &str)], photos: &[String]) -> Child {
    let mut cmd = env.process();
    cmd.env("AVATAR_SANDBOX_SPEED", "400")
        .envs(extra_env.iter().copied())
        .args([
            "--sandbox",
            "run",
            "--type",
            "woman",
            "--style",
            "realistic:3",
            "--jobs",
            "1",
            "--out",
        ])
        .arg(env.path("out"))
        .args(photos)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.spawn().unwrap()
}

/// Waits until the state file satisfies `reached`, then kills the process.
fn kill_when(env: &Env, mut child: Child, reached: impl Fn(&Value) -> bool) {
    let started = Instant::now();
    loop {
        if let Ok(bytes) = std::fs::read(env.state_path())
            && let Ok(state) = serde_json::from_slice::<Value>(&bytes)
            && reached(&state)
        {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the stage was reached"
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "stage never reached"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

fn resume_after_kill_at(stage: impl Fn(&Value) -> bool, latency: &str) {
    let env = Env::new();
    let photos = env.photos(5);
    let child = spawn_run(&env, &[("AVATAR_SANDBOX_LATENCY_MS", latency)], &photos);
    kill_when(&env, child, stage);
    let output = env
        .sandbox()
        .env("AVATAR_SANDBOX_SPEED", "400")
        .args(["run", "--type", "woman", "--style", "realistic:3", "--out"])
        .arg(env.path("out"))
        .args(&photos)
        .output()
        .unwrap();
    assert_code(&output, 0);
    assert_eq!(env.service_count("models"), 1, "trained once");
    assert_eq!(env.service_count("inferences"), 1, "generated once");
    let files = stdout_lines(&output);
    assert_eq!(files.len(), 3);
    for file in files {
        image::open(&file).expect("a complete picture");
    }
}

#[test]
fn a_run_killed_while_training_continues() {
    resume_after_kill_at(
        |s| s["models"].as_array().is_some_and(|m| !m.is_empty()),
        "0",
    );
}

#[test]
fn a_run_killed_while_generating_continues() {
    resume_after_kill_at(
        |s| s["inferences"].as_array().is_some_and(|i| !i.is_empty()),
        "0",
    );
}

#[test]
fn a_run_killed_while_downloading_continues() {
    resume_after_kill_at(
        |s| s["inferences"][0]["avatars"][0]["file"].is_string(),
        "150",
    );
}

#[test]
fn new_starts_a_second_pipeline() {
    let env = Env::new();
    let photos = env.photos(5);
    for (extra, out) in [(vec![], "first"), (vec!["--new"], "second")] {
        let output = env
            .sandbox()
            .args(["run", "--type", "man", "--style", "realistic", "--out"])
            .arg(env.path(out))
            .args(&extra)
            .args(&photos)
            .output()
            .unwrap();
        assert_code(&output, 0);
    }
    assert_eq!(env.service_count("models"), 2);
}

#[test]
fn a_cut_download_resumes_with_range_and_ends_with_the_right_bytes() {
    let env = Env::new();
    let out = env.path("out");
    let output = env
        .sandbox()
        .env("AVATAR_SANDBOX_CUT_DOWNLOADS", "1")
        .args([
            "-v",
            "run",
            "--type",
            "cat",
            "--style",
            "realistic:2",
            "--out",
        ])
        .arg(&out)
        .args(env.photos(5))
        .output()
        .unwrap();
    assert_code(&output, 0);
    let err = stderr(&output);
    assert!(
        err.contains("resuming") && err.contains("from byte"),
        "{err}"
    );
    let inference_id = env.state()["inferences"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let manifest = read_json(&out.join("manifest.json"));
    let entries = manifest["files"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for n in 1..=2 {
        let served = std::fs::read(
            env.sandbox_dir()
                .join("results")
                .join(&inference_id)
                .join(format!("{n}.jpg")),
        )
        .unwrap();
        let saved = std::fs::read(out.join(format!("realistic-{n}.jpg"))).unwrap();
        assert_eq!(saved, served, "avatar {n} has the right bytes");
        let entry = entries
            .iter()
            .find(|e| e["file"] == format!("realistic-{n}.jpg"))
            .unwrap();
        assert_eq!(entry["size"], served.len());
        assert_eq!(entry["inference_id"], inference_id.as_str());
        assert_eq!(entry["sha256"].as_str().unwrap().len(), 64);
    }
}

#[test]
fn a_name_template_cannot_escape_the_folder() {
    let env = Env::new();
    let out = env.path("deep/out");
    let output = env
        .sandbox()
        .args(["run", "--type", "dog", "--style", "realistic:2", "--out"])
        .arg(&out)
        .args(["--name-template", "../../{style}/{n}.{ext}"])
        .args(env.photos(5))
        .output()
        .unwrap();
    assert_code(&output, 0);
    for file in stdout_lines(&output) {
        let path = std::path::Path::new(&file);
        assert_eq!(path.parent().unwrap(), out, "{file} stays in --out");
    }
    let names_clash = env
        .sandbox()
        .args([
            "run",
            "--new",
            "--type",
            "dog",
            "--style",
            "realistic:2",
            "--out",
        ])
        .arg(env.path("other"))
        .args(["--name-template", "{style}.{ext}"])
        .args(env.photos(5))
        .output()
        .unwrap();
    assert_code(&names_clash, 2);
    assert!(stderr(&names_clash).contains("add {n}"));
}

#[test]
fn a_run_with_a_timeout_resumes_without_paying_again() {
    let env = Env::new();
    let photos = env.photos(5);
    let run = |timeout: Option<&str>| {
        let mut cmd = env.sandbox();
        cmd.env("AVATAR_SANDBOX_SPEED", "400")
            .args(["run", "--type", "woman", "--style", "realistic", "--out"])
            .arg(env.path("out"));
        if let Some(t) = timeout {
            cmd.args(["--timeout", t]);
        }
        cmd.args(&photos).output().unwrap()
    };
    assert_code(&run(Some("100ms")), 4);
    assert_code(&run(None), 0);
    assert_eq!(env.service_count("models"), 1);
    assert_eq!(env.service_count("inferences"), 1);
}

#[test]
fn results_about_to_expire_are_announced_by_every_command() {
    let env = Env::new();
    let model = single_line(
        env.sandbox()
            .args(["train", "--type", "woman", "--wait"])
            .args(env.photos(5)),
    );
    single_line(
        env.sandbox()
            .args(["generate", &model, "--style", "realistic", "--wait"]),
    );
    // Real time from here on: the results expire in one hour.
    let mut state = env.state();
    let in_an_hour =
        humantime::format_rfc3339(std::time::SystemTime::now() + Duration::from_secs(3600));
    state["inferences"][0]["expires_at"] = Value::String(in_an_hour.to_string());
    std::fs::write(env.state_path(), serde_json::to_vec(&state).unwrap()).unwrap();
    let output = env
        .sandbox()
        .env("AVATAR_SANDBOX_SPEED", "1")
        .arg("status")
        .output()
        .unwrap();
    assert_code(&output, 0);
    let err = stderr(&output);
    assert!(
        err.contains("expire in 59m") && err.contains("fetch"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_keeps_everything_and_says_how_to_resume() {
    let env = Env::new();
    let child = env
        .process()
        .env("AVATAR_SANDBOX_SPEED", "20")
        .args(["--sandbox", "train", "--type", "woman", "--wait"])
        .args(env.photos(5))
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let started = Instant::now();
    while !env.state_path().exists()
        || env.state()["models"]
            .as_array()
            .is_none_or(|m| m.is_empty())
    {
        assert!(started.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert_code(&output, 130);
    assert!(stderr(&output).contains("run the same command again"));
    assert_eq!(
        stdout(&output).trim(),
        env.state()["models"][0]["id"].as_str().unwrap()
    );
}
