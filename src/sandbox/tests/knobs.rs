//! The fault knobs as text, and the knobs the sandbox refuses to start with.

use super::*;
use crate::sandbox::{Fault, parse_inference_outcome, parse_random, parse_training_outcome};

#[test]
fn fault_names_round_trip() {
    for fault in Fault::ALL {
        assert_eq!(fault.name().parse::<Fault>(), Ok(fault));
    }
    assert_eq!("429-DATE".parse::<Fault>(), Ok(Fault::RateLimitedDate));
    let error = "teapot".parse::<Fault>().unwrap_err();
    assert!(error.contains("`teapot`"), "{error}");
    assert!(
        error.contains("429, 429-date, 429-reset, 429-bare, 500, 502, 503, reset, stall"),
        "{error}"
    );
}

#[test]
fn random_specs_are_checked() {
    assert_eq!(
        parse_random("429:0.1, reset:0.05,stall:0.02").unwrap(),
        [
            (Fault::RateLimited, 0.1),
            (Fault::Reset, 0.05),
            (Fault::Stall, 0.02)
        ]
    );
    assert_eq!(parse_random("").unwrap(), []);
    assert_eq!(parse_random("500:0.1,502:0.2,503:0.7").unwrap().len(), 3);
    for (spec, names) in [
        ("429", "`429`: expected NAME:PROBABILITY"),
        (
            "429:0.1,teapot:0.1",
            "`teapot:0.1`: unknown fault `teapot`; valid names",
        ),
        (
            "429:1.5",
            "`429:1.5`: the probability must be a number from 0 to 1",
        ),
        ("429:-0.1", "`429:-0.1`"),
        ("429:NaN", "`429:NaN`"),
        ("empty:many", "`empty:many`: the probability"),
        ("429:0.6,500:0.5", "add up to 1.1"),
    ] {
        let error = parse_random(spec).unwrap_err();
        assert!(error.contains(names), "{spec}: {error}");
    }
}

#[test]
fn outcomes_are_checked() {
    assert_eq!(parse_training_outcome("failed"), Ok(JobStatus::Failed));
    assert_eq!(parse_training_outcome("error"), Ok(JobStatus::Failed));
    assert_eq!(
        parse_training_outcome("IMAGE_NOT_VALID"),
        Ok(JobStatus::ImageNotValid)
    );
    assert!(
        parse_training_outcome("DONE")
            .unwrap_err()
            .contains("`DONE`")
    );
    assert_eq!(parse_inference_outcome(" FAILED "), Ok(JobStatus::Failed));
    assert!(parse_inference_outcome("IMAGE_NOT_VALID").is_err());
}

#[tokio::test]
async fn impossible_knobs_are_refused_at_start() {
    for faults in [
        Faults {
            random: vec![(Fault::Reset, 0.7), (Fault::Empty, 0.7)],
            ..Faults::default()
        },
        Faults {
            training_outcome: Some(JobStatus::Done),
            ..Faults::default()
        },
        Faults {
            inference_outcome: Some(JobStatus::ImageNotValid),
            ..Faults::default()
        },
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            dir: dir.path().into(),
            speed: FAST,
            credits: None,
            faults,
        };
        let error = Sandbox::start(config, 0).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{error}");
    }
}
