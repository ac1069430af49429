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
