//! Name and key syntax upstream checks (`k8s.io/apimachinery/pkg/util/validation`), each returning
//! upstream's messages: RFC 1123 labels and subdomains, RFC 1035 labels, qualified names (label and
//! annotation keys), label values, config keys, IANA service names (port names), environment
//! variable names and path segment names.

const DNS1123_LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035_LABEL: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const QUALIFIED_NAME: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const CONFIG_KEY: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

fn too_long(max: usize) -> String {
    format!("must be no more than {max} characters")
}

fn is_dns_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            alnum(first) && alnum(last) && bytes.iter().all(|b| alnum(b) || *b == b'-')
        }
        _ => false,
    }
}

/// Problems of an RFC 1123 label (at most 63 characters).
pub fn dns_label(name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if name.len() > 63 {
        problems.push(too_long(63));
    }
    if !is_dns_label(name) {
        problems.push(DNS1123_LABEL.to_owned());
    }
    problems
}

/// Problems of an RFC 1123 subdomain (at most 253 characters).
pub fn dns_subdomain(name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if name.len() > 253 {
        problems.push(too_long(253));
    }
    if !name.split('.').all(is_dns_label) {
        problems.push(DNS1123_SUBDOMAIN.to_owned());
    }
    problems
}

/// Problems of an RFC 1035 label (service names).
pub fn dns1035_label(name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if name.len() > 63 {
        problems.push(too_long(63));
    }
    let starts_alpha = name.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    if !(starts_alpha && is_dns_label(name)) {
        problems.push(DNS1035_LABEL.to_owned());
    }
    problems
}

/// Problems of a name that is one URL path segment (RBAC objects): not `.` or `..`, no `/` or `%`.
pub fn path_segment_name(name: &str) -> Vec<String> {
    if name == "." || name == ".." {
        return vec![format!("may not be '{name}'")];
    }
    ["/", "%"]
        .iter()
        .filter(|bad| name.contains(**bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

fn is_qualified_part(part: &str) -> bool {
    let bytes = part.as_bytes();
    let alnum = |b: &u8| b.is_ascii_alphanumeric();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            alnum(first)
                && alnum(last)
                && bytes
                    .iter()
                    .all(|b| alnum(b) || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// Problems of a qualified name (`[prefix/]name`): label and annotation keys, finalizers.
pub fn qualified_name(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let (prefix, name) = match value.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, value),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            problems.push("prefix part must be non-empty".to_owned());
        } else {
            problems.extend(
                dns_subdomain(prefix)
                    .into_iter()
                    .map(|problem| format!("prefix part {problem}")),
            );
        }
    }
    if name.is_empty() {
        problems.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        problems.push(format!("name part {}", too_long(63)));
    }
    if !name.is_empty() && (name.contains('/') || !is_qualified_part(name)) {
        problems.push(QUALIFIED_NAME.to_owned());
    }
    problems
}

/// Problems of a label value (empty, or at most 63 characters of the qualified-name alphabet).
pub fn label_value(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if value.len() > 63 {
        problems.push(too_long(63));
    }
    if !value.is_empty() && !is_qualified_part(value) {
        problems.push(LABEL_VALUE.to_owned());
    }
    problems
}

/// Problems of a ConfigMap or Secret key.
pub fn config_key(key: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if key.len() > 253 {
        problems.push(too_long(253));
    }
    if key.is_empty()
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        problems.push(CONFIG_KEY.to_owned());
    }
    match key {
        "." => problems.push("must not be '.'".to_owned()),
        ".." => problems.push("must not be '..'".to_owned()),
        _ if key.starts_with("..") => problems.push("must not start with '..'".to_owned()),
        _ => {}
    }
    problems
}

/// Problems of an IANA service name (container and service port names).
pub fn port_name(name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if name.len() > 15 {
        problems.push(too_long(15));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        problems
            .push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if name.contains("--") {
        problems.push("must not contain consecutive hyphens".to_owned());
    }
    if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        problems.push("must contain at least one letter (a-z)".to_owned());
    }
    if name.starts_with('-') || name.ends_with('-') {
        problems.push("must not begin or end with a hyphen".to_owned());
    }
    problems
}

/// Problems of an environment variable name (printable ASCII without `=`).
pub fn env_var_name(name: &str) -> Vec<String> {
    let printable = name
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'=');
    if printable && !name.is_empty() {
        Vec::new()
    } else {
        vec![
            "a valid environment variable name must consist only of printable ASCII characters other than '='"
                .to_owned(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        for (name, label, subdomain, dns1035) in [
            ("web-1", true, true, true),
            ("1web", true, true, false),
            ("a.b", false, true, false),
            ("Web", false, false, false),
            ("-a", false, false, false),
            ("a-", false, false, false),
            ("", false, false, false),
            ("a..b", false, false, false),
        ] {
            assert_eq!(dns_label(name).is_empty(), label, "{name}");
            assert_eq!(dns_subdomain(name).is_empty(), subdomain, "{name}");
            assert_eq!(dns1035_label(name).is_empty(), dns1035, "{name}");
        }
        assert_eq!(
            dns_label(&"a".repeat(64)),
            ["must be no more than 63 characters"]
        );
    }

    #[test]
    fn keys_and_values() {
        assert!(qualified_name("app.kubernetes.io/name").is_empty());
        assert!(qualified_name("App_1").is_empty());
        assert_eq!(qualified_name("bad key"), [QUALIFIED_NAME]);
        assert_eq!(qualified_name("/x"), ["prefix part must be non-empty"]);
        assert_eq!(
            qualified_name("Example.com/x"),
            [format!("prefix part {DNS1123_SUBDOMAIN}")]
        );
        assert!(label_value("").is_empty());
        assert_eq!(label_value("a b"), [LABEL_VALUE]);
        assert!(config_key("game.properties").is_empty());
        assert_eq!(config_key("a b"), [CONFIG_KEY]);
        assert_eq!(config_key(".."), ["must not be '..'"]);
        assert!(port_name("http-alt").is_empty());
        assert_eq!(
            port_name("8080"),
            ["must contain at least one letter (a-z)"]
        );
        assert!(env_var_name("MY_VAR.1").is_empty());
        assert!(!env_var_name("A=B").is_empty());
        assert_eq!(path_segment_name("a/b"), ["may not contain '/'"]);
    }
}
