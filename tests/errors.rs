//! Runs every row of docs/errors.md: the table is the test.

mod common;

use std::path::Path;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use common::*;
use serde_json::{Value, json};

struct Row {
    number: String,
    case: String,
    setup: String,
    command: String,
    exit: Option<i32>,
    says: String,
}

fn rows() -> Vec<Row> {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/errors.md"))
        .unwrap();
    let unquote = |s: &str| s.trim().trim_matches('`').to_string();
    doc.lines()
        .filter(|l| l.starts_with("| ") && l[2..].starts_with(|c: char| c.is_ascii_digit()))
        .map(|line| {
            let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
            assert_eq!(cells.len(), 6, "a row of six cells: {line}");
            Row {
                number: cells[0].trim().into(),
                case: cells[1].trim().into(),
                setup: cells[2].trim().into(),
                command: unquote(cells[3]),
                exit: cells[4].trim().parse().ok(),
                says: unquote(cells[5]),
            }
        })
        .collect()
}

/// What a setup made: placeholders, extra environment, and a server to keep alive.
#[derive(Default)]
struct Prepared {
    vars: Vec<(&'static str, String)>,
    env: Vec<(&'static str, String)>,
    remove_env: Vec<&'static str>,
    server: Option<tokio::runtime::Runtime>,
    skip: Option<&'static str>,
}

fn train_and_generate(
    env: &Env,
    extra: &[(&str, &str)],
    generate: bool,
) -> (String, Option<String>) {
    let mut train = env.sandbox();
    train.envs(extra.iter().copied());
    let model = single_line(
        train
            .args(["train", "--type", "woman", "--wait"])
            .args(env.photos(5)),
    );
    if !generate {
        return (model, None);
    }
    let mut generate = env.sandbox();
    generate.envs(extra.iter().copied());
    let inference =
        single_line(generate.args(["generate", &model, "--style", "realistic:2", "--wait"]));
    (model, Some(inference))
}

/// An API whose one inference `i` of model `m` is done, with `result` as its
/// only avatar; the state file knows the inference.
fn server_with_result(
    env: &Env,
    status_body: Option<&'static str>,
    result: axum::Router,
) -> Prepared {
    let status = get(move |headers: axum::http::HeaderMap| async move {
        let host = headers["host"].to_str().unwrap().to_string();
        match status_body {
            Some(body) => (StatusCode::OK, body.to_string()),
            None => (
                StatusCode::OK,
                json!({"status": "DONE", "data": [{"url": format!("http://{host}/r/1.jpg"), "style": "realistic"}]})
                    .to_string(),
            ),
        }
    });
    let app = axum::Router::new()
        .route("/v1/avatars/models/m/inferences/i", status)
        .merge(result);
    let (runtime, base) = serve(app);
    let state = json!({"version": 1, "models": [], "inferences": [{
        "id": "i", "model_id": "m", "prompts": [{"style": "realistic", "count": 1}],
        "status": "ACCEPTED", "created_at": humantime::format_rfc3339(std::time::SystemTime::now()).to_string()
    }]});
    std::fs::write(env.state_path(), state.to_string()).unwrap();
    Prepared {
        vars: vec![("$API", format!("{base}/v1")), ("$UPLOAD", base)],
        env: vec![
            ("PICSART_API_KEY", "k".into()),
            ("AVATAR_RETRIES", "2".into()),
            ("AVATAR_MAX_RESULT_BYTES", "1000000".into()),
        ],
        server: Some(runtime),
        ..Prepared::default()
    }
}

fn prepare(env: &Env, setup: &str) -> Prepared {
    let tmp = env.dir.path();
    let mut prepared = Prepared::default();
    match setup {
        "-" => {}
        "model" => {
            let (model, _) = train_and_generate(env, &[], false);
            prepared.vars.push(("$MODEL", model));
        }
        "inference" => {
            let (model, inference) = train_and_generate(env, &[], true);
            prepared.vars.push(("$MODEL", model));
            prepared.vars.push(("$INFERENCE", inference.unwrap()));
        }
        "running-model" => {
            let slow = [("AVATAR_SANDBOX_SPEED", "10")];
            let model = single_line(
                env.sandbox()
                    .envs(slow)
                    .args(["train", "--type", "man"])
                    .args(env.photos(5)),
            );
            prepared.vars.push(("$MODEL", model));
            prepared.env.push(("AVATAR_SANDBOX_SPEED", "10".into()));
        }
        "expired" => {
            let fast = [("AVATAR_SANDBOX_SPEED", "1000000")];
            let (_, inference) = train_and_generate(env, &fast, true);
            std::thread::sleep(Duration::from_millis(400));
            prepared.vars.push(("$INFERENCE", inference.unwrap()));
            prepared
                .env
                .push(("AVATAR_SANDBOX_SPEED", "1000000".into()));
        }
        "sandbox-job-default-state" => {
            // Both modes keep their default state files here.
            let mut train = env.sandbox();
            train.env_remove("AVATAR_STATE_FILE");
            let model = single_line(train.args(["train", "--type", "woman"]).args(env.photos(5)));
            prepared.vars.push(("$MODEL", model));
            prepared.remove_env.push("AVATAR_STATE_FILE");
        }
        "corrupt-state" => {
            std::fs::write(env.state_path(), b"{\"version\": 1, \"models\": [").unwrap()
        }
        "newer-state" => {
            std::fs::write(env.state_path(), br#"{"version": 9, "models": []}"#).unwrap()
        }
        "state-under-file" => {
            prepared.env.push((
                "AVATAR_STATE_FILE",
                format!("{}/state.json", tmp.join("file.txt").display()),
            ));
        }
        "empty-photo" => std::fs::write(tmp.join("empty.jpg"), b"").unwrap(),
        "text-photo" => std::fs::write(tmp.join("text.jpg"), b"hello, not a photo").unwrap(),
        "heic-photo" => std::fs::write(
            tmp.join("photo.heic"),
            b"\0\0\0\x18ftypheic\0\0\0\0mif1heic",
        )
        .unwrap(),
        "unreadable-photo" => {
            let path = tmp.join("locked.jpg");
            std::fs::copy(&env.photos(1)[0], &path).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
            }
            if std::fs::read(&path).is_ok() {
                prepared.skip = Some("this user can read a file with no read permission (root)");
            }
        }
        "no-key" => {}
        "no-credits" => prepared.env.push(("AVATAR_SANDBOX_CREDITS", "0".into())),
        "big-state" => {
            let inference = |n: usize| {
                json!({"id": format!("{n:032x}"), "model_id": "m", "prompts": [],
                "status": "DONE", "created_at": "2026-01-01T00:00:00Z"})
            };
            let model = |n: usize| {
                json!({"id": format!("m{n:031x}"), "type": "woman", "images": [],
                "status": "DONE", "created_at": "2026-01-01T00:00:00Z"})
            };
            let state = json!({"version": 1,
                "models": (0..5000).map(model).collect::<Vec<_>>(),
                "inferences": (0..5000).map(inference).collect::<Vec<_>>()});
            std::fs::write(env.state_path(), state.to_string()).unwrap();
        }
        "server-401" => {
            let app = axum::Router::new().fallback(|| async {
                (
                    StatusCode::UNAUTHORIZED,
                    r#"{"code":401,"message":"Unauthorized","detail":"Invalid API key"}"#,
                )
            });
            let (runtime, base) = serve(app);
            prepared.vars = vec![("$API", format!("{base}/v1")), ("$UPLOAD", base)];
            prepared.env.push(("PICSART_API_KEY", "wrong".into()));
            prepared.server = Some(runtime);
        }
        "server-html-result" => {
            let html = get(|| async {
                (
                    [("content-type", "text/html")],
                    "<html><body>Sign in</body></html>",
                )
            });
            prepared = server_with_result(env, None, axum::Router::new().route("/r/1.jpg", html));
        }
        "server-endless-result" => {
            let endless = get(|| async {
                let jpeg_start = futures_util::stream::once(async {
                    Ok::<_, std::io::Error>(axum::body::Bytes::from_static(&[
                        0xFF, 0xD8, 0xFF, 0xE0,
                    ]))
                });
                let forever = futures_util::stream::repeat_with(|| {
                    Ok(axum::body::Bytes::from(vec![0u8; 65536]))
                });
                axum::body::Body::from_stream(futures_util::StreamExt::chain(jpeg_start, forever))
            });
            prepared =
                server_with_result(env, None, axum::Router::new().route("/r/1.jpg", endless));
        }
        "server-empty-status" => prepared = server_with_result(env, Some(""), axum::Router::new()),
        other => panic!("docs/errors.md names an unknown setup `{other}`"),
    }
    prepared
}

fn run_row(row: &Row) {
    let env = Env::new();
    std::fs::write(env.path("file.txt"), b"a plain file").unwrap();
    std::fs::create_dir_all(env.path("empty-dir")).unwrap();
    let prepared = prepare(&env, &row.setup);
    if let Some(why) = prepared.skip {
        println!("row {} skipped: {why}", row.number);
        return;
    }
    let before = std::fs::read(env.state_path()).ok();
    let mut vars: Vec<(&str, String)> = vec![
        ("$PHOTOS5", env.photos(5).join(" ")),
        ("$PHOTOS4", env.photos(4).join(" ")),
        ("$PHOTOS31", env.photos(31).join(" ")),
        ("$OUT", env.path("out").display().to_string()),
        ("$FILE", env.path("file.txt").display().to_string()),
        ("$EMPTYDIR", env.path("empty-dir").display().to_string()),
        ("$TMP", env.dir.path().display().to_string()),
    ];
    vars.extend(prepared.vars.iter().cloned());
    // Longest names first, so `$PHOTOS31` is not read as `$PHOTOS3` + `1`.
    vars.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    let fill = |text: &str| {
        vars.iter().fold(text.to_string(), |text, (name, value)| {
            text.replace(name, value)
        })
    };
    let (command, says) = (fill(&row.command), fill(&row.says));
    let mut cmd = env.avatar();
    for name in &prepared.remove_env {
        cmd.env_remove(name);
    }
    cmd.envs(prepared.env.iter().map(|(k, v)| (*k, v.as_str())));
    let output = cmd.args(command.split_whitespace()).output().unwrap();
    let context = format!("row {} ({}): avatar {}", row.number, row.case, row.command);
    assert_eq!(
        output.status.code(),
        row.exit,
        "{context}\nstderr: {}",
        stderr(&output)
    );
    let err = stderr(&output);
    assert!(
        err.contains(&says),
        "{context}: the message should say `{says}`:\n{err}"
    );
    // Nothing already recorded is lost: a state file that parsed before still
    // parses and keeps every job.
    if let Some(before) = before.and_then(|b| serde_json::from_slice::<Value>(&b).ok()) {
        let after: Value =
            serde_json::from_slice(&std::fs::read(env.state_path()).unwrap()).unwrap();
        for key in ["models", "inferences"] {
            let ids = |v: &Value| -> Vec<String> {
                v[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|j| j["id"].to_string())
                    .collect()
            };
            let kept = ids(&after);
            assert!(
                ids(&before).iter().all(|id| kept.contains(id)),
                "{context}: lost a {key} record"
            );
        }
    }
    drop(prepared.server);
}

#[test]
fn every_row_of_the_error_table_holds() {
    let rows = rows();
    assert!(rows.len() >= 30, "at least 30 cases, got {}", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        if let Some(target) = row.setup.strip_prefix("test: ") {
            let (file, name) = target.split_once("::").expect("test: FILE::NAME");
            let source = std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests")
                    .join(file),
            )
            .unwrap_or_else(|_| panic!("row {}: tests/{file} is missing", row.number));
            assert!(
                source.contains(&format!("fn {name}(")),
                "row {}: no test {name} in tests/{file}",
                row.number
            );
            continue;
        }
        if row.setup.starts_with("not automated") {
            continue;
        }
        if let Err(panic) = std::panic::catch_unwind(|| run_row(row)) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(message);
        }
    }
    assert!(
        failures.is_empty(),
        "{} row(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
