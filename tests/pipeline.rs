//! The main job, step by step and in one command, against the sandbox.

mod common;

use common::*;

#[test]
fn train_status_generate_fetch_records_every_step() {
    let env = Env::new();
    let photos = env.photos(6);

    let model_id = single_line(
        env.sandbox()
            .args(["train", "--type", "woman", "--name", "me"])
            .args(&photos),
    );
    assert_eq!(model_id.len(), 32, "a bare id on stdout: {model_id:?}");
    let state = env.state();
    assert_eq!(state["version"], 1);
    let model = &state["models"][0];
    assert_eq!(model["id"], model_id.as_str());
    assert_eq!(model["type"], "woman");
    assert_eq!(model["label"], "me");
    assert_eq!(model["images"].as_array().unwrap().len(), 6);
    assert!(
        model["images"][0]["source"]
            .as_str()
            .unwrap()
            .ends_with("photo-0.jpg")
    );
    assert!(
        model["images"][0]["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );

    let line = single_line(env.sandbox().args(["status", &model_id, "--wait"]));
    assert!(line.starts_with(&format!("{model_id}\tDONE")), "{line}");
    assert_eq!(env.state()["models"][0]["status"], "DONE");
    assert!(env.state()["models"][0]["done_at"].is_string());

    let inference_id = single_line(env.sandbox().args([
        "generate",
        &model_id[..8],
        "--style",
        "realistic",
        "--style",
        "anime:2",
        "--count",
        "3",
    ]));
    let inference = &env.state()["inferences"][0];
    assert_eq!(inference["id"], inference_id.as_str());
    assert_eq!(inference["model_id"], model_id.as_str());
    assert_eq!(
        inference["prompts"],
        serde_json::json!([{"style": "realistic", "count": 3}, {"style": "anime", "count": 2}])
    );

    let out = env.path("avatars");
    let output = env
        .sandbox()
        .args(["fetch", &inference_id, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_code(&output, 0);
    let paths = stdout_lines(&output);
    let names: Vec<String> = paths
        .iter()
        .map(|p| {
            let name = std::path::Path::new(p).file_name().unwrap();
            name.to_string_lossy().into_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "realistic-1.jpg",
            "realistic-2.jpg",
            "realistic-3.jpg",
            "anime-1.jpg",
            "anime-2.jpg"
        ]
    );
    for path in &paths {
        let img = image::open(path).expect("a real picture");
        assert_eq!((img.width(), img.height()), (512, 512));
    }
    let inference = &env.state()["inferences"][0];
    assert_eq!(inference["status"], "DONE");
    assert!(inference["expires_at"].is_string());
    let avatars = inference["avatars"].as_array().unwrap();
    assert_eq!(avatars.len(), 5);
    assert!(avatars.iter().all(|a| a["saved"] == true));
    assert_eq!(avatars[0]["file"], paths[0].as_str());
    assert!(
        std::fs::read_dir(&out).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".part"))
    );

    // Again: the same paths, nothing downloaded twice.
    let before = std::fs::metadata(&paths[0]).unwrap().modified().unwrap();
    let again = env
        .sandbox()
        .args(["fetch", &inference_id, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_code(&again, 0);
    assert_eq!(stdout_lines(&again), paths);
    assert_eq!(
        std::fs::metadata(&paths[0]).unwrap().modified().unwrap(),
        before
    );

    // The overview lists both jobs.
    let table = stdout(&env.sandbox().arg("status").output().unwrap());
    assert!(
        table.contains(&model_id) && table.contains(&inference_id),
        "{table}"
    );
    assert!(table.contains("downloaded"), "{table}");
    assert_eq!(env.service_count("models"), 1);
    assert_eq!(env.service_count("inferences"), 1);
}

#[test]
fn run_does_the_whole_pipeline_and_reports_json() {
    let env = Env::new();
    let out = env.path("out");
    let output = env
        .sandbox()
        .args(["--json", "run", "--type", "man", "--style", "realistic:2"])
        .arg("--out")
        .arg(&out)
        .args(env.photos(5))
        .output()
        .unwrap();
    assert_code(&output, 0);
    let lines = stdout_lines(&output);
    assert_eq!(lines.len(), 1, "one JSON object at the end: {lines:?}");
    let result: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    let state = env.state();
    assert_eq!(result["model_id"], state["models"][0]["id"]);
    assert_eq!(result["inference_id"], state["inferences"][0]["id"]);
    let files = result["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    for file in files {
        assert!(std::path::Path::new(file.as_str().unwrap()).is_file());
    }
    assert_eq!(env.service_count("models"), 1);
    assert_eq!(env.service_count("inferences"), 1);
}

#[test]
fn fetch_without_id_collects_every_pending_inference() {
    let env = Env::new();
    let model_id = single_line(
        env.sandbox()
            .args(["train", "--type", "cat", "--wait"])
            .args(env.photos(5)),
    );
    for style in ["realistic", "realistic"] {
        single_line(
            env.sandbox()
                .args(["generate", &model_id, "--style", style]),
        );
    }
    let out = env.path("all");
    let output = env
        .sandbox()
        .args(["fetch", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_code(&output, 0);
    let paths = stdout_lines(&output);
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert_ne!(paths[0], paths[1], "same style, separate folders");
    // Nothing left to do: quiet success.
    let again = env
        .sandbox()
        .args(["fetch", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_code(&again, 0);
    assert_eq!(stdout(&again), "");
}

#[test]
fn output_off_a_terminal_has_no_bars_or_escape_codes() {
    let env = Env::new();
    let output = env
        .sandbox()
        .args(["run", "--type", "dog", "--style", "realistic", "--out"])
        .arg(env.path("out"))
        .args(env.photos(5))
        .output()
        .unwrap();
    assert_code(&output, 0);
    let err = stderr(&output);
    assert!(!err.contains('\x1b'), "no escape codes: {err:?}");
    assert!(!err.contains('\r'), "no bar redraws: {err:?}");
    // One line per change of status, not one per poll.
    let dones = err.lines().filter(|l| l.ends_with(": DONE")).count();
    assert_eq!(dones, 2, "{err}");
    assert!(
        !stdout(&output).contains("recorded"),
        "human text stays on stderr"
    );
}

#[test]
fn a_training_costs_at_most_ten_status_requests() {
    let env = Env::new();
    let model = single_line(
        env.sandbox()
            .args(["train", "--type", "woman", "--wait"])
            .args(env.photos(5)),
    );
    let log =
        std::fs::read_to_string(env.sandbox_dir().join(avatar::sandbox::REQUEST_LOG)).unwrap();
    let polls = log
        .lines()
        .filter(|line| line.contains(&format!("\"/v1/avatars/models/{model}\"")))
        .count();
    assert!(
        (2..=10).contains(&polls),
        "{polls} status requests for one training"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.state_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the state file is private");
    }
}
