//! The one wait-until helper: probe, pause, probe again, until the probe answers or a bound
//! passes. A probe that hangs is cut off by the same bound.

use std::future::Future;
use std::time::Duration;

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
    async fn gives_up_at_the_bound_even_if_the_probe_hangs() {
        let found: Option<()> = until(Duration::from_secs(1), Duration::from_millis(10), || {
            std::future::pending()
        })
        .await;
        assert_eq!(found, None);
    }
}
