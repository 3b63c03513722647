//! Labels and label selectors as upstream's printers write them: `labels.FormatLabels` for plain maps
//! and `metav1.FormatLabelSelector` (via `LabelSelectorAsSelector(...).String()`) for selectors with
//! `matchLabels` and `matchExpressions`, requirements sorted by key.

use serde_json::Value;

use super::fields::NONE;

/// A label map as `a=1,b=2` (keys sorted), `<none>` when absent or empty.
pub(crate) fn format_labels(labels: Option<&Value>) -> String {
    match labels.and_then(Value::as_object) {
        Some(map) if !map.is_empty() => crate::labels::selector_text(map),
        _ => NONE.to_owned(),
    }
}

/// A `LabelSelector` as `LabelSelectorAsSelector(...).String()` writes it: empty for an absent or
/// empty selector, `None` for one upstream would refuse (an unknown operator, `In` without values).
pub(crate) fn selector_string(selector: Option<&Value>) -> Option<String> {
    let Some(selector) = selector.filter(|selector| !selector.is_null()) else {
        return Some(String::new());
    };
    let mut requirements: Vec<(String, String)> = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, value) in labels {
            let value = value.as_str().unwrap_or("");
            requirements.push((key.clone(), format!("{key}={value}")));
        }
    }
    let expressions = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for expression in expressions {
        let key = expression["key"].as_str().unwrap_or("");
        let mut values: Vec<&str> = expression["values"]
            .as_array()
            .map(|values| values.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        values.sort_unstable();
        let text = match expression["operator"].as_str() {
            Some("In") if !values.is_empty() => format!("{key} in ({})", values.join(",")),
            Some("NotIn") if !values.is_empty() => format!("{key} notin ({})", values.join(",")),
            Some("Exists") if values.is_empty() => key.to_owned(),
            Some("DoesNotExist") if values.is_empty() => format!("!{key}"),
            _ => return None,
        };
        requirements.push((key.to_owned(), text));
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    Some(
        requirements
            .into_iter()
            .map(|(_, text)| text)
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// `metav1.FormatLabelSelector`: the selector's text, `<none>` when it selects everything,
/// `<error>` when it is invalid.
pub(crate) fn format_label_selector(selector: Option<&Value>) -> String {
    match selector_string(selector) {
        Some(text) if text.is_empty() => NONE.to_owned(),
        Some(text) => text,
        None => "<error>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn expressions_sorted_with_match_labels() {
        let selector = json!({"matchLabels": {"tier": "web", "app": "shop"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                {"key": "zone", "operator": "NotIn", "values": ["a"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "b", "operator": "Exists"}]});
        assert_eq!(
            format_label_selector(Some(&selector)),
            "app=shop,b,!canary,env in (dev,prod),tier=web,zone notin (a)"
        );
    }

    #[test]
    fn empty_and_invalid_selectors() {
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(selector_string(Some(&json!({}))), Some(String::new()));
        let bad = json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]});
        assert_eq!(format_label_selector(Some(&bad)), "<error>");
        assert_eq!(selector_string(Some(&bad)), None);
        assert_eq!(format_labels(Some(&json!({}))), "<none>");
        assert_eq!(format_labels(Some(&json!({"b": "2", "a": "1"}))), "a=1,b=2");
    }
}
