//! Label maps as text: `a=1,b=2`, keys sorted, the way upstream prints selectors.

use serde_json::{Map, Value};

/// `labels` as an equality selector (`app=web,tier=front`).
pub fn selector_text(labels: &Map<String, Value>) -> String {
    let mut pairs: Vec<String> = labels
        .iter()
        .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or("")))
        .collect();
    pairs.sort();
    pairs.join(",")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn sorted_pairs() {
        let labels = json!({"tier": "front", "app": "web"});
        assert_eq!(
            super::selector_text(labels.as_object().expect("map")),
            "app=web,tier=front"
        );
    }
}
