//! Registry credentials from pull secrets, matched to images like upstream's credential keyring
//! (`pkg/credentialprovider`): secrets of type `kubernetes.io/dockerconfigjson` (`.dockerconfigjson`,
//! `{"auths": {...}}`) and `kubernetes.io/dockercfg` (`.dockercfg`, the legacy flat map); each
//! entry's key (`https://host[:port][/path]`, scheme optional, `/v1/` and `/v2/` meaning the host)
//! matches an image repository with the same port and as many host labels (each label a glob, `*`
//! and `?`), and a path the repository's path starts with. Keys are tried most specific first
//! (reverse lexical order); `index.docker.io` also serves Docker Hub images. Pure.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use serde::Deserialize;

/// The secret types that carry registry credentials.
pub const DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
/// The legacy one.
pub const DOCKERCFG: &str = "kubernetes.io/dockercfg";
/// Docker Hub's key in credential files.
const DEFAULT_REGISTRY_HOST: &str = "index.docker.io";

/// One set of credentials for a registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password is deliberately left out.
        f.debug_struct("Credential")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// An entry of a Docker config file.
#[derive(Debug, Default, Deserialize)]
struct Entry {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    auth: String,
}

/// `.dockerconfigjson`.
#[derive(Debug, Default, Deserialize)]
struct DockerConfigJson {
    #[serde(default)]
    auths: BTreeMap<String, Entry>,
}

/// Credentials by the registry locations they are for.
#[derive(Debug, Default, Clone)]
pub struct Keyring {
    index: Vec<String>,
    credentials: HashMap<String, Vec<Credential>>,
}

impl Keyring {
    /// Adds the credentials of a secret of type `secret_type` with `data`; other secrets add
    /// nothing. A credential file that does not parse is an error, as upstream.
    pub fn add_secret(
        &mut self,
        secret_type: &str,
        data: &BTreeMap<String, Vec<u8>>,
    ) -> Result<(), String> {
        let non_empty = |key: &str| data.get(key).filter(|bytes| !bytes.is_empty());
        let entries = match secret_type {
            DOCKER_CONFIG_JSON => match non_empty(".dockerconfigjson") {
                Some(bytes) => {
                    serde_json::from_slice::<DockerConfigJson>(bytes)
                        .map_err(|error| error.to_string())?
                        .auths
                }
                None => return Ok(()),
            },
            DOCKERCFG => match non_empty(".dockercfg") {
                Some(bytes) => serde_json::from_slice::<BTreeMap<String, Entry>>(bytes)
                    .map_err(|error| error.to_string())?,
                None => return Ok(()),
            },
            _ => return Ok(()),
        };
        for (location, entry) in entries {
            let credential = credential(entry)?;
            self.add(&location, credential);
        }
        Ok(())
    }

    /// Adds one credential for `location`.
    pub fn add(&mut self, location: &str, credential: Credential) {
        let key = key_of(location);
        self.credentials
            .entry(key.clone())
            .or_default()
            .push(credential);
        if !self.index.contains(&key) {
            self.index.push(key);
            self.index.sort_by(|a, b| b.cmp(a));
        }
    }

    /// The credentials for the repository `repository` (normalized, e.g. `localhost:5000/busybox`
    /// or `docker.io/library/busybox`), most specific first.
    pub fn lookup(&self, repository: &str) -> Vec<Credential> {
        let found: Vec<Credential> = self
            .index
            .iter()
            .filter(|key| urls_match(key, repository))
            .flat_map(|key| self.credentials.get(key).cloned().unwrap_or_default())
            .collect();
        if !found.is_empty() {
            return found;
        }
        if is_default_registry_match(repository) {
            if let Some(credentials) = self.credentials.get(DEFAULT_REGISTRY_HOST) {
                return credentials.clone();
            }
        }
        Vec::new()
    }
}

/// The credential of an entry: `auth` (base64 of `user:password`) wins over the separate fields.
fn credential(entry: Entry) -> Result<Credential, String> {
    if entry.auth.is_empty() {
        return Ok(Credential {
            username: entry.username,
            password: entry.password,
        });
    }
    let malformed = || "unable to parse auth field, must be formatted as base64(username:password)";
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(entry.auth.trim())
        .map_err(|_| malformed().to_string())?;
    let text = String::from_utf8(decoded).map_err(|_| malformed().to_string())?;
    let (username, password) = text
        .split_once(':')
        .ok_or_else(|| malformed().to_string())?;
    Ok(Credential {
        username: username.to_string(),
        password: password.trim_matches('\0').to_string(),
    })
}

