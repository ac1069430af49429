//! The Temporal Web UI next to a stack: the PostgreSQL flavour runs the UI server
//! (`github.com/temporalio/ui-server/v2`: a local process, or the `temporalio/ui` image's
//! contract in a container); the dev flavour's CLI server serves its own. Either way the UI
//! is ready when it answers for the stack's namespace through its own API, which proves the
//! whole path from browser to frontend, not just an open port.

use super::{BootError, StackError};
use crate::error::BoxError;
use crate::poll::{retry, Attempt};
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// Pause between readiness attempts (the UI server starts in tens of milliseconds).
const RETRY_PAUSE: Duration = Duration::from_millis(20);
/// Bound on one request, so a black-holed port cannot eat the whole budget at once.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);

/// Configuration of a local UI server: on loopback only (it can terminate and signal
/// workflows), talking plaintext to the stack's frontend. No network fetches (news, version
/// checks): test machines are often offline.
pub(crate) fn local_config(frontend: &str, port: u16, namespace: &str) -> String {
    format!(
        "temporalGrpcAddress: {frontend}\n\
         host: 127.0.0.1\n\
         port: {port}\n\
         enableUi: true\n\
         defaultNamespace: {namespace:?}\n\
         disableNewsFetch: true\n\
         notifyOnNewVersion: false\n\
         hideLogs: true\n\
         cors:\n  cookieInsecure: true\n  allowOrigins:\n    - \"http://127.0.0.1:{port}\"\n"
    )
}

/// The environment of a UI container (the `temporalio/ui` image's variables), for a
/// frontend at `frontend` on the stack's network.
pub(crate) fn container_env(frontend: &str, namespace: &str) -> Vec<(&'static str, String)> {
    vec![
        ("TEMPORAL_ADDRESS", frontend.to_string()),
        ("TEMPORAL_UI_PORT", CONTAINER_PORT.to_string()),
        ("TEMPORAL_DEFAULT_NAMESPACE", namespace.to_string()),
        ("TEMPORAL_DISABLE_NEWS_FETCH", "true".into()),
        ("TEMPORAL_NOTIFY_ON_NEW_VERSION", "false".into()),
        // Plain HTTP on loopback: a Secure-only CSRF cookie would never be sent back.
        ("TEMPORAL_CSRF_COOKIE_INSECURE", "true".into()),
    ]
}

/// The port the UI listens on inside its container (the official image's).
pub(crate) const CONTAINER_PORT: u16 = 8080;

/// Waits until the UI at `ui_url` answers for `namespace` through the frontend.
pub(crate) async fn wait_ready(
    ui_url: &str,
    namespace: &str,
    timeout: Duration,
    log: &str,
) -> Result<(), StackError> {
    let probe = namespace_api(ui_url, namespace).map_err(|e| {
        StackError::Boot(BootError::ServiceFailed {
            service: format!("Temporal Web UI at {ui_url}"),
            source: e,
        })
    })?;
    let client: Client<_, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let (client, probe) = (&client, &probe);
    retry(timeout, RETRY_PAUSE, |left| async move {
        let request = client.get(probe.clone());
        match tokio::time::timeout(left.min(ATTEMPT_TIMEOUT), request).await {
            Ok(Ok(response)) if response.status().is_success() => Attempt::Done(()),
            Ok(Ok(response)) => Attempt::Again(BoxError::from(format!(
                "GET {probe} answered {}",
                response.status()
            ))),
            Ok(Err(e)) => Attempt::Again(e.into()),
            Err(_) => Attempt::Again(format!("GET {probe}: no answer within {left:?}").into()),
        }
    })
    .await
    .map_err(|last| {
        StackError::Boot(BootError::StartupTimeout {
            service: format!("Temporal Web UI at {ui_url}"),
            timeout,
            last,
            log: log.to_string(),
        })
    })
}

/// `<ui>/api/v1/namespaces/<namespace>`: the UI server's proxy of DescribeNamespace.
fn namespace_api(ui_url: &str, namespace: &str) -> Result<hyper::Uri, BoxError> {
    let mut url = url::Url::parse(ui_url)?;
    url.path_segments_mut()
        .map_err(|()| format!("{ui_url} cannot have a path"))?
        .pop_if_empty()
        .extend(["api", "v1", "namespaces", namespace]);
    Ok(url.as_str().parse()?)
}

/// The UI page of one workflow run's event history.
pub(crate) fn workflow_url(
    ui_url: &str,
    namespace: &str,
    workflow_id: &str,
    run_id: &str,
) -> Option<String> {
    let mut url = url::Url::parse(ui_url).ok()?;
    url.path_segments_mut().ok()?.pop_if_empty().extend([
        "namespaces",
        namespace,
        "workflows",
        workflow_id,
        run_id,
        "history",
    ]);
    Some(url.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_links_escape_what_ids_may_contain() {
        let url = workflow_url("http://127.0.0.1:8233", "default", "order/42 ?#", "run-1");
        assert_eq!(
            url.as_deref(),
            Some(
                "http://127.0.0.1:8233/namespaces/default/workflows/order%2F42%20%3F%23/run-1/history"
            )
        );
        // A UI under a path prefix keeps it.
        let url = workflow_url("http://h:1/temporal/", "ns", "w", "r").unwrap();
        assert_eq!(
            url,
            "http://h:1/temporal/namespaces/ns/workflows/w/r/history"
        );
    }

    #[test]
    fn the_probe_asks_for_the_namespace() {
        let uri = namespace_api("http://127.0.0.1:9/", "my ns").unwrap();
        assert_eq!(
            uri.to_string(),
            "http://127.0.0.1:9/api/v1/namespaces/my%20ns"
        );
    }

    #[test]
    fn the_local_config_binds_loopback_and_quotes_the_namespace() {
        let yaml = local_config("127.0.0.1:7233", 8233, "a: b");
        assert!(yaml.contains("host: 127.0.0.1\n"), "{yaml}");
        assert!(yaml.contains("defaultNamespace: \"a: b\"\n"), "{yaml}");
    }

    #[tokio::test]
    async fn a_port_with_nothing_behind_it_fails_within_the_bound() {
        let port = crate::stack::ports::free_ports(1).unwrap()[0];
        let started = std::time::Instant::now();
        let err = wait_ready(
            &format!("http://127.0.0.1:{port}"),
            "default",
            Duration::from_millis(300),
            "the log",
        )
        .await
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        let shown = err.to_string();
        assert!(
            shown.contains("Temporal Web UI") && shown.contains("Fix:"),
            "{shown}"
        );
    }
}
