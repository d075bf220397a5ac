//! Several `avatar` processes on one state file lose no update.

mod common;

use common::*;

#[test]
fn concurrent_trainings_are_all_recorded() {
    let env = Env::new();
    let photos = env.photos(5);
    let children: Vec<_> = (0..4)
        .map(|_| {
            let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("avatar"));
            cmd.env_clear()
                .env("HOME", env.dir.path())
                .env("AVATAR_STATE_FILE", env.state_path())
                .env("AVATAR_SANDBOX_DIR", env.sandbox_dir())
                .env("AVATAR_SANDBOX_SPEED", FAST)
                .args(["--sandbox", "train", "--type", "woman"])
                .args(&photos)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
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