/// The keyring key of a credential location: host, plus the path unless it is empty, `/`, or
/// `/v1/` or `/v2/` alone.
fn key_of(location: &str) -> String {
    let (host, path) = split_location(location);
    let path = match path
        .strip_prefix("/v2/")
        .or_else(|| path.strip_prefix("/v1/"))
    {
        Some(rest) => format!("/{rest}"),
        None => path.to_string(),
    };
    if path.is_empty() || path == "/" {
        host.to_string()
    } else {
        format!("{host}{path}")
    }
}

/// Host and path of a URL whose scheme is optional.
fn split_location(location: &str) -> (&str, &str) {
    let rest = location
        .strip_prefix("https://")
        .or_else(|| location.strip_prefix("http://"))
        .unwrap_or(location);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, ""),
    }
}

/// Host labels and port of a host.
fn split_host(host: &str) -> (Vec<&str>, &str) {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (name, port)
        }
        _ => (host, ""),
    };
    (name.split('.').collect(), port)
}

/// Whether the key `glob` matches the repository `target` (upstream's `URLsMatchStr`).
fn urls_match(glob: &str, target: &str) -> bool {
    let (glob_host, glob_path) = split_location(glob);
    let (target_host, target_path) = split_location(target);
    let (glob_labels, glob_port) = split_host(glob_host);
    let (target_labels, target_port) = split_host(target_host);
    glob_port == target_port
        && glob_labels.len() == target_labels.len()
        && target_path.starts_with(glob_path)
        && glob_labels
            .iter()
            .zip(&target_labels)
            .all(|(pattern, label)| glob_match(pattern.as_bytes(), label.as_bytes()))
}

/// `*` (any run of characters) and `?` (one character) matching of a whole label.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob_match(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && glob_match(rest, &text[1..]),
        Some((byte, rest)) => text.first() == Some(byte) && glob_match(rest, &text[1..]),
    }
}

/// Whether an image without a registry host is Docker Hub's (upstream's `isDefaultRegistryMatch`).
fn is_default_registry_match(repository: &str) -> bool {
    let mut parts = repository.splitn(2, '/');
    let first = parts.next().unwrap_or("");
    if first.is_empty() {
        return false;
    }
    if parts.next().is_none() {
        return true;
    }
    if first == "docker.io" || first == DEFAULT_REGISTRY_HOST {
        return true;
    }
    !first.contains(['.', ':'])
}

