//! The Temporal server releases validation knows: the PostgreSQL schema versions each one
//! expects, so an older deployment is held to its own release's schema, not to the one the
//! harness pins.
//!
//! Read from each release's source (`schema/postgresql/v12/version.go`, constants `Version`
//! and `VisibilityVersion`) as the Go module proxy serves it: `go mod download
//! go.temporal.io/server@<version>`, the patch named in `read_from`. Patch releases do not
//! change the schema.

/// A minor release of the Temporal server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    /// `(major, minor)`, e.g. `(1, 22)`.
    pub minor: (u32, u32),
    /// Schema version of the `temporal` database it expects.
    pub schema: &'static str,
    /// Schema version of the `temporal_visibility` database it expects.
    pub visibility: &'static str,
    /// The patch release the versions were read from.
    pub read_from: &'static str,
}

const fn release(
    minor: u32,
    schema: &'static str,
    visibility: &'static str,
    read_from: &'static str,
) -> Release {
    Release {
        minor: (1, minor),
        schema,
        visibility,
        read_from,
    }
}

/// Every release validation knows, oldest first. The oldest is the oldest this project
/// supports (the first deployment it validated ran 1.22 on PostgreSQL 15).
pub const RELEASES: &[Release] = &[
    release(22, "1.10", "1.3", "1.22.0"),
    release(23, "1.11", "1.4", "1.23.1"),
    release(24, "1.12", "1.5", "1.24.0"),
    release(25, "1.14", "1.6", "1.25.1"),
    release(26, "1.14", "1.7", "1.26.2"),
    release(27, "1.16", "1.9", "1.27.3"),
    release(28, "1.17", "1.9", "1.28.1"),
    release(29, "1.18", "1.9", "1.29.1"),
    release(30, "1.18", "1.13", "1.30.4"),
    release(31, "1.19", "1.14", "1.31.2"),
    release(32, "1.19", "1.14", "1.32.2"),
];

/// Where a server version stands against [`RELEASES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// A release in the table.
    Release(&'static Release),
    /// Older than the oldest release supported.
    TooOld,
    /// Newer than the newest release in the table: the newest entry is the best guess.
    Newer(&'static Release),
}

/// `(major, minor)` of a version string such as `1.22.4`, `v1.32.0-159.0` or `1.29.1+build`.
pub fn minor_of(version: &str) -> Option<(u32, u32)> {
    let mut parts = version
        .trim()
        .trim_start_matches('v')
        .split(['.', '-', '+']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// What the table knows of server `version`; `None` when it is not a version at all.
pub fn lookup(version: &str) -> Option<Known> {
    let minor = minor_of(version)?;
    let (oldest, newest) = (RELEASES.first()?, RELEASES.last()?);
    Some(if minor < oldest.minor {
        Known::TooOld
    } else if minor > newest.minor {
        Known::Newer(newest)
    } else {
        // Every minor from the oldest to the newest has a row.
        Known::Release(RELEASES.iter().find(|r| r.minor == minor)?)
    })
}

/// A schema version such as `1.19` as a comparable pair.
pub fn schema_pair(version: &str) -> Option<(u32, u32)> {
    minor_of(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_in_the_shapes_servers_report() {
        assert_eq!(minor_of("1.22.4"), Some((1, 22)));
        assert_eq!(minor_of("v1.32.0-159.0"), Some((1, 32)));
        assert_eq!(minor_of("1.29.1+build"), Some((1, 29)));
        assert_eq!(minor_of("banana"), None);
        assert!(schema_pair("1.9") < schema_pair("1.13"));
    }

    #[test]
    fn every_minor_between_the_oldest_and_newest_has_a_row_in_order() {
        for pair in RELEASES.windows(2) {
            assert_eq!(pair[1].minor.1, pair[0].minor.1 + 1, "{pair:?}");
            assert!(schema_pair(pair[0].schema) <= schema_pair(pair[1].schema));
            assert!(schema_pair(pair[0].visibility) <= schema_pair(pair[1].visibility));
        }
    }

    #[test]
    fn lookups_hold_old_deployments_to_their_own_release() {
        let Some(Known::Release(r)) = lookup("1.22.3") else {
            panic!("1.22 is known")
        };
        assert_eq!((r.schema, r.visibility), ("1.10", "1.3"));
        assert_eq!(lookup("1.21.5"), Some(Known::TooOld));
        assert!(matches!(lookup("1.40.0"), Some(Known::Newer(r)) if r.minor == (1, 32)));
        assert_eq!(lookup(""), None);
    }

    #[test]
    fn the_pinned_server_is_in_the_table_with_the_pinned_schema() {
        let pinned = crate::versions::Versions::pinned();
        let Some(Known::Release(r)) = lookup(&pinned.temporal_server) else {
            panic!(
                "the pinned server {} is not in RELEASES",
                pinned.temporal_server
            )
        };
        assert_eq!(r.schema, pinned.schema_version);
        assert_eq!(r.visibility, pinned.visibility_schema_version);
    }
}
