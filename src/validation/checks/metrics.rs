//! Server health from its own metrics: the Prometheus endpoint the server exposes
//! (`global.metrics.prometheus.listenAddress`), judged against stated thresholds. Counters
//! and histograms are cumulative since the server started: over a validation run when they
//! were read as it began ([`take_baseline`]), else over the server's lifetime.

use super::check;
use crate::validation::context::{measure, warn};
use crate::validation::{fail, Check, Checked, Session, Verdict};
use prometheus_parse::{Sample, Scrape, Value};
use std::sync::Arc;

/// Thresholds: `(warn, fail)`.
pub const PERSISTENCE_ERROR_RATE: (f64, f64) = (0.01, 0.05);
/// p95 of persistence calls, seconds.
pub const PERSISTENCE_P95_S: (f64, f64) = (0.1, 0.5);
/// p95 of workflow-task schedule-to-start, seconds.
pub const SCHEDULE_TO_START_P95_S: (f64, f64) = (1.0, 5.0);
/// Tasks waiting in one task queue.
pub const BACKLOG: (f64, f64) = (1_000.0, 10_000.0);

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "metrics.persistence_errors",
            Metrics,
            Quick,
            "Persistence calls fail under 1% (warn) / 5% (fail) of the time",
            persistence_errors
        ),
        check!(
            "metrics.persistence_latency",
            Metrics,
            Quick,
            "Persistence calls' p95 latency is under 100 ms (warn) / 500 ms (fail)",
            persistence_latency
        ),
        check!(
            "metrics.schedule_to_start",
            Metrics,
            Quick,
            "Workflow tasks' p95 schedule-to-start is under 1 s (warn) / 5 s (fail)",
            schedule_to_start
        ),
        check!(
            "metrics.backlog",
            Metrics,
            Quick,
            "No task queue has over 1,000 (warn) / 10,000 (fail) tasks waiting",
            backlog
        ),
    ]
}

/// The endpoint's samples, scraped once per run (the server renders thousands of series;
/// each scrape costs a few hundred milliseconds).
async fn scrape(session: &Session) -> Result<&[Sample], Verdict> {
    session.metrics(fetch(session)).await
}

async fn fetch(session: &Session) -> Result<Vec<Sample>, Verdict> {
    let Some(url) = session.target().metrics_url.clone() else {
        return Err(Verdict::Skipped(
            "no metrics endpoint given (--metrics-url http://host:9090/metrics, the server's \
             global.metrics.prometheus.listenAddress)"
                .into(),
        ));
    };
    let (status, text) = super::http_get(
        &url,
        "is the server's Prometheus listener enabled and reachable?",
    )
    .await?;
    if !status.is_success() {
        return Err(fail(format!("GET {url} answered {status}")));
    }
    parse(&text).map_err(|e| fail(format!("{url}: {e}")))
}

/// The samples of a Prometheus text exposition.
fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .map_err(|e| format!("not the Prometheus text format: {e}"))?;
    if !scrape
        .samples
        .iter()
        .any(|s| s.metric.starts_with("persistence_"))
    {
        return Err(
            "no persistence_* metric: this is not a Temporal server's metrics endpoint (or \
             the server has not started)"
                .into(),
        );
    }
    Ok(scrape.samples)
}

fn sum(samples: &[Sample], metric: &str) -> f64 {
    samples
        .iter()
        .filter(|s| s.metric == metric)
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            _ => 0.0,
        })
        // Not `sum()`: an empty f64 sum is -0.0, which prints as "-0".
        .fold(0.0, |total, v| total + v)
}

/// A histogram's cumulative buckets `(le, count)` summed over every series `keep` accepts,
/// in order.
fn buckets(samples: &[Sample], metric: &str, keep: &dyn Fn(&Sample) -> bool) -> Vec<(f64, f64)> {
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for sample in samples.iter().filter(|s| s.metric == metric && keep(s)) {
        if let Value::Histogram(counts) = &sample.value {
            for c in counts {
                match buckets.iter_mut().find(|(le, _)| *le == c.less_than) {
                    Some(bucket) => bucket.1 += c.count,
                    None => buckets.push((c.less_than, c.count)),
                }
            }
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    buckets
}

/// The `q` quantile of cumulative `buckets` (linear within the bucket, as Prometheus's
/// histogram_quantile does) and the observation count; `None` without observations.
fn quantile_of(buckets: &[(f64, f64)], q: f64) -> Option<(f64, f64)> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut below = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some((below.0, total));
            }
            let share = (rank - below.1) / (count - below.1).max(f64::MIN_POSITIVE);
            return Some((below.0 + (le - below.0) * share, total));
        }
        below = (le, count);
    }
    Some((below.0, total))
}

