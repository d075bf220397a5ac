//! Several `avatar` processes on one state file lose no update.

mod common;

use common::*;

#[test]
fn concurrent_trainings_are_all_recorded() {
    let env = Env::new();
    let photos = env.photos(5);
    let children: Vec<_> = (0..4)
        .map(|_| {
            env.process()
                .args(["--sandbox", "train", "--type", "woman"])
                .args(&photos)
                .spawn()
                .unwrap()
        })
        .collect();
    let mut printed = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert_code(&output, 0);
        printed.push(stdout(&output).trim().to_string());
    }
    let state = env.state();
    let mut recorded: Vec<String> = state["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect();
    recorded.sort();
    printed.sort();
    assert_eq!(recorded, printed);
    assert_eq!(env.service_count("models"), 4);
}

#[test]
fn twenty_mixed_processes_lose_nothing() {
    let env = Env::new();
    let photos = env.photos(5);
    let model = single_line(
        env.sandbox()
            .args(["train", "--type", "woman", "--wait"])
            .args(&photos),
    );
    let inference =
        single_line(
            env.sandbox()
                .args(["generate", &model, "--style", "realistic:2", "--wait"]),
        );
    let spawn = |args: Vec<String>| env.process().arg("--sandbox").args(args).spawn().unwrap();
    let mut children = Vec::new();
    for i in 0..20 {
        let args: Vec<String> = match i % 4 {
            0 => ["train", "--type", "man"]
                .iter()
                .map(|s| s.to_string())
                .chain(photos.iter().cloned())
                .collect(),
            1 => vec![
                "generate".into(),
                model.clone(),
                "--style".into(),
                format!("s{i}"),
            ],
            2 => vec![
                "fetch".into(),
                inference.clone(),
                "--out".into(),
                env.path(&format!("out{i}")).display().to_string(),
            ],
            _ => vec!["status".into()],
        };
        children.push((i % 4, spawn(args)));
    }
    let mut new_ids = Vec::new();
    for (kind, child) in children {
        let output = child.wait_with_output().unwrap();
        assert_code(&output, 0);
        if kind < 2 {
            new_ids.push(stdout(&output).trim().to_string());
        }
    }
    let state = env.state();
    let recorded: Vec<&str> = state["models"]
        .as_array()
        .unwrap()
        .iter()
        .chain(state["inferences"].as_array().unwrap())
        .map(|job| job["id"].as_str().unwrap())
        .collect();
    for id in &new_ids {
        assert!(
            recorded.contains(&id.as_str()),
            "{id} was printed but not recorded"
        );
    }
    assert_eq!(
        recorded.len(),
        2 + new_ids.len(),
        "no lost and no extra update"
    );
    assert_eq!(env.service_count("models"), 6);
    assert_eq!(env.service_count("inferences"), 6);
    let leftovers: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_lock_held_too_long_is_exit_8_with_the_holders_pid() {
    use std::io::Write;
    let env = Env::new();
    let lock_path = env.path("state.json.lock");
    let mut lock = std::fs::File::create(&lock_path).unwrap();
    lock.lock().unwrap();
    write!(lock, "{}", std::process::id()).unwrap();
    let output = env
        .sandbox()
        .env("AVATAR_LOCK_TIMEOUT", "300ms")
        .args(["train", "--type", "woman"])
        .args(env.photos(5))
        .output()
        .unwrap();
    assert_code(&output, 8);
    let err = stderr(&output);
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    assert_eq!(env.service_count("models"), 0, "nothing spent");
    lock.unlock().unwrap();
}