/// The repository of an image reference, normalized like Docker's references: the registry host
/// made explicit (`docker.io` by default, `library/` for official images), tag and digest dropped.
pub fn repository(image: &str) -> String {
    let name = image.split('@').next().unwrap_or(image);
    let last_slash = name.rfind('/').map_or(0, |slash| slash + 1);
    let name = match name[last_slash..].rfind(':') {
        Some(colon) => &name[..last_slash + colon],
        None => name,
    };
    let (domain, rest) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first != first.to_lowercase() =>
        {
            (first, rest.to_string())
        }
        _ => ("docker.io", name.to_string()),
    };
    let domain = if domain == DEFAULT_REGISTRY_HOST {
        "docker.io"
    } else {
        domain
    };
    let rest = if domain == "docker.io" && !rest.contains('/') {
        format!("library/{rest}")
    } else {
        rest
    };
    format!("{domain}/{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential(user: &str) -> Credential {
        Credential {
            username: user.into(),
            password: format!("{user}-password"),
        }
    }

    fn users(credentials: Vec<Credential>) -> Vec<String> {
        credentials.into_iter().map(|c| c.username).collect()
    }

    #[test]
    fn repositories_are_normalized_like_docker_references() {
        for (image, expected) in [
            ("busybox", "docker.io/library/busybox"),
            ("busybox:1.35", "docker.io/library/busybox"),
            ("library/busybox@sha256:abc", "docker.io/library/busybox"),
            ("user/app:v1", "docker.io/user/app"),
            ("index.docker.io/user/app", "docker.io/user/app"),
            ("localhost:5000/busybox:1", "localhost:5000/busybox"),
            ("localhost/busybox", "localhost/busybox"),
            ("quay.io/org/app:tag", "quay.io/org/app"),
            ("registry:5000/a/b@sha256:abc", "registry:5000/a/b"),
        ] {
            assert_eq!(repository(image), expected, "{image}");
        }
    }

    #[test]
    fn keys_drop_schemes_and_version_paths() {
        assert_eq!(key_of("https://index.docker.io/v1/"), "index.docker.io");
        assert_eq!(key_of("localhost:5000"), "localhost:5000");
        assert_eq!(key_of("http://localhost:5000/"), "localhost:5000");
        assert_eq!(key_of("quay.io/v2/org"), "quay.io/org");
        assert_eq!(key_of("registry.example/team"), "registry.example/team");
    }

    #[test]
    fn lookup_matches_host_port_path_and_wildcards() {
        let mut keyring = Keyring::default();
        keyring.add("registry.example", credential("host"));
        keyring.add("registry.example/team", credential("team"));
        keyring.add("*.example:5000", credential("wild"));
        keyring.add("https://index.docker.io/v1/", credential("hub"));
        keyring.add("localhost:5000", credential("local"));

        assert_eq!(
            users(keyring.lookup("registry.example/team/app")),
            vec!["team", "host"],
            "most specific first"
        );
        assert_eq!(
            users(keyring.lookup("registry.example/other")),
            vec!["host"]
        );
        assert_eq!(users(keyring.lookup("a.example:5000/app")), vec!["wild"]);
        assert!(
            keyring.lookup("a.b.example:5000/app").is_empty(),
            "label count"
        );
        assert!(
            keyring.lookup("a.example/app").is_empty(),
            "port must match"
        );
        assert_eq!(
            users(keyring.lookup("registry.example:5000/app")),
            vec!["wild"],
            "the port decides"
        );
        assert_eq!(
            users(keyring.lookup("docker.io/library/busybox")),
            vec!["hub"]
        );
        assert_eq!(
            users(keyring.lookup("localhost:5000/busybox")),
            vec!["local"]
        );
        assert!(keyring.lookup("localhost:5001/busybox").is_empty());
        assert!(keyring.lookup("quay.io/org/app").is_empty());
    }

    #[test]
    fn secrets_of_both_types() {
        let mut keyring = Keyring::default();
        let json = br#"{"auths":{"localhost:5000":{"username":"u","password":"p","auth":"dXNlcjpzM2NyZXQ="}}}"#;
        let data = BTreeMap::from([(".dockerconfigjson".to_string(), json.to_vec())]);
        keyring.add_secret(DOCKER_CONFIG_JSON, &data).unwrap();
        let legacy = br#"{"https://quay.io":{"username":"q","password":"qp","email":"q@example"}}"#;
        let data = BTreeMap::from([(".dockercfg".to_string(), legacy.to_vec())]);
        keyring.add_secret(DOCKERCFG, &data).unwrap();
        // The type decides which key is read.
        keyring.add_secret("Opaque", &data).unwrap();
        keyring.add_secret(DOCKER_CONFIG_JSON, &data).unwrap();

        assert_eq!(
            keyring.lookup("localhost:5000/busybox"),
            vec![Credential {
                username: "user".into(),
                password: "s3cret".into()
            }],
            "auth wins over username and password"
        );
        assert_eq!(
            keyring.lookup("quay.io/org/app"),
            vec![Credential {
                username: "q".into(),
                password: "qp".into()
            }]
        );

        let broken = BTreeMap::from([(".dockerconfigjson".to_string(), b"{".to_vec())]);
        assert!(keyring.add_secret(DOCKER_CONFIG_JSON, &broken).is_err());
        let bad_auth = BTreeMap::from([(
            ".dockerconfigjson".to_string(),
            br#"{"auths":{"x.io":{"auth":"bm9jb2xvbg=="}}}"#.to_vec(),
        )]);
        assert_eq!(
            keyring.add_secret(DOCKER_CONFIG_JSON, &bad_auth),
            Err(
                "unable to parse auth field, must be formatted as base64(username:password)".into()
            )
        );
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"*", b"anything"));
        assert!(glob_match(b"reg?", b"reg1"));
        assert!(glob_match(b"a*c", b"abbbc"));
        assert!(!glob_match(b"a*c", b"abbb"));
        assert!(!glob_match(b"abc", b"abcd"));
    }
}
