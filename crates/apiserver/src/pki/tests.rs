//! Tests of loading, reusing and reissuing the PKI, and of the admin kubeconfig.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use base64::Engine as _;

use super::*;

const ALL_FILES: [&str; 8] = [
    CA_CERT,
    CA_KEY,
    SERVING_CERT,
    SERVING_KEY,
    ADMIN_CERT,
    ADMIN_KEY,
    SA_KEY,
    SA_PUB,
];

fn config(root: &Path) -> PkiConfig {
    PkiConfig {
        dir: root.join("server/tls"),
        token_path: root.join("server/token"),
        token: None,
        hostnames: vec!["node-a".to_string()],
        ips: vec!["10.43.0.1".parse().unwrap()],
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn snapshot(config: &PkiConfig) -> Vec<String> {
    ALL_FILES
        .iter()
        .map(|name| fs::read_to_string(config.dir.join(name)).unwrap())
        .chain([fs::read_to_string(&config.token_path).unwrap()])
        .collect()
}

fn serving_sans_of(pki: &Pki) -> std::collections::HashSet<certs::San> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pki.serving_cert_pem().as_bytes()).unwrap();
    certs::cert_sans(&pem.parse_x509().unwrap())
}

fn dns(name: &str) -> certs::San {
    certs::San::Dns(name.to_string())
}

fn ip(addr: &str) -> certs::San {
    certs::San::Ip(addr.parse().unwrap())
}

#[test]
fn first_start_creates_every_file_with_its_mode() {
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path());
    let pki = Pki::load_or_create(&config).unwrap();
    for name in [CA_KEY, SERVING_KEY, ADMIN_KEY, SA_KEY] {
        assert_eq!(mode(&config.dir.join(name)), 0o600, "{name}");
    }
    for name in [CA_CERT, SERVING_CERT, ADMIN_CERT, SA_PUB] {
        assert_eq!(mode(&config.dir.join(name)), 0o644, "{name}");
    }
    assert_eq!(mode(&config.token_path), 0o600);
    assert_eq!(mode(&config.dir), 0o700);

    assert!(pki.ca_cert_pem().contains("BEGIN CERTIFICATE"));
    assert!(pki.admin_key_pem().contains("BEGIN PRIVATE KEY"));
    assert!(pki.service_account_key_pem().contains("BEGIN PRIVATE KEY"));
    assert!(pki.service_account_pub_pem().contains("BEGIN PUBLIC KEY"));
    let ca_hash = token::sha256_hex(pki.ca_cert_pem().as_bytes());
    assert!(pki.token().starts_with(&format!("K10{ca_hash}::server:")));

    let (_, pem) = x509_parser::pem::parse_x509_pem(pki.ca_cert_pem().as_bytes()).unwrap();
    let ca = pem.parse_x509().unwrap();
    assert!(ca.is_ca());
    let cn = ca
        .subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap();
    assert!(cn.starts_with("kubers-server-ca@"), "{cn}");

    let sans = serving_sans_of(&pki);
    for want in [
        ip("127.0.0.1"),
        ip("::1"),
        ip("10.43.0.1"),
        dns("localhost"),
        dns("kubernetes"),
        dns("kubernetes.default"),
        dns("kubernetes.default.svc"),
        dns("kubernetes.default.svc.cluster.local"),
        dns("node-a"),
    ] {
        assert!(sans.contains(&want), "{want:?} not in {sans:?}");
    }
}

#[test]
fn restart_reuses_every_file_unchanged() {
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path());
    let first = Pki::load_or_create(&config).unwrap();
    let files = snapshot(&config);
    let second = Pki::load_or_create(&config).unwrap();
    assert_eq!(snapshot(&config), files);
    assert_eq!(second.ca_cert_pem(), first.ca_cert_pem());
    assert_eq!(second.serving_cert_pem(), first.serving_cert_pem());
    assert_eq!(second.admin_cert_pem(), first.admin_cert_pem());
    assert_eq!(second.admin_key_pem(), first.admin_key_pem());
    assert_eq!(
        second.service_account_key_pem(),
        first.service_account_key_pem()
    );
    assert_eq!(second.token(), first.token());
}

#[test]
fn new_san_reissues_only_the_serving_cert() {
    let root = tempfile::tempdir().unwrap();
    let mut config = config(root.path());
    let first = Pki::load_or_create(&config).unwrap();
    config.hostnames.push("node-b.example".to_string());
    config.ips.push("192.0.2.7".parse().unwrap());
    let second = Pki::load_or_create(&config).unwrap();
    assert_ne!(second.serving_cert_pem(), first.serving_cert_pem());
    assert_eq!(second.ca_cert_pem(), first.ca_cert_pem());
    assert_eq!(second.admin_cert_pem(), first.admin_cert_pem());
    assert_eq!(second.token(), first.token());
    let sans = serving_sans_of(&second);
    assert!(sans.contains(&dns("node-b.example")));
    assert!(sans.contains(&ip("192.0.2.7")));
    // Dropping a name again keeps the (wider) certificate.
    config.hostnames.pop();
    let third = Pki::load_or_create(&config).unwrap();
    assert_eq!(third.serving_cert_pem(), second.serving_cert_pem());
    second.server_tls_config().unwrap();
}