/// The `q` quantile over the server's lifetime.
#[cfg(test)]
fn quantile(
    samples: &[Sample],
    metric: &str,
    q: f64,
    keep: impl Fn(&Sample) -> bool,
) -> Option<(f64, f64)> {
    quantile_of(&buckets(samples, metric, &keep), q)
}

/// The `q` quantile over this run when the counters were read as it began and it observed
/// something, else over the server's lifetime; with the window's name.
fn windowed_quantile(
    session: &Session,
    samples: &[Sample],
    metric: &str,
    q: f64,
    keep: impl Fn(&Sample) -> bool,
) -> Option<(f64, f64, &'static str)> {
    let now = buckets(samples, metric, &keep);
    if let Some(base) = session.metrics_baseline() {
        let before = buckets(base, metric, &keep);
        let during: Vec<(f64, f64)> = now
            .iter()
            .map(|&(le, count)| {
                let earlier = before.iter().find(|(l, _)| *l == le).map_or(0.0, |b| b.1);
                (le, count - earlier)
            })
            .collect();
        if let Some((value, n)) = quantile_of(&during, q) {
            return Some((value, n, "during this validation run"));
        }
    }
    quantile_of(&now, q).map(|(value, n)| (value, n, "since the server started"))
}

/// Pass, warn or fail `value` against `(warn, fail)`.
fn judge(value: f64, (warn_at, fail_at): (f64, f64), summary: String, fix: &str) -> Checked {
    if value > fail_at {
        return Err(fail(format!("{summary}: over {fail_at}; {fix}")));
    }
    if value > warn_at {
        warn(format!("over {warn_at}"));
    }
    Ok(summary)
}

/// Scrapes the server's metrics as a run begins, so the counters' checks judge the run (a
/// past incident, such as a failover, stays in lifetime counters forever). A failed scrape
/// leaves lifetime figures; the checks report the endpoint's problem themselves.
pub(crate) async fn take_baseline(session: &Session) {
    if let Ok(samples) = fetch(session).await {
        session.set_metrics_baseline(samples);
    }
}

async fn persistence_errors(session: Arc<Session>) -> Checked {
    let samples = scrape(&session).await?;
    let mut requests = sum(samples, "persistence_requests");
    let mut errors = sum(samples, "persistence_errors");
    let mut window = "since the server started";
    if let Some(base) = session.metrics_baseline() {
        let during = requests - sum(base, "persistence_requests");
        if during > 0.0 {
            requests = during;
            errors -= sum(base, "persistence_errors");
            window = "during this validation run";
        }
    }
    if requests == 0.0 {
        // The server's reporter flushes counters about once a second: a server that just
        // started reports none yet (its histograms already have observations).
        return Err(Verdict::Skipped(
            "the server reports no persistence request yet (a server that just started \
             flushes its counters within seconds): validate again after some traffic"
                .into(),
        ));
    }
    let rate = errors / requests;
    measure("persistence_requests", requests);
    measure("persistence_errors", errors);
    measure("persistence_error_rate", rate);
    judge(
        rate,
        PERSISTENCE_ERROR_RATE,
        format!(
            "{errors:.0} errors in {requests:.0} persistence requests ({:.2}%) {window}",
            rate * 100.0
        ),
        "persistence_error_with_type shows which kind; check the database's health and \
         the server log",
    )
}

async fn persistence_latency(session: Arc<Session>) -> Checked {
    let samples = scrape(&session).await?;
    let (p95, count, window) =
        windowed_quantile(&session, samples, "persistence_latency", 0.95, |_| true).ok_or_else(
            || fail("persistence_latency has no observations: the server is not serving"),
        )?;
    measure("persistence_p95_ms", p95 * 1000.0);
    judge(
        p95,
        PERSISTENCE_P95_S,
        format!("p95 {:.1} ms over {count:.0} calls {window}", p95 * 1000.0),
        "the database is slow or overloaded: check its CPU, I/O and locks (postgres.* checks)",
    )
}

async fn schedule_to_start(session: Arc<Session>) -> Checked {
    let samples = scrape(&session).await?;
    let workflow_tasks = |s: &Sample| {
        s.labels
            .get("task_type")
            .is_some_and(|t| t.to_ascii_lowercase().contains("workflow"))
    };
    let Some((p95, count, window)) = windowed_quantile(
        &session,
        samples,
        "task_schedule_to_start_latency",
        0.95,
        workflow_tasks,
    ) else {
        return Err(Verdict::Skipped(
            "no workflow task has been dispatched since the server started (run the full \
             profile, or validate after traffic)"
                .into(),
        ));
    };
    measure("schedule_to_start_p95_ms", p95 * 1000.0);
    judge(
        p95,
        SCHEDULE_TO_START_P95_S,
        format!(
            "p95 {:.1} ms over {count:.0} workflow tasks {window}",
            p95 * 1000.0
        ),
        "workers do not keep up or matching is overloaded: add pollers or workers, check \
         matching's CPU",
    )
}

