//! Histories in Temporal's JSON format: proto3 JSON, as `temporal workflow show --output json`,
//! the Web UI's download and import, and every other SDK's replayer write and read it
//! (camelCase fields, enum names, 64-bit integers as strings).
//!
//! The SDK's Rust types serialise to a JSON of their own (snake_case, enum numbers); that format
//! is still read, so history files the harness wrote before keep working.

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};
use std::sync::OnceLock;
use temporalio_common::protos::temporal::api::history::v1::History;

/// The SDK's protobuf descriptors (copied from temporalio-protos by build.rs).
const DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/temporal-descriptors.bin"));

fn history_descriptor() -> &'static MessageDescriptor {
    static DESCRIPTOR: OnceLock<MessageDescriptor> = OnceLock::new();
    DESCRIPTOR.get_or_init(|| {
        DescriptorPool::decode(DESCRIPTORS)
            .expect("the SDK's descriptors decode")
            .get_message_by_name("temporal.api.history.v1.History")
            .expect("the SDK's descriptors have History")
    })
}

/// A history file that is not a history in either JSON format.
#[derive(Debug, thiserror::Error)]
#[error(
    "not a history in Temporal's JSON format ({proto_json}). Fix: save histories with \
     `temporal workflow show --output json`, the Web UI's download, or `temporal-harness \
     histories pull`"
)]
pub struct HistoryJsonError {
    /// Why proto3 JSON did not parse (the more useful of the two reasons).
    #[source]
    proto_json: serde_json::Error,
}

/// `history` in Temporal's JSON format, pretty-printed.
pub fn to_json(history: &History) -> String {
    let message = DynamicMessage::decode(
        history_descriptor().clone(),
        history.encode_to_vec().as_slice(),
    )
    .expect("a History's own encoding decodes as a History");
    let mut out = serde_json::Serializer::pretty(Vec::new());
    message
        .serialize_with_options(&mut out, &SerializeOptions::new())
        .expect("a History serialises to JSON");
    String::from_utf8(out.into_inner()).expect("serde_json writes UTF-8")
}

/// A history from Temporal's JSON format, or from the SDK types' own JSON.
pub fn from_json(bytes: &[u8]) -> Result<History, HistoryJsonError> {
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let proto = DynamicMessage::deserialize(history_descriptor().clone(), &mut reader)
        .and_then(|message| reader.end().map(|()| message));
    match proto {
        Ok(message) => Ok(message
            .transcode_to::<History>()
            .expect("a dynamic History transcodes to the SDK's History")),
        Err(proto_json) => {
            serde_json::from_slice::<History>(bytes).map_err(|_| HistoryJsonError { proto_json })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_common::protos::temporal::api::common::v1::WorkflowType;
    use temporalio_common::protos::temporal::api::enums::v1::EventType;
    use temporalio_common::protos::temporal::api::history::v1::{
        history_event::Attributes, HistoryEvent, WorkflowExecutionStartedEventAttributes,
    };

    fn history() -> History {
        History {
            events: vec![HistoryEvent {
                event_id: 1,
                event_type: EventType::WorkflowExecutionStarted as i32,
                attributes: Some(Attributes::WorkflowExecutionStartedEventAttributes(
                    WorkflowExecutionStartedEventAttributes {
                        workflow_type: Some(WorkflowType {
                            name: "OrderWorkflow".into(),
                        }),
                        ..Default::default()
                    },
                )),
                ..Default::default()
            }],
        }
    }

    #[test]
    fn writes_what_the_cli_and_the_ui_write() {
        let json = to_json(&history());
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let event = &value["events"][0];
        assert_eq!(event["eventId"], "1", "{json}");
        assert_eq!(event["eventType"], "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED");
        assert_eq!(
            event["workflowExecutionStartedEventAttributes"]["workflowType"]["name"],
            "OrderWorkflow"
        );
    }

    #[test]
    fn reads_both_formats_back() {
        let original = history();
        assert_eq!(from_json(to_json(&original).as_bytes()).unwrap(), original);
        let sdk_json = serde_json::to_vec(&original).unwrap();
        assert_eq!(from_json(&sdk_json).unwrap(), original);
    }

    #[test]
    fn something_else_is_refused_with_the_fix() {
        let err = from_json(br#"{"events": 3}"#).unwrap_err();
        assert!(err.to_string().contains("temporal workflow show"), "{err}");
    }
}