#[test]
fn lost_ca_reissues_everything_it_signed() {
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path());
    let first = Pki::load_or_create(&config).unwrap();
    fs::remove_file(config.dir.join(CA_CERT)).unwrap();
    fs::remove_file(config.dir.join(CA_KEY)).unwrap();
    let second = Pki::load_or_create(&config).unwrap();
    assert_ne!(second.ca_cert_pem(), first.ca_cert_pem());
    assert_ne!(second.serving_cert_pem(), first.serving_cert_pem());
    assert_ne!(second.admin_cert_pem(), first.admin_cert_pem());
    assert_eq!(
        second.service_account_key_pem(),
        first.service_account_key_pem()
    );
    assert_ne!(second.token(), first.token());
    assert_eq!(
        second.token().rsplit(':').next(),
        first.token().rsplit(':').next()
    );
}

#[test]
fn ca_cert_without_key_is_an_error_naming_the_key() {
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path());
    Pki::load_or_create(&config).unwrap();
    fs::remove_file(config.dir.join(CA_KEY)).unwrap();
    let err = Pki::load_or_create(&config).unwrap_err();
    assert!(matches!(err, Error::MissingCaKey { .. }), "{err:?}");
    assert!(err.to_string().contains("ca.key"), "{err}");
}

#[test]
fn corrupt_ca_key_is_an_error_naming_the_file() {
    let root = tempfile::tempdir().unwrap();
    let config = config(root.path());
    Pki::load_or_create(&config).unwrap();
    fs::write(config.dir.join(CA_KEY), "garbage").unwrap();
    let err = Pki::load_or_create(&config).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("failed to parse {}", config.dir.join(CA_KEY).display())
    );
}

#[test]
fn admin_cert_names_system_admin_in_system_masters() {
    let root = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create(&config(root.path())).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(pki.admin_cert_pem().as_bytes()).unwrap();
    let identity = identity_from_der(&pem.contents).unwrap();
    assert_eq!(
        identity,
        CertIdentity {
            user: "system:admin".to_string(),
            groups: vec!["system:masters".to_string()],
        }
    );
}

#[test]
fn issued_client_certs_carry_their_groups() {
    let root = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create(&config(root.path())).unwrap();
    for groups in [&[][..], &["a"], &["a", "b"]] {
        let (cert, key) = pki.issue_client_cert("alice", groups).unwrap();
        assert!(key.contains("PRIVATE KEY"));
        let (_, pem) = x509_parser::pem::parse_x509_pem(cert.as_bytes()).unwrap();
        let identity = identity_from_der(&pem.contents).unwrap();
        assert_eq!(identity.user, "alice");
        assert_eq!(identity.groups, groups.to_vec());
    }
    let err = pki
        .issue_client_cert("alice", &["a", "b", "c"])
        .unwrap_err();
    assert!(matches!(err, Error::TooManyOrganizations { count: 3, .. }));
}

#[test]
fn kubeconfig_is_private_yaml_that_parses_back() {
    let root = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create(&config(root.path())).unwrap();
    let path = root.path().join("etc/kubers/kubers.yaml");
    write_kubeconfig(&path, "https://127.0.0.1:6443", &pki).unwrap();
    assert_eq!(mode(&path), 0o600);

    let text = fs::read_to_string(&path).unwrap();
    let parsed: kubeconfig::Kubeconfig = serde_yaml::from_str(&text).unwrap();
    assert_eq!(parsed.current_context, "default");
    assert_eq!(parsed.clusters[0].name, "default");
    assert_eq!(parsed.clusters[0].cluster.server, "https://127.0.0.1:6443");
    assert_eq!(parsed.contexts[0].context.cluster, "default");
    assert_eq!(parsed.contexts[0].context.user, "default");
    let decode = |data: &str| {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(data)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(
        decode(&parsed.clusters[0].cluster.certificate_authority_data),
        pki.ca_cert_pem()
    );
    assert_eq!(
        decode(&parsed.users[0].user.client_certificate_data),
        pki.admin_cert_pem()
    );
    assert_eq!(
        decode(&parsed.users[0].user.client_key_data),
        pki.admin_key_pem()
    );

    // Generic YAML view: the keys kubectl looks for.
    let value: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(value["apiVersion"], "v1");
    assert_eq!(value["kind"], "Config");
    assert_eq!(value["current-context"], "default");
    assert!(value["users"][0]["user"]["client-key-data"].is_string());
}
