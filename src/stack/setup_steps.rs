//! What every backend sets up the same way, defined once: the database user, the server's
//! environment and dynamic config, and the schema steps (`temporal-sql-tool` run per
//! database, with its connection settings).

use crate::secret::Secret;

/// The PostgreSQL user Temporal and the tests connect as.
pub(crate) const DB_USER: &str = "temporal";

/// The server's SQL plugin for PostgreSQL: the pgx driver. The default plugin (`postgres12`,
/// lib/pq) prepares every statement with arguments in a round trip of its own before running
/// it; writing a workflow's state is several statements in a transaction.
pub(crate) const SERVER_SQL_PLUGIN: &str = "postgres12_pgx";

/// The server's dynamic config on every harness stack (timers within 10 ms, ...).
pub(crate) const DYNAMIC_CONFIG: &str =
    include_str!("../../fixtures/images/temporal-server/dynamicconfig.yaml");

/// The same settings for the CLI dev server, which takes them as flags: per-workflow time
/// skipping, and timers that fire on time (see `dynamicconfig.yaml`).
pub(crate) const DEV_SERVER_DYNAMIC_CONFIG: [&str; 4] = [
    "--dynamic-config-value",
    "frontend.WorkflowTimeSkippingEnabled=true",
    "--dynamic-config-value",
    "history.timerProcessorMaxTimeShift=\"10ms\"",
];

/// Where the server finds its PostgreSQL and its dynamic config: the variables the server's
/// config template (`config_template.yaml`) reads, for the container and the local process
/// alike. (`PROMETHEUS_ENDPOINT` is the backend's: one listener per node.)
pub(crate) fn server_env(
    postgres_host: &str,
    postgres_port: u16,
    password: &Secret,
    dynamic_config_file: &str,
) -> [(&'static str, String); 6] {
    [
        ("DB", SERVER_SQL_PLUGIN.into()),
        ("DB_PORT", postgres_port.to_string()),
        ("POSTGRES_SEEDS", postgres_host.into()),
        ("POSTGRES_USER", DB_USER.into()),
        ("POSTGRES_PWD", password.expose().into()),
        ("DYNAMIC_CONFIG_FILE_PATH", dynamic_config_file.into()),
    ]
}

/// `temporal-sql-tool`'s connection to PostgreSQL. The tool speaks lib/pq (`postgres12`); the
/// server's pgx plugin is for the server only.
pub(crate) fn sql_tool_env(
    postgres_host: &str,
    postgres_port: u16,
    password: &Secret,
) -> [(&'static str, String); 5] {
    [
        ("SQL_PLUGIN", "postgres12".into()),
        ("SQL_HOST", postgres_host.into()),
        ("SQL_PORT", postgres_port.to_string()),
        ("SQL_USER", DB_USER.into()),
        ("SQL_PASSWORD", password.expose().into()),
    ]
}

/// `temporal-sql-tool` arguments, in order, that create and migrate Temporal's two
/// databases: `(database, arguments)`.
pub(crate) fn schema_steps() -> Vec<(&'static str, Vec<String>)> {
    [
        ("temporal", "temporal"),
        ("temporal_visibility", "visibility"),
    ]
    .into_iter()
    .flat_map(|(db, kind)| {
        [
            (db, vec!["setup-schema".into(), "-v".into(), "0.0".into()]),
            (
                db,
                vec![
                    "update-schema".into(),
                    "--schema-name".into(),
                    format!("postgresql/v12/{kind}"),
                ],
            ),
        ]
    })
    .collect()
}

/// The schema steps as one `sh` script (for a container that runs them in one go).
pub(crate) fn schema_script() -> String {
    let mut script = String::from("set -e\n");
    for (db, args) in schema_steps() {
        script.push_str(&format!("temporal-sql-tool --db {db} {}\n", args.join(" ")));
    }
    script
}

/// The dev server's own UI on `port`, or none (`--headless`).
pub(crate) fn dev_server_ui_args(ui: bool, port: u16) -> Vec<String> {
    match ui {
        true => vec![
            "--ui-port".into(),
            port.to_string(),
            "--ui-disable-news-fetch".into(),
        ],
        false => vec!["--headless".into()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_databases_are_set_up_then_migrated() {
        assert_eq!(
            schema_script(),
            "set -e\n\
             temporal-sql-tool --db temporal setup-schema -v 0.0\n\
             temporal-sql-tool --db temporal update-schema --schema-name postgresql/v12/temporal\n\
             temporal-sql-tool --db temporal_visibility setup-schema -v 0.0\n\
             temporal-sql-tool --db temporal_visibility update-schema --schema-name \
             postgresql/v12/visibility\n"
        );
    }
}
