//! Image pull policy as upstream applies it: `Always`, `IfNotPresent`, `Never`, with the default
//! chosen by the tag (`:latest` or no tag → Always).

/// The effective pull policy of a container.
pub fn effective_policy(image: &str, policy: Option<&str>) -> &'static str {
    match policy {
        Some("Always") => "Always",
        Some("Never") => "Never",
        Some("IfNotPresent") => "IfNotPresent",
        _ => {
            let last = image.rsplit('/').next().unwrap_or(image);
            if image.contains('@') || (last.contains(':') && !last.ends_with(":latest")) {
                "IfNotPresent"
            } else {
                "Always"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::effective_policy;

    #[test]
    fn defaults_by_tag() {
        assert_eq!(effective_policy("busybox", None), "Always");
        assert_eq!(effective_policy("busybox:latest", None), "Always");
        assert_eq!(effective_policy("busybox:1.35", None), "IfNotPresent");
        assert_eq!(effective_policy("localhost:5000/busybox", None), "Always");
        assert_eq!(effective_policy("busybox@sha256:abc", None), "IfNotPresent");
        assert_eq!(effective_policy("busybox", Some("Never")), "Never");
    }
}
