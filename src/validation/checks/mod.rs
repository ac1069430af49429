//! The checks, one module per category. Each check is an `async fn(Arc<Session>) -> Checked`
//! registered with its id and description.

pub(super) mod canary;
pub(super) mod cluster;
pub(super) mod integration;
pub(super) mod metrics;
pub(super) mod namespace;
pub(super) mod postgres;
pub(super) mod postgres_health;
pub(super) mod stages;
pub(super) mod temporal;
pub(super) mod tls;
pub(super) mod versioning;

/// `GET url` within 5 s: the status and body, or a failed verdict naming the URL and, as
/// `hint`, what to look at.
pub(super) async fn http_get(
    url: &str,
    hint: &str,
) -> Result<(reqwest::StatusCode, String), crate::validation::Verdict> {
    use crate::validation::fail;
    let response = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .map_err(fail)?
        .get(url)
        .send()
        .await
        .map_err(|e| fail(format!("GET {url}: {e}: {hint}")))?;
    let status = response.status();
    let body = response.text().await.map_err(fail)?;
    Ok((status, body))
}

/// Registers `$f` as check `$id` of `$category`, run from profile `$profile` on.
macro_rules! check {
    ($id:literal, $category:ident, $profile:ident, $description:literal, $f:path) => {
        $crate::validation::Check::new(
            $id,
            $crate::validation::Category::$category,
            $crate::validation::Profile::$profile,
            $description,
            |session| Box::pin($f(session)),
        )
    };
}
pub(super) use check;
