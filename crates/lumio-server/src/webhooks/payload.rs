//! What a receiver is sent: `{"type", "timestamp", "data"}` as Standard Webhooks shape
//! it, with names, versions, actors, environment and time; never a value or its hash.

use lumio_secrets::ChangeEvent;
use serde_json::json;

/// The stable id of an event, the same at every attempt and for every receiver
/// (`webhook-id`), for de-duplication.
pub(crate) fn event_id(event: &ChangeEvent) -> String {
    format!("evt_{}", event.id)
}

pub(crate) fn body(event: &ChangeEvent) -> String {
    let data = json!({
        "id": event_id(event),
        "extension": event.extension,
        "environment": event.environment,
        "name": event.secret_name,
        "version": version_in(event.detail.as_deref()),
        "actor": event.actor,
        "detail": event.detail,
    });
    json!({
        "type": event.event,
        "timestamp": event.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "data": data,
    })
    .to_string()
}

/// The version a change made, from its audit detail ("version 3", "restored version 1
/// as version 4"): the last number after the word "version".
fn version_in(detail: Option<&str>) -> Option<i64> {
    let words: Vec<&str> = detail?.split_whitespace().collect();
    words
        .windows(2)
        .rev()
        .find(|pair| pair[0] == "version")
        .and_then(|pair| pair[1].trim_end_matches([',', '.', ')']).parse().ok())
}

#[cfg(test)]
mod tests {
    use super::version_in;

    #[test]
    fn the_version_is_the_last_one_named() {
        assert_eq!(version_in(Some("version 3")), Some(3));
        assert_eq!(version_in(Some("restored version 1 as version 4")), Some(4));
        assert_eq!(version_in(Some("purged every version")), None);
        assert_eq!(version_in(None), None);
    }
}
