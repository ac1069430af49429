//! The checks, one module per category. Each check is an `async fn(Arc<Session>) -> Checked`
//! registered with its id and description.

pub(super) mod integration;
pub(super) mod postgres;
pub(super) mod stages;
pub(super) mod temporal;

/// Registers `$f` as check `$id`.
macro_rules! check {
    ($id:literal, $category:ident, $description:literal, $f:path) => {
        $crate::validation::Check::new(
            $id,
            $crate::validation::Category::$category,
            $description,
            |session| Box::pin($f(session)),
        )
    };
}
pub(super) use check;
