//! Namespace checks: how the namespace keeps what it runs. Retention set and sane, the search
//! attributes the deployment's workflows need registered, archival reported.

use super::check;
use crate::validation::context::{measure, warn};
use crate::validation::{fail, Check, Checked, Session, Verdict};
use std::sync::Arc;
use temporalio_client::tonic::{self, Request};
use temporalio_common::protos::temporal::api::enums::v1::{ArchivalState, IndexedValueType};
use temporalio_common::protos::temporal::api::operatorservice::v1::ListSearchAttributesRequest;
use temporalio_common::protos::temporal::api::workflowservice::v1::{
    DescribeNamespaceRequest, DescribeNamespaceResponse,
};

/// Shorter than this, a closed workflow's history is gone before people look at a failure.
const MIN_RETENTION_HOURS: i64 = 24;
/// Longer than this, history and visibility grow for a year: say so.
const MAX_RETENTION_HOURS: i64 = 365 * 24;

pub(crate) fn checks() -> Vec<Check> {
    vec![
        check!(
            "temporal.retention",
            Temporal,
            Quick,
            "The namespace has a retention period, between 1 day and 1 year",
            retention
        ),
        check!(
            "temporal.search_attributes",
            Temporal,
            Quick,
            "The search attributes the deployment expects are registered with their types",
            search_attributes
        ),
        check!(
            "temporal.archival",
            Temporal,
            Quick,
            "History and visibility archival are reported, with a URI where enabled",
            archival
        ),
    ]
}

async fn describe(session: &Session) -> Result<DescribeNamespaceResponse, Verdict> {
    let connection = session.connection().await?;
    let name = &session.target().namespace;
    connection
        .workflow_service()
        .describe_namespace(Request::new(DescribeNamespaceRequest {
            namespace: name.clone(),
            ..Default::default()
        }))
        .await
        .map(|r| r.into_inner())
        .map_err(|s| match s.code() {
            tonic::Code::NotFound => fail(format!(
                "namespace `{name}` does not exist (see temporal.namespace)"
            )),
            _ => fail(format!("DescribeNamespace failed: {}", s.message())),
        })
}

async fn retention(session: Arc<Session>) -> Checked {
    let described = describe(&session).await?;
    let name = &session.target().namespace;
    let seconds = described
        .config
        .and_then(|c| c.workflow_execution_retention_ttl)
        .map_or(0, |d| d.seconds);
    let hours = seconds / 3600;
    measure("retention_hours", seconds as f64 / 3600.0);
    if seconds <= 0 {
        return Err(fail(format!(
            "namespace `{name}` has no retention period: closed workflows are not kept \
             predictably; set one with `temporal operator namespace update --namespace {name} \
             --retention 72h`"
        )));
    }
    if hours < MIN_RETENTION_HOURS {
        warn(format!(
            "retention {seconds} s is under a day: a failed workflow's history may be gone \
             before anyone reads it"
        ));
    } else if hours > MAX_RETENTION_HOURS {
        warn(format!(
            "retention {} days: history and visibility tables keep a year or more of closed \
             workflows; size the database for it or archive instead",
            hours / 24
        ));
    }
    Ok(format!(
        "`{name}` keeps closed workflows {}",
        if hours >= 48 {
            format!("{} days", hours / 24)
        } else {
            format!("{hours} h")
        }
    ))
}

async fn search_attributes(session: Arc<Session>) -> Checked {
    let connection = session.connection().await?;
    let namespace = session.target().namespace.clone();
    let listed = connection
        .operator_service()
        .list_search_attributes(Request::new(ListSearchAttributesRequest {
            namespace: namespace.clone(),
        }))
        .await
        .map_err(|s| fail(format!("ListSearchAttributes failed: {}", s.message())))?
        .into_inner();
    let type_name = |t: i32| {
        IndexedValueType::try_from(t)
            .ok()
            .and_then(|t| {
                // KEYWORD_LIST is spelled KeywordList where users type it.
                let bare = t
                    .as_str_name()
                    .trim_start_matches("INDEXED_VALUE_TYPE_")
                    .replace('_', "");
                crate::validation::SEARCH_ATTRIBUTE_TYPES
                    .into_iter()
                    .find(|name| name.eq_ignore_ascii_case(&bare))
            })
            .map_or_else(|| format!("type {t}"), str::to_string)
    };
    measure(
        "custom_search_attributes",
        listed.custom_attributes.len() as f64,
    );
    let expected = &session.target().search_attributes;
    let mut problems = Vec::new();
    for (name, wanted) in expected {
        // A system attribute (WorkflowType, ExecutionStatus, ...) is always there: the
        // workflows may use it as well as a custom one.
        let registered = listed
            .custom_attributes
            .get(name)
            .or_else(|| listed.system_attributes.get(name));
        match registered {
            None => problems.push(format!("`{name}` is not registered")),
            Some(&found) => {
                let found = type_name(found);
                if let Some(wanted) = wanted {
                    if !found.eq_ignore_ascii_case(wanted) {
                        problems.push(format!("`{name}` is {found}, expected {wanted}"));
                    }
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(fail(format!(
            "{} in namespace `{namespace}`: register with `temporal operator search-attribute \
             create --namespace {namespace} --name NAME --type TYPE` (a wrong type needs a new \
             name: types cannot change)",
            problems.join("; ")
        )));
    }
    let mut custom: Vec<String> = listed
        .custom_attributes
        .iter()
        .map(|(n, t)| format!("{n} {}", type_name(*t)))
        .collect();
    custom.sort();
    let listing = if custom.is_empty() {
        "none".to_string()
    } else {
        custom.join(", ")
    };
    if expected.is_empty() {
        return Ok(format!(
            "custom search attributes: {listing} (none expected: --search-attribute NAME[=TYPE] \
             names those the workflows need)"
        ));
    }
    Ok(format!(
        "all {} expected registered; custom search attributes: {listing}",
        expected.len()
    ))
}

async fn archival(session: Arc<Session>) -> Checked {
    let config = describe(&session).await?.config.unwrap_or_default();
    let mut parts = Vec::new();
    for (what, state, uri) in [
        (
            "history",
            config.history_archival_state,
            &config.history_archival_uri,
        ),
        (
            "visibility",
            config.visibility_archival_state,
            &config.visibility_archival_uri,
        ),
    ] {
        let enabled = state == ArchivalState::Enabled as i32;
        measure(
            format!("{what}_archival_enabled"),
            f64::from(u8::from(enabled)),
        );
        if enabled && uri.is_empty() {
            return Err(fail(format!(
                "{what} archival is enabled with no URI: nothing can be archived; set \
                 --{what}-uri on the namespace or disable it"
            )));
        }
        parts.push(if enabled {
            format!("{what} archival enabled to {uri}")
        } else {
            format!("{what} archival disabled")
        });
    }
    Ok(parts.join(", "))
}
