//! The API key: where it comes from, and that it never shows.

mod common;

use common::*;

const KEY: &str = "sk-test-0f9e8d7c-secret";

#[test]
fn auth_login_stores_a_private_key_that_is_used_and_never_shown() {
    let env = Env::new();
    let output = env
        .avatar()
        .args(["auth", "login"])
        .write_stdin(format!("{KEY}\n"))
        .output()
        .unwrap();
    assert_code(&output, 0);
    let file = env.path(".config/avatar/credentials");
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), KEY);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert!(!stderr(&output).contains(KEY) && !stdout(&output).contains(KEY));

    // The stored key is sent: this service rejects it (not "no API key").
    let app = axum::Router::new().fallback(|| async {
        (
            axum::http::StatusCode::UNAUTHORIZED,
            r#"{"detail":"Invalid API key"}"#,
        )
    });
    let (_runtime, base) = serve(app);
    let output = env
        .avatar()
        .args(["--api-url", &format!("{base}/v1"), "--upload-url", &base])
        .args(["train", "--type", "woman"])
        .args(env.photos(5))
        .output()
        .unwrap();
    assert_code(&output, 6);
    let err = stderr(&output);
    assert!(
        err.contains("Invalid API key") && !err.contains("no API key"),
        "{err}"
    );
    assert!(!err.contains(KEY));

    let output = env.avatar().args(["auth", "logout"]).output().unwrap();
    assert_code(&output, 0);
    assert!(!file.exists());
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let file = env.path(".config/avatar/credentials");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, KEY).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = env
        .avatar()
        .args(["--api-url", "http://127.0.0.1:9/v1"])
        .args(["train", "--type", "woman"])
        .args(env.photos(5))
        .output()
        .unwrap();
    assert_code(&output, 6);
    let err = stderr(&output);
    assert!(err.contains("chmod 600"), "{err}");
    assert!(!err.contains(KEY));
}

#[test]
fn an_empty_key_is_not_stored() {
    let env = Env::new();
    let output = env
        .avatar()
        .args(["auth", "login"])
        .write_stdin("  \n")
        .output()
        .unwrap();
    assert_code(&output, 2);
    assert!(!env.path(".config/avatar/credentials").exists());
}
