//! Shared harness: every test gets its own home, state file and sandbox
//! directory, and runs the real `avatar` binary against 127.0.0.1 only.
#![allow(dead_code)] // each test binary uses a different part of the harness

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

/// Sandbox speed for tests: a 20-minute training takes 0.3 s.
pub const FAST: &str = "4000";

pub struct Env {
    pub dir: TempDir,
}

impl Env {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn state_path(&self) -> PathBuf {
        self.path("state.json")
    }

    pub fn sandbox_dir(&self) -> PathBuf {
        self.path("sandbox")
    }

    /// `avatar` with a hermetic environment and no API key, as a plain
    /// process (for tests that spawn, signal or kill it).
    pub fn process(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("avatar"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.path("data"))
            .env("AVATAR_STATE_FILE", self.state_path())
            .env("AVATAR_SANDBOX_DIR", self.sandbox_dir())
            .env("AVATAR_SANDBOX_SPEED", FAST)
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd
    }

    /// `avatar` with a hermetic environment and no API key.
    pub fn avatar(&self) -> Command {
        let mut cmd = Command::from_std(self.process());
        cmd.timeout(std::time::Duration::from_secs(120));
        cmd
    }

    /// `avatar --sandbox`.
    pub fn sandbox(&self) -> Command {
        let mut cmd = self.avatar();
        cmd.arg("--sandbox");
        cmd
    }

    /// `n` distinct small portraits as JPEG files.
    pub fn photos(&self, n: usize) -> Vec<String> {
        let dir = self.path("photos");
        std::fs::create_dir_all(&dir).unwrap();
        (0..n)
            .map(|i| {
                let path = dir.join(format!("photo-{i}.jpg"));
                if !path.exists() {
                    let img = image::RgbImage::from_fn(64, 64, |x, y| {
                        image::Rgb([(x * 4) as u8, (y * 4) as u8, (i * 8) as u8])
                    });
                    img.save(&path).unwrap();
                }
                path.display().to_string()
            })
            .collect()
    }

    pub fn state(&self) -> Value {
        read_json(&self.state_path())
    }

    /// The sandbox's own record of jobs: what the "service" has seen.
    pub fn service_jobs(&self) -> Value {
        let path = self.sandbox_dir().join("jobs.json");
        if path.exists() {
            read_json(&path)
        } else {
            serde_json::json!({"models": [], "inferences": []})
        }
    }

    pub fn service_count(&self, what: &str) -> usize {
        self.service_jobs()[what].as_array().map_or(0, Vec::len)
    }
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Asserts the exit code, showing stderr when it is not the expected one.
pub fn assert_code(output: &std::process::Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

/// Runs and returns stdout's single line, asserting success.
pub fn single_line(cmd: &mut Command) -> String {
    let output = cmd.output().unwrap();
    assert_code(&output, 0);
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line on stdout, got {out:?}");
    lines[0].to_string()
}

pub fn stdout_lines(output: &std::process::Output) -> Vec<String> {
    stdout(output).lines().map(String::from).collect()
}

/// Serves `app` on 127.0.0.1 from a runtime of its own; returns the base URL.
/// Keep the runtime alive for as long as the server is needed.
pub fn serve(app: axum::Router) -> (tokio::runtime::Runtime, String) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(async move { axum::serve(listener, app).await });
    (runtime, base)
}

/// A standalone sandbox on 127.0.0.1 in this test process, keeping its jobs in
/// `env`'s `standalone/` folder; `runtime` must outlive it.
pub fn standalone_sandbox(
    env: &Env,
    runtime: &tokio::runtime::Runtime,
    credits: Option<f64>,
) -> avatar::sandbox::Sandbox {
    let config = avatar::sandbox::Config {
        dir: env.path("standalone"),
        speed: 4000.0,
        credits,
        faults: avatar::sandbox::Faults::default(),
    };
    runtime
        .block_on(avatar::sandbox::Sandbox::start(config, 0))
        .unwrap()
}

impl Env {
    /// `avatar` on the real-service code path, pointed at `sandbox` with `key`.
    pub fn remote(&self, sandbox: &avatar::sandbox::Sandbox, key: &str) -> Command {
        let mut cmd = self.avatar();
        cmd.env("PICSART_API_KEY", key).args([
            "--api-url",
            &sandbox.api_url(),
            "--upload-url",
            &sandbox.upload_url(),
        ]);
        cmd
    }
}
