//! Service-account tokens: JWTs the API server signs with the service-account key (`jwt`), carrying
//! upstream's claims (`claims`). The [`Issuer`] makes them for TokenRequest and checks the signature,
//! issuer, lifetime and audience of the ones it is shown; whether the account and the bound objects
//! still exist is the authenticator's check (`authn::service_account`).

pub mod claims;
pub mod jwt;

pub use claims::{Claims, KubernetesClaim, ObjectRef};
pub use jwt::{JwtError, SigningKey};

/// The lifetime that marks a projected token of the kube-api-access volume: such tokens, bound to a
/// pod and for the API server's audiences, are issued for [`EXTENDED_EXPIRATION_SECONDS`] and carry a
/// `warnafter` at this lifetime (upstream's `WarnOnlyBoundTokenExpirationSeconds`).
pub const WARN_ONLY_EXPIRATION_SECONDS: i64 = 3607;
/// How long an extended projected token stays valid: one year.
pub const EXTENDED_EXPIRATION_SECONDS: i64 = 365 * 24 * 60 * 60;
/// Clock skew tolerated on `exp` and `nbf` (go-jose's default leeway).
const LEEWAY_SECONDS: i64 = 60;

/// Signs and checks service-account tokens for one issuer.
#[derive(Debug)]
pub struct Issuer {
    key: SigningKey,
    issuer: String,
    api_audiences: Vec<String>,
}

impl Issuer {
    /// An issuer named `issuer` (`https://kubernetes.default.svc.cluster.local`) signing with the PKCS#8
    /// PEM `key`; tokens without explicit audiences are for `api_audiences` (which default to the
    /// issuer, as kube-apiserver's `--api-audiences` do).
    pub fn new(
        key_pem: &str,
        issuer: &str,
        api_audiences: Vec<String>,
    ) -> Result<Issuer, JwtError> {
        let api_audiences = if api_audiences.is_empty() {
            vec![issuer.to_owned()]
        } else {
            api_audiences
        };
        Ok(Issuer {
            key: SigningKey::from_pem(key_pem)?,
            issuer: issuer.to_owned(),
            api_audiences,
        })
    }

    /// The `iss` of every token.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audiences the API server itself accepts.
    pub fn api_audiences(&self) -> &[String] {
        &self.api_audiences
    }

    /// Signs `claims`, setting `iss`.
    pub fn sign(&self, mut claims: Claims) -> Result<String, JwtError> {
        claims.iss = self.issuer.clone();
        let value = serde_json::to_value(&claims).map_err(|_| JwtError::Sign)?;
        self.key.sign(&value)
    }

    /// Whether `token` looks like one of this issuer's (a JWT whose `iss` is ours), so other
    /// authenticators can be tried first when it does not.
    pub fn is_ours(&self, token: &str) -> bool {
        jwt::peek_claims(token)
            .and_then(|claims| {
                claims
                    .get("iss")
                    .and_then(|iss| iss.as_str().map(str::to_owned))
            })
            .is_some_and(|iss| iss == self.issuer)
    }

    /// Checks a token's signature, issuer, lifetime at `now` (seconds since the epoch) and audience;
    /// returns its claims and the audiences it was accepted for (those of `audiences`, or of the API
    /// server's when empty, that the token names). Errors carry upstream's wording.
    pub fn verify(
        &self,
        token: &str,
        audiences: &[String],
        now: i64,
    ) -> Result<(Claims, Vec<String>), String> {
        let value = self.key.verify(token).map_err(|error| match error {
            JwtError::BadSignature | JwtError::WrongKey => {
                "square/go-jose: error in cryptographic primitive".to_owned()
            }
            other => other.to_string(),
        })?;
        let claims: Claims =
            serde_json::from_value(value).map_err(|error| format!("malformed claims: {error}"))?;
        if claims.iss != self.issuer {
            return Err("token issuer is not accepted".to_owned());
        }
        if claims.exp != 0 && now > claims.exp + LEEWAY_SECONDS {
            return Err("service account token has expired".to_owned());
        }
        if claims.nbf != 0 && now + LEEWAY_SECONDS < claims.nbf {
            return Err("service account token is not valid yet".to_owned());
        }
        let wanted = if audiences.is_empty() {
            &self.api_audiences
        } else {
            audiences
        };
        let accepted: Vec<String> = wanted
            .iter()
            .filter(|audience| claims.aud.contains(audience))
            .cloned()
            .collect();
        if accepted.is_empty() {
            return Err("token audiences is invalid".to_owned());
        }
        Ok((claims, accepted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> Issuer {
        let pair = rcgen::KeyPair::generate().expect("generate");
        Issuer::new(
            &pair.serialize_pem(),
            "https://kubernetes.default.svc.cluster.local",
            Vec::new(),
        )
        .expect("issuer")
    }

    fn claims(aud: &[&str], exp: i64) -> Claims {
        Claims {
            sub: claims::username("default", "default"),
            aud: aud.iter().map(|a| (*a).to_owned()).collect(),
            exp,
            iat: 1000,
            nbf: 1000,
            ..Claims::default()
        }
    }

    #[test]
    fn verifies_lifetime_and_audience() {
        let issuer = issuer();
        let api = "https://kubernetes.default.svc.cluster.local".to_owned();
        let token = issuer.sign(claims(&[&api, "vault"], 5000)).expect("sign");
        assert!(issuer.is_ours(&token));
        let (read, accepted) = issuer.verify(&token, &[], 2000).expect("valid");
        assert_eq!(read.iss, api);
        assert_eq!(accepted, vec![api.clone()]);
        let (_, accepted) = issuer
            .verify(&token, &["vault".to_owned(), "other".to_owned()], 2000)
            .expect("valid for vault");
        assert_eq!(accepted, vec!["vault".to_owned()]);
        assert_eq!(
            issuer.verify(&token, &["other".to_owned()], 2000),
            Err("token audiences is invalid".to_owned())
        );
        assert!(issuer.verify(&token, &[], 5060).is_ok(), "within leeway");
        assert_eq!(
            issuer.verify(&token, &[], 5061),
            Err("service account token has expired".to_owned())
        );
        assert!(issuer.verify(&token, &[], 900).is_err(), "not yet valid");
        let stranger = self::issuer();
        assert!(stranger.verify(&token, &[], 2000).is_err());
        assert!(!issuer.is_ours("K10abc::server:secret"));
    }
}
