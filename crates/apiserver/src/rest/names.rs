//! Object name rules, with upstream's messages (RFC 1123 labels and subdomains).

/// Why `name` is not an RFC 1123 DNS subdomain (at most 253 characters), if it is not.
pub fn check_dns_subdomain(name: &str) -> Option<String> {
    const MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \
        '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used \
        for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    if name.len() > 253 {
        return Some("must be no more than 253 characters".to_owned());
    }
    let valid = name.split('.').all(is_label);
    (!valid).then(|| MESSAGE.to_owned())
}

/// Why `name` is not an RFC 1123 DNS label (at most 63 characters), if it is not.
pub fn check_dns_label(name: &str) -> Option<String> {
    const MESSAGE: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or \
        '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex \
        used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    if name.len() > 63 {
        return Some("must be no more than 63 characters".to_owned());
    }
    (!is_label(name)).then(|| MESSAGE.to_owned())
}

fn is_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            alnum(first) && alnum(last) && bytes.iter().all(|b| alnum(b) || *b == b'-')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        for (name, label, subdomain) in [
            ("web-1", true, true),
            ("a.b", false, true),
            ("Web", false, false),
            ("-a", false, false),
            ("a-", false, false),
            ("", false, false),
            ("a..b", false, false),
        ] {
            assert_eq!(check_dns_label(name).is_none(), label, "{name}");
            assert_eq!(check_dns_subdomain(name).is_none(), subdomain, "{name}");
        }
        assert!(check_dns_label(&"a".repeat(64)).is_some());
    }
}
