//! A run's memo and search attributes as its history records them: at start, and as the
//! workflow left them (every upsert applied in order).

use super::payload::{decode_json, is_removal, PayloadError};
use super::History;
use std::collections::BTreeMap;
use temporalio_common::protos::temporal::api::common::v1::Payload;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

/// Memo fields or search attributes of a run, each read back typed with [`Fields::get`].
#[derive(Debug, Clone)]
pub struct Fields {
    kind: &'static str,
    fields: BTreeMap<String, Payload>,
}

impl Fields {
    /// The field `key` decoded from JSON (the SDK's default converter, which is also how
    /// search attributes are encoded); `Ok(None)` when the run has no such field.
    pub fn get<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, PayloadError> {
        self.fields
            .get(key)
            .map(|payload| decode_json(payload, || format!("{} {key:?}", self.kind)))
            .transpose()
    }

    /// The names of the fields, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.keys().map(String::as_str)
    }

    /// The payload of `key` as recorded, for another converter.
    pub fn raw(&self, key: &str) -> Option<&Payload> {
        self.fields.get(key)
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

#[derive(Clone, Copy)]
enum Property {
    Memo,
    SearchAttributes,
}

impl History {
    /// The memo the run was started with.
    pub fn memo_at_start(&self) -> Fields {
        self.property(Property::Memo, false)
    }

    /// The memo as the run left it: the start's fields with every `upsert_memo` applied in
    /// order (a field upserted to null is gone).
    pub fn memo(&self) -> Fields {
        self.property(Property::Memo, true)
    }

    /// The search attributes the run was started with.
    pub fn search_attributes_at_start(&self) -> Fields {
        self.property(Property::SearchAttributes, false)
    }

    /// The search attributes as the run left them: the start's with every
    /// `upsert_search_attributes` applied in order (one upserted to null is gone).
    pub fn search_attributes(&self) -> Fields {
        self.property(Property::SearchAttributes, true)
    }

    fn property(&self, property: Property, with_upserts: bool) -> Fields {
        let mut fields = BTreeMap::new();
        for event in self.events() {
            let (set, upsert) = match (&event.attributes, property) {
                (Some(Attributes::WorkflowExecutionStartedEventAttributes(a)), Property::Memo) => {
                    (a.memo.as_ref().map(|m| &m.fields), false)
                }
                (
                    Some(Attributes::WorkflowExecutionStartedEventAttributes(a)),
                    Property::SearchAttributes,
                ) => (
                    a.search_attributes.as_ref().map(|s| &s.indexed_fields),
                    false,
                ),
                (
                    Some(Attributes::WorkflowPropertiesModifiedEventAttributes(a)),
                    Property::Memo,
                ) => (a.upserted_memo.as_ref().map(|m| &m.fields), true),
                (
                    Some(Attributes::UpsertWorkflowSearchAttributesEventAttributes(a)),
                    Property::SearchAttributes,
                ) => (
                    a.search_attributes.as_ref().map(|s| &s.indexed_fields),
                    true,
                ),
                _ => continue,
            };
            if upsert && !with_upserts {
                break;
            }
            for (key, payload) in set.into_iter().flatten() {
                if upsert && is_removal(payload) {
                    fields.remove(key);
                } else {
                    fields.insert(key.clone(), payload.clone());
                }
            }
        }
        Fields {
            kind: match property {
                Property::Memo => "memo field",
                Property::SearchAttributes => "search attribute",
            },
            fields,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_common::protos::temporal::api::common::v1::{Memo, SearchAttributes};
    use temporalio_common::protos::temporal::api::history::v1::{
        History as ProtoHistory, HistoryEvent, UpsertWorkflowSearchAttributesEventAttributes,
        WorkflowExecutionStartedEventAttributes, WorkflowPropertiesModifiedEventAttributes,
    };

    fn json(data: &str) -> Payload {
        Payload {
            metadata: [("encoding".to_string(), b"json/plain".to_vec())].into(),
            data: data.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    fn event(id: i64, attributes: Attributes) -> HistoryEvent {
        HistoryEvent {
            event_id: id,
            attributes: Some(attributes),
            ..Default::default()
        }
    }

    #[test]
    fn upserts_apply_in_order_and_a_null_removes() {
        let fields = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), json(v)))
                .collect::<std::collections::HashMap<_, _>>()
        };
        let events = vec![
            event(
                1,
                Attributes::WorkflowExecutionStartedEventAttributes(
                    WorkflowExecutionStartedEventAttributes {
                        memo: Some(Memo {
                            fields: fields(&[("note", "\"new\""), ("tmp", "1")]),
                        }),
                        search_attributes: Some(SearchAttributes {
                            indexed_fields: fields(&[("Stage", "\"created\"")]),
                        }),
                        ..Default::default()
                    },
                ),
            ),
            event(
                5,
                Attributes::UpsertWorkflowSearchAttributesEventAttributes(
                    UpsertWorkflowSearchAttributesEventAttributes {
                        search_attributes: Some(SearchAttributes {
                            indexed_fields: fields(&[("Stage", "\"paid\""), ("Total", "42")]),
                        }),
                        ..Default::default()
                    },
                ),
            ),
            event(
                6,
                Attributes::WorkflowPropertiesModifiedEventAttributes(
                    WorkflowPropertiesModifiedEventAttributes {
                        upserted_memo: Some(Memo {
                            fields: fields(&[("note", "\"paid\""), ("tmp", "null")]),
                        }),
                        ..Default::default()
                    },
                ),
            ),
        ];
        let history = History::from_proto("wf", ProtoHistory { events });
        let start = history.memo_at_start();
        assert_eq!(start.get::<String>("note").unwrap().as_deref(), Some("new"));
        assert_eq!(start.get::<u32>("tmp").unwrap(), Some(1));
        let memo = history.memo();
        assert_eq!(memo.get::<String>("note").unwrap().as_deref(), Some("paid"));
        assert_eq!(
            memo.get::<u32>("tmp").unwrap(),
            None,
            "upserted to null: gone"
        );
        assert_eq!(memo.keys().collect::<Vec<_>>(), ["note"]);
        let attributes = history.search_attributes();
        assert_eq!(
            attributes.get::<String>("Stage").unwrap().as_deref(),
            Some("paid")
        );
        assert_eq!(attributes.get::<i64>("Total").unwrap(), Some(42));
        assert_eq!(history.search_attributes_at_start().len(), 1);
        let wrong = attributes.get::<i64>("Stage").unwrap_err();
        assert!(
            wrong
                .to_string()
                .starts_with("search attribute \"Stage\" is not the type asked for"),
            "{wrong}"
        );
    }
}
