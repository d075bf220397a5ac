//! Property tests (the fuzzing that fits stable Rust): the response decoders
//! and the state file loader take any input without panicking, and never
//! mistake garbage for a valid state. `PROPTEST_CASES=100000 cargo test
//! --test fuzz` runs a long session; CI runs the default 256 cases each.

use avatar::api::types::{ErrorBody, InferenceStatus, JobStatus, ModelStatus, UploadResponse};
use avatar::state::{StateError, StateFile};
use proptest::prelude::*;

/// JSON-ish text: mostly valid JSON of the right shapes, some broken.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "[a-zA-Z_ ]{0,12}".prop_map(serde_json::Value::from),
        prop_oneof![
            Just("DONE"),
            Just("success"),
            Just("IN_PROGRESS"),
            Just("error"),
            Just("IMAGE_NOT_VALID")
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("status".to_string()),
                    Just("data".to_string()),
                    Just("urls".to_string()),
                    Just("url".to_string()),
                    Just("progress".to_string()),
                    Just("version".to_string()),
                    Just("models".to_string()),
                    Just("inferences".to_string()),
                    Just("id".to_string()),
                    Just("detail".to_string()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn decoders_never_panic_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = serde_json::from_slice::<InferenceStatus>(&bytes);
        let _ = serde_json::from_slice::<ModelStatus>(&bytes);
        let _ = serde_json::from_slice::<UploadResponse>(&bytes);
        if let Ok(body) = serde_json::from_slice::<ErrorBody>(&bytes) {
            let _ = body.best_text();
        }
    }

    #[test]
    fn decoders_never_panic_on_json(value in json_value()) {
        let text = value.to_string();
        if let Ok(status) = serde_json::from_str::<InferenceStatus>(&text) {
            // Whatever the status word, it is classified, never lost.
            prop_assert_eq!(JobStatus::parse(status.status.as_str()), status.status);
        }
        let _ = serde_json::from_str::<ModelStatus>(&text);
        if let Ok(body) = serde_json::from_str::<ErrorBody>(&text) {
            let _ = body.best_text();
        }
    }

    #[test]
    fn status_words_round_trip(word in "[A-Za-z_]{0,16}") {
        let status = JobStatus::parse(&word);
        prop_assert_eq!(JobStatus::parse(status.as_str()), status);
    }

    #[test]
    fn the_state_loader_refuses_garbage_and_never_panics(
        value in json_value(),
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        raw in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let content = if raw { bytes } else { value.to_string().into_bytes() };
        std::fs::write(&path, &content).unwrap();
        let file = StateFile::new(&path);
        match file.load() {
            Ok(state) => prop_assert!(state.version <= avatar::state::VERSION),
            Err(StateError::Corrupt { .. } | StateError::TooNew { .. }) => {
                // Refused: an update must leave the bytes exactly as they were.
                prop_assert!(file.update(|_| ()).is_err());
                prop_assert_eq!(std::fs::read(&path).unwrap(), content);
            }
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }
}
