//! Values the SDK's default converter wrote (JSON, `json/plain`), read back typed: heartbeat
//! details, memo fields, search attributes.

use temporalio_common::protos::temporal::api::common::v1::Payload;

/// A payload that cannot be read as the type asked for.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// Another payload converter wrote it.
    #[error(
        "{what} is encoded as `{encoding}`, not json/plain. Fix: read the raw payload and \
         decode it with the payload converter that wrote it"
    )]
    NotJson {
        /// What was read (`heartbeat details`, `memo field "note"`, ...).
        what: String,
        /// The payload's `encoding` metadata.
        encoding: String,
    },
    /// JSON, but not of the type asked for.
    #[error(
        "{what} is not the type asked for: {source}. Fix: ask for the type the workflow wrote"
    )]
    WrongType {
        /// What was read.
        what: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
}

/// `payload` decoded from JSON as `T`; `what` names it in an error.
pub(crate) fn decode_json<T: serde::de::DeserializeOwned>(
    payload: &Payload,
    what: impl FnOnce() -> String,
) -> Result<T, PayloadError> {
    let encoding = payload
        .metadata
        .get("encoding")
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .unwrap_or_default();
    if encoding != "json/plain" {
        return Err(PayloadError::NotJson {
            what: what(),
            encoding,
        });
    }
    serde_json::from_slice(&payload.data).map_err(|source| PayloadError::WrongType {
        what: what(),
        source,
    })
}

/// `value` as the SDK's default converter writes it (JSON, `json/plain`).
pub(crate) fn encode_json<T: serde::Serialize>(value: &T) -> Result<Payload, serde_json::Error> {
    Ok(Payload {
        metadata: [("encoding".to_string(), b"json/plain".to_vec())].into(),
        data: serde_json::to_vec(value)?,
        ..Default::default()
    })
}

/// Whether an upserted `payload` removes its key (Temporal's SDKs upsert a null, or nothing).
pub(crate) fn is_removal(payload: &Payload) -> bool {
    payload.data.is_empty() || payload.data.as_slice() == b"null"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(data: &str) -> Payload {
        Payload {
            metadata: [("encoding".to_string(), b"json/plain".to_vec())].into(),
            data: data.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn json_reads_typed_and_other_encodings_are_named() {
        assert_eq!(decode_json::<u32>(&json("7"), || "x".into()).unwrap(), 7);
        let round_trip = encode_json(&vec!["a", "b"]).unwrap();
        let back: Vec<String> = decode_json(&round_trip, || "x".into()).unwrap();
        assert_eq!(back, ["a", "b"]);
        let wrong = decode_json::<u32>(&json("\"a\""), || "memo field \"n\"".into()).unwrap_err();
        assert!(
            wrong
                .to_string()
                .starts_with("memo field \"n\" is not the type asked for"),
            "{wrong}"
        );
        let mut proto = json("7");
        proto
            .metadata
            .insert("encoding".into(), b"binary/protobuf".to_vec());
        let other = decode_json::<u32>(&proto, || "heartbeat details".into()).unwrap_err();
        assert!(
            matches!(other, PayloadError::NotJson { ref encoding, .. } if encoding == "binary/protobuf")
        );
        assert!(is_removal(&json("null")) && is_removal(&json("")) && !is_removal(&json("0")));
    }
}
