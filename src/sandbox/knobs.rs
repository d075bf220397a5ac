//! The fault knobs as text: the names of the faults, and the parsers a caller
//! uses to read them from flags or the environment, with the checks they share
//! with [`Sandbox::start`](super::Sandbox::start).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::Faults;
use crate::api::types::JobStatus;

/// How long a [`Fault::Stall`] lasts when [`Faults::stall`] is zero: long
/// enough to outlast a patient client.
const DEFAULT_STALL: Duration = Duration::from_secs(30);

/// Sums of probabilities that exceed 1 by less than this are rounding.
const ROUNDING: f64 = 1e-9;

/// One way a request can go wrong. The first seven answer before the handler
/// runs, so nothing is processed; the others let the handler run (a POST
/// creates its job) and spoil the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `429` with `Retry-After: 1`.
    RateLimited,
    /// `429` with `Retry-After` as an HTTP date 1–2 s ahead.
    RateLimitedDate,
    /// `429` with `X-Picsart-Ratelimit-Reset-Time: 1` and no `Retry-After`.
    RateLimitedReset,
    /// `429` with no hint, in the rate-limit gateway's `fault` body shape.
    RateLimitedBare,
    /// `500`.
    ServerError,
    /// `502`.
    BadGateway,
    /// `503`.
    Unavailable,
    /// The status line, the headers (with the full `Content-Length`) and a few
    /// bytes are sent, then the connection drops.
    Reset,
    /// The answer is held back for [`Faults::stall`] before it is sent.
    Stall,
    /// The answer becomes `200` with truncated JSON.
    Malformed,
    /// The answer becomes `200` with an empty body.
    Empty,
    /// A JSON object answer gains unknown fields, at the top and in each `data` item.
    Extra,
    /// A JSON object answer loses the fields a client cannot count on: a read's
    /// `progress` and `model_id`, each `data` item's `id` and `style`, and the
    /// correlation id header.
    Missing,
}

impl Fault {
    pub const ALL: [Fault; 13] = [
        Self::RateLimited,
        Self::RateLimitedDate,
        Self::RateLimitedReset,
        Self::RateLimitedBare,
        Self::ServerError,
        Self::BadGateway,
        Self::Unavailable,
        Self::Reset,
        Self::Stall,
        Self::Malformed,
        Self::Empty,
        Self::Extra,
        Self::Missing,
    ];

    /// The name the knobs use, as in `429-date:0.1`.
    pub fn name(self) -> &'static str {
        match self {
            Self::RateLimited => "429",
            Self::RateLimitedDate => "429-date",
            Self::RateLimitedReset => "429-reset",
            Self::RateLimitedBare => "429-bare",
            Self::ServerError => "500",
            Self::BadGateway => "502",
            Self::Unavailable => "503",
            Self::Reset => "reset",
            Self::Stall => "stall",
            Self::Malformed => "malformed",
            Self::Empty => "empty",
            Self::Extra => "extra",
            Self::Missing => "missing",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|fault| fault.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|f| f.name()).collect();
                format!("unknown fault `{s}`; valid names: {}", names.join(", "))
            })
    }
}

/// Reads `NAME:PROBABILITY,…` (such as `429:0.1,reset:0.05,stall:0.02`) into
/// [`Faults::random`]. Blank items are skipped, so an empty spec means no fault.
pub fn parse_random(spec: &str) -> Result<Vec<(Fault, f64)>, String> {
    let mut random = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (name, probability) = item
            .split_once(':')
            .ok_or_else(|| format!("fault `{item}`: expected NAME:PROBABILITY, such as 429:0.1"))?;
        let fault = name.parse().map_err(|e| format!("fault `{item}`: {e}"))?;
        let probability = probability
            .trim()
            .parse()
            .map_err(|_| format!("fault `{item}`: the probability must be a number from 0 to 1"))?;
        random.push((fault, probability));
    }
    check_random(&random)?;
    Ok(random)
}

/// Reads [`Faults::training_outcome`]: `FAILED` or `IMAGE_NOT_VALID`, in
/// either status vocabulary and any case.
pub fn parse_training_outcome(s: &str) -> Result<JobStatus, String> {
    Some(JobStatus::parse(s.trim()))
        .filter(training_may_end)
        .ok_or_else(|| format!("training outcome `{s}`: expected FAILED or IMAGE_NOT_VALID"))
}

/// Reads [`Faults::inference_outcome`]: `FAILED` (or `error`), any case.
pub fn parse_inference_outcome(s: &str) -> Result<JobStatus, String> {
    Some(JobStatus::parse(s.trim()))
        .filter(inference_may_end)
        .ok_or_else(|| format!("inference outcome `{s}`: expected FAILED"))
}

fn training_may_end(status: &JobStatus) -> bool {
    matches!(status, JobStatus::Failed | JobStatus::ImageNotValid)
}

fn inference_may_end(status: &JobStatus) -> bool {
    *status == JobStatus::Failed
}

fn check_random(random: &[(Fault, f64)]) -> Result<(), String> {
    if let Some((fault, p)) = random.iter().find(|(_, p)| !(0.0..=1.0).contains(p)) {
        return Err(format!(
            "fault `{fault}:{p}`: the probability must be a number from 0 to 1"
        ));
    }
    let total: f64 = random.iter().map(|(_, p)| p).sum();
    if total > 1.0 + ROUNDING {
        return Err(format!(
            "fault probabilities add up to {total}; at most 1 is possible"
        ));
    }
    Ok(())
}

impl Faults {
    /// Refuses knobs no parser would have produced, for callers that build
    /// `Faults` by hand.
    pub(super) fn check(&self) -> Result<(), String> {
        check_random(&self.random)?;
        if let Some(status) = self
            .training_outcome
            .as_ref()
            .filter(|s| !training_may_end(s))
        {
            return Err(format!(
                "a training cannot be made to end {status}: use FAILED or IMAGE_NOT_VALID"
            ));
        }
        if let Some(status) = self
            .inference_outcome
            .as_ref()
            .filter(|s| !inference_may_end(s))
        {
            return Err(format!(
                "an inference cannot be made to end {status}: use FAILED"
            ));
        }
        Ok(())
    }

    pub(super) fn stall_time(&self) -> Duration {
        if self.stall.is_zero() {
            DEFAULT_STALL
        } else {
            self.stall
        }
    }
}
