//! Crash safety: `avatar run` is killed with SIGKILL at random points, over
//! and over; after every kill the state file parses, every id the service
//! handed out is recorded (or listed as an unconfirmed attempt), no file
//! under its final name has wrong bytes, and running again completes the
//! work. The seed is printed; AVATAR_CRASH_SEED replays a run, and
//! AVATAR_CRASH_KILLS sets how many cycles (default 110, so that at least 100 end in a kill).

mod common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use rand::{RngExt, SeedableRng};
use serde_json::Value;
use sha2::{Digest, Sha256};

const SPEED: &str = "20000";

fn avatar(env: &Env, style: &str, resend: bool) -> Command {
    let mut cmd = env.process();
    cmd.env("AVATAR_SANDBOX_SPEED", SPEED)
        .env("AVATAR_SANDBOX_LATENCY_MS", "5")
        .args(["--sandbox", "run", "--type", "woman", "--style"])
        .arg(format!("{style}:2"))
        .arg("--out")
        .arg(env.path(&format!("out-{style}")))
        .args(env.photos(5));
    if resend {
        cmd.arg("--resend");
    }
    cmd
}

fn count(value: &Value, key: &str) -> usize {
    value[key].as_array().map_or(0, Vec::len)
}

fn check_invariants(env: &Env, printed: &str, context: &str) {
    let state = if env.state_path().exists() {
        serde_json::from_slice::<Value>(&std::fs::read(env.state_path()).unwrap())
            .unwrap_or_else(|e| panic!("{context}: the state file does not parse: {e}"))
    } else {
        serde_json::json!({})
    };
    let ids: Vec<&str> = ["models", "inferences"]
        .iter()
        .flat_map(|k| state[*k].as_array().into_iter().flatten())
        .filter_map(|job| job["id"].as_str())
        .collect();
    for line in printed.lines() {
        for word in line.split_whitespace().filter(|w| w.len() == 32) {
            assert!(
                ids.contains(&word),
                "{context}: printed {word} is not recorded"
            );
        }
    }
    let attempts = |what: &str| {
        state["attempts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["what"] == what)
            .count()
    };
    let service = env.service_jobs();
    assert!(
        count(&service, "models") <= count(&state, "models") + attempts("training"),
        "{context}: a training exists that the state does not know of"
    );
    assert!(
        count(&service, "inferences") <= count(&state, "inferences") + attempts("generation"),
        "{context}: a generation exists that the state does not know of"
    );
    // A file under its final name is complete: it is the sandbox's result.
    for inference in state["inferences"].as_array().into_iter().flatten() {
        let id = inference["id"].as_str().unwrap();
        for (index, avatar) in inference["avatars"].as_array().unwrap().iter().enumerate() {
            let Some(file) = avatar["file"].as_str() else {
                continue;
            };
            let Ok(bytes) = std::fs::read(file) else {
                continue;
            };
            let served = std::fs::read(
                env.sandbox_dir()
                    .join("results")
                    .join(id)
                    .join(format!("{}.jpg", index + 1)),
            )
            .unwrap();
            assert!(bytes == served, "{context}: {file} has wrong bytes");
            if avatar["saved"] == true {
                assert_eq!(
                    avatar["sha256"].as_str().unwrap(),
                    hex::encode(Sha256::digest(&bytes)),
                    "{context}: {file} does not match its recorded hash"
                );
            }
        }
    }
}

fn crash_cycles(seed: u64, kills: usize) -> HashMap<&'static str, usize> {
    let env = Env::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut outcomes = HashMap::new();
    for cycle in 0..kills {
        let style = format!("s{cycle}");
        let context = format!("seed {seed}, cycle {cycle}");
        let delay = Duration::from_millis(rng.random_range(0..220));
        let mut child = avatar(&env, &style, false)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let finished = child.try_wait().unwrap().is_some();
        child.kill().ok();
        let output = child.wait_with_output().unwrap();
        let printed = format!("{}{}", stdout(&output), stderr(&output));
        *outcomes
            .entry(if finished {
                "finished before the kill"
            } else {
                "killed"
            })
            .or_default() += 1;
        check_invariants(&env, &printed, &context);

        // Running the same command again completes the work. A paid request
        // cut off in flight is not sent again until the user says --resend.
        let mut again = avatar(&env, &style, false).output().unwrap();
        if again.status.code() == Some(1) && stderr(&again).contains("--resend") {
            *outcomes
                .entry("unconfirmed, resumed with --resend")
                .or_default() += 1;
            again = avatar(&env, &style, true).output().unwrap();
        }
        assert_code(&again, 0);
        let files = stdout_lines(&again);
        assert_eq!(files.len(), 2, "{context}");
        for file in files {
            image::open(&file).unwrap_or_else(|e| panic!("{context}: {file}: {e}"));
        }
        check_invariants(&env, &stdout(&again), &context);
    }
    outcomes
}

#[test]
fn sigkill_at_random_points_loses_nothing() {
    let seed = std::env::var("AVATAR_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    let kills: usize = std::env::var("AVATAR_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(110);
    println!("crash test seed {seed} (replay with AVATAR_CRASH_SEED={seed}), {kills} kills");
    // Two independent streams, one per core.
    let halves = [seed, seed.wrapping_add(1)]
        .map(|s| std::thread::spawn(move || crash_cycles(s, kills.div_ceil(2))));
    let mut total: HashMap<&str, usize> = HashMap::new();
    for half in halves {
        for (k, v) in half.join().unwrap() {
            *total.entry(k).or_default() += v;
        }
    }
    println!("crash test outcomes: {total:?}");
}