async fn backlog(session: Arc<Session>) -> Checked {
    let samples = scrape(&session).await?;
    let worst = samples
        .iter()
        .filter(|s| s.metric == "approximate_backlog_count")
        .filter_map(|s| match s.value {
            Value::Gauge(v) | Value::Untyped(v) => Some((v, s.labels.get("taskqueue"))),
            _ => None,
        })
        .max_by(|a, b| a.0.total_cmp(&b.0));
    // No such series at all is not "no backlog": nothing was measured.
    let Some((count, queue)) = worst else {
        return Err(Verdict::Skipped(
            "the server exports no approximate_backlog_count (it appears once a task queue \
             has been used; older servers do not export it): no backlog was measured"
                .into(),
        ));
    };
    measure("max_backlog", count);
    judge(
        count,
        BACKLOG,
        format!(
            "largest backlog {count:.0} task(s){}",
            queue.map(|q| format!(" on `{q}`")).unwrap_or_default()
        ),
        "workers for that queue are missing or too few",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPOSITION: &str = "\
# TYPE persistence_requests counter
persistence_requests{operation=\"GetShard\"} 90
persistence_requests{operation=\"CreateWorkflowExecution\"} 10
# TYPE persistence_errors counter
persistence_errors{operation=\"GetShard\"} 4
# TYPE persistence_latency histogram
persistence_latency_bucket{operation=\"GetShard\",le=\"0.001\"} 50
persistence_latency_bucket{operation=\"GetShard\",le=\"0.01\"} 90
persistence_latency_bucket{operation=\"GetShard\",le=\"+Inf\"} 90
persistence_latency_sum{operation=\"GetShard\"} 0.3
persistence_latency_count{operation=\"GetShard\"} 90
persistence_latency_bucket{operation=\"Create\",le=\"0.001\"} 0
persistence_latency_bucket{operation=\"Create\",le=\"0.01\"} 0
persistence_latency_bucket{operation=\"Create\",le=\"+Inf\"} 10
persistence_latency_sum{operation=\"Create\"} 9
persistence_latency_count{operation=\"Create\"} 10
# TYPE approximate_backlog_count gauge
approximate_backlog_count{taskqueue=\"orders\"} 12000
approximate_backlog_count{taskqueue=\"mail\"} 3
";

    #[test]
    fn sums_and_quantiles_read_the_exposition() {
        let samples = &parse(EXPOSITION).unwrap();
        assert_eq!(sum(samples, "persistence_requests"), 100.0);
        assert_eq!(sum(samples, "persistence_errors"), 4.0);
        // 100 calls: 50 under 1 ms, 40 more under 10 ms, 10 beyond: p50 is 1 ms, p95 is
        // in the +Inf bucket (reported as its lower bound, 10 ms).
        let (p50, n) = quantile(samples, "persistence_latency", 0.5, |_| true).unwrap();
        assert_eq!(n, 100.0);
        assert!((p50 - 0.001).abs() < 1e-9, "{p50}");
        let (p95, _) = quantile(samples, "persistence_latency", 0.95, |_| true).unwrap();
        assert!((p95 - 0.01).abs() < 1e-9, "{p95}");
        let (p70, _) = quantile(samples, "persistence_latency", 0.7, |_| true).unwrap();
        assert!(p70 > 0.001 && p70 < 0.01, "{p70}");
        assert!(quantile(samples, "task_schedule_to_start_latency", 0.95, |_| true).is_none());
    }

    #[test]
    fn thresholds_warn_then_fail() {
        assert!(judge(0.5, (1.0, 2.0), "ok".into(), "fix").is_ok());
        assert!(judge(1.5, (1.0, 2.0), "warned".into(), "fix").is_ok());
        let err = judge(2.5, (1.0, 2.0), "12000 waiting".into(), "add workers").unwrap_err();
        assert!(
            err.message().contains("12000 waiting: over 2; add workers"),
            "{err:?}"
        );
    }

    #[test]
    fn an_endpoint_that_is_not_temporal_is_named() {
        let err = parse("# TYPE up gauge\nup 1\n").unwrap_err();
        assert!(err.contains("not a Temporal server"), "{err}");
    }
}
