//! The wait-until helpers, so no module writes its own deadline loop: [`until`] probes
//! until something shows up (a probe that hangs is cut off by the same bound); [`retry`]
//! repeats an attempt that knows when waiting will not help, and returns its last error.

use std::future::Future;
use std::time::Duration;
// tokio's clock: the same one `sleep` uses (and tests can pause).
use tokio::time::Instant;

/// What one attempt of [`retry`] found.
pub(crate) enum Attempt<T, E> {
    /// Done: return this.
    Done(T),
    /// Not yet: try again after the pause (this error is returned if time runs out first).
    Again(E),
    /// Waiting will not help (a wrong password, a missing file): return this at once.
    Fail(E),
}

/// Calls `attempt` with the time left, pausing `pause` between attempts, until it is done or
/// fails, for at most `limit`; past it, the last `Again` error.
pub(crate) async fn retry<T, E, F, Fut>(
    limit: Duration,
    pause: Duration,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Attempt<T, E>>,
{
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match attempt(left).await {
            Attempt::Done(value) => return Ok(value),
            Attempt::Fail(e) => return Err(e),
            Attempt::Again(e) if Instant::now() + pause >= deadline => return Err(e),
            Attempt::Again(_) => tokio::time::sleep(pause).await,
        }
    }
}

/// Calls `probe` every `interval` until it returns `Some`, for at most `limit` in all.
pub(crate) async fn until<T, F, Fut>(limit: Duration, interval: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let probing = async {
        loop {
            if let Some(found) = probe().await {
                return found;
            }
            tokio::time::sleep(interval).await;
        }
    };
    tokio::time::timeout(limit, probing).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn returns_what_the_probe_finds() {
        let mut calls = 0;
        let found = until(Duration::from_secs(1), Duration::from_millis(10), || {
            calls += 1;
            let n = calls;
            async move { (n == 3).then_some(n) }
        })
        .await;
        assert_eq!(found, Some(3));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_returns_the_last_error_or_fails_at_once() {
        let mut n = 0;
        let last: Result<(), u32> =
            retry(Duration::from_secs(1), Duration::from_millis(100), |_| {
                n += 1;
                let n = n;
                async move { Attempt::Again(n) }
            })
            .await;
        assert_eq!(last, Err(10));
        let failed: Result<(), &str> = retry(
            Duration::from_secs(1),
            Duration::from_millis(100),
            |_| async { Attempt::Fail("no use waiting") },
        )
        .await;
        assert_eq!(failed, Err("no use waiting"));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_at_the_bound_even_if_the_probe_hangs() {
        let found: Option<()> = until(Duration::from_secs(1), Duration::from_millis(10), || {
            std::future::pending()
        })
        .await;
        assert_eq!(found, None);
    }
}
