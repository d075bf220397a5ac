//! Waiting for a job: check once at once (it may be done already), then follow
//! the vendor's polling cadence, until the job ends or the deadline passes.

use std::future::Future;
use std::time::Duration;

use rand::RngExt;
use tokio::time::Instant;

/// When to check again: `first` after the initial check, then every `every`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cadence {
    pub first: Duration,
    pub every: Duration,
}

impl Cadence {
    /// Picsart: check a model after 5 minutes, then every 2 minutes.
    pub const MODEL: Cadence = Cadence {
        first: Duration::from_secs(300),
        every: Duration::from_secs(120),
    };
    /// Picsart: check an inference after 20 seconds, then every 10 seconds.
    pub const INFERENCE: Cadence = Cadence {
        first: Duration::from_secs(20),
        every: Duration::from_secs(10),
    };

    pub fn fixed(interval: Duration) -> Self {
        Self {
            first: interval,
            every: interval,
        }
    }

    /// For a service whose clock runs `factor` times faster (the sandbox).
    pub fn accelerated(self, factor: f64) -> Self {
        Self {
            first: self.first.div_f64(factor),
            every: self.every.div_f64(factor),
        }
    }
}

/// How a wait ended.
#[derive(Debug)]
pub enum Waited<T> {
    Finished(T),
    /// The deadline came first; holds the last thing seen.
    TimedOut(T),
}

/// Calls `check` until `finished` says so. Sleeps between checks with up to
/// 10% more, so that many clients do not poll in lockstep (never less, so a
/// 20-minute training costs at most 10 checks).
pub async fn wait_for<T, E, F, Fut>(
    cadence: Cadence,
    deadline: Option<Instant>,
    mut check: F,
    finished: impl Fn(&T) -> bool,
) -> Result<Waited<T>, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut pause = cadence.first;
    loop {
        let seen = check().await?;
        if finished(&seen) {
            return Ok(Waited::Finished(seen));
        }
        let wake = Instant::now() + pause.mul_f64(rand::rng().random_range(1.0..=1.1));
        match deadline {
            Some(deadline) if deadline <= wake => {
                tokio::time::sleep_until(deadline).await;
                return Ok(Waited::TimedOut(seen));
            }
            _ => tokio::time::sleep_until(wake).await,
        }
        pause = cadence.every;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    #[tokio::test(start_paused = true)]
    async fn follows_the_cadence_and_checks_at_once() {
        let start = Instant::now();
        let mut checks = Vec::new();
        let result = wait_for(
            Cadence::MODEL,
            None,
            || {
                checks.push(start.elapsed().as_secs());
                let n = checks.len();
                async move { Ok::<_, Infallible>(n) }
            },
            |n| *n == 4,
        )
        .await
        .unwrap();
        assert!(matches!(result, Waited::Finished(4)));
        assert_eq!(checks[0], 0, "first check is immediate");
        assert!((270..=330).contains(&checks[1]), "then ~5 min: {checks:?}");
        assert!(
            (370..=470).contains(&checks[2]),
            "then ~2 min more: {checks:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_ends_the_wait_with_the_last_status() {
        let deadline = Instant::now() + Duration::from_secs(30);
        let result = wait_for(
            Cadence::INFERENCE,
            Some(deadline),
            || async { Ok::<_, Infallible>("IN_PROGRESS") },
            |_| false,
        )
        .await
        .unwrap();
        assert!(matches!(result, Waited::TimedOut("IN_PROGRESS")));
        assert!(Instant::now() >= deadline);
    }
}
