//! Compact JSON Web Signatures (RFC 7515) with `ring`: ES256 for the ECDSA P-256 key the PKI generates,
//! RS256 for an RSA key put in its place. The key id (`kid`) is upstream's: the unpadded base64url
//! SHA-256 of the public key's DER `SubjectPublicKeyInfo`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair, UnparsedPublicKey};
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::pem::PemObject;
use serde_json::Value;

/// Why a key could not be loaded or a token not made or read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    /// The signing key is not a PKCS#8 PEM key of a supported kind.
    #[error("unsupported service-account signing key: {0}")]
    Key(String),
    /// Signing failed.
    #[error("failed to sign the token")]
    Sign,
    /// The token is not three base64url parts with JSON header and claims.
    #[error("malformed token")]
    Malformed,
    /// The header names another algorithm or key.
    #[error("token signed with an unexpected algorithm or key")]
    WrongKey,
    /// The signature does not verify.
    #[error("invalid signature")]
    BadSignature,
}

#[derive(Debug)]
enum Algorithm {
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
}

/// A private key that signs tokens and verifies the tokens it signed.
#[derive(Debug)]
pub struct SigningKey {
    algorithm: Algorithm,
    key_id: String,
    rng: SystemRandom,
}

impl SigningKey {
    /// Loads a PKCS#8 PEM private key (ECDSA P-256 or RSA).
    pub fn from_pem(pem: &str) -> Result<SigningKey, JwtError> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|error| JwtError::Key(error.to_string()))?;
        let rng = SystemRandom::new();
        let algorithm = match EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            der.secret_pkcs8_der(),
            &rng,
        ) {
            Ok(pair) => Algorithm::Es256(pair),
            Err(ecdsa) => match RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()) {
                Ok(pair) => Algorithm::Rs256(pair),
                Err(rsa) => {
                    return Err(JwtError::Key(format!(
                        "not P-256 ({ecdsa}), not RSA ({rsa})"
                    )));
                }
            },
        };
        let spki = match &algorithm {
            Algorithm::Es256(pair) => spki(EC_P256_ALGORITHM, pair.public_key().as_ref()),
            Algorithm::Rs256(pair) => spki(RSA_ALGORITHM, pair.public_key().as_ref()),
        };
        let digest = ring::digest::digest(&ring::digest::SHA256, &spki);
        Ok(SigningKey {
            algorithm,
            key_id: URL_SAFE_NO_PAD.encode(digest.as_ref()),
            rng,
        })
    }

    /// `ES256` or `RS256`.
    pub fn algorithm(&self) -> &'static str {
        match self.algorithm {
            Algorithm::Es256(_) => "ES256",
            Algorithm::Rs256(_) => "RS256",
        }
    }

    /// Signs `claims` into a compact JWS: `header.claims.signature`.
    pub fn sign(&self, claims: &Value) -> Result<String, JwtError> {
        let header = serde_json::json!({"alg": self.algorithm(), "kid": self.key_id});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = match &self.algorithm {
            Algorithm::Es256(pair) => pair
                .sign(&self.rng, signing_input.as_bytes())
                .map_err(|_| JwtError::Sign)?
                .as_ref()
                .to_vec(),
            Algorithm::Rs256(pair) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &self.rng,
                    signing_input.as_bytes(),
                    &mut signature,
                )
                .map_err(|_| JwtError::Sign)?;
                signature
            }
        };
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }

    /// Checks the signature of a token this key signed and returns its claims. Claims are not
    /// checked here (expiry, issuer, audience): that is the caller's business.
    pub fn verify(&self, token: &str) -> Result<Value, JwtError> {
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let header = decode_json(header)?;
        if header.get("alg").and_then(Value::as_str) != Some(self.algorithm()) {
            return Err(JwtError::WrongKey);
        }
        if let Some(kid) = header.get("kid").and_then(Value::as_str)
            && kid != self.key_id
        {
            return Err(JwtError::WrongKey);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| JwtError::Malformed)?;
        let signed = &token[..header_and_claims_len(token)];
        let verified = match &self.algorithm {
            Algorithm::Es256(pair) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, pair.public_key())
                    .verify(signed.as_bytes(), &signature)
            }
            Algorithm::Rs256(pair) => UnparsedPublicKey::new(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                pair.public_key().as_ref(),
            )
            .verify(signed.as_bytes(), &signature),
        };
        verified.map_err(|_| JwtError::BadSignature)?;
        decode_json(claims)
    }
}

/// The claims of a token without checking its signature (to decide whether it is ours at all).
pub fn peek_claims(token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (Some(_), Some(claims), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    decode_json(claims).ok()
}

fn header_and_claims_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(token.len())
}

fn decode_json(part: &str) -> Result<Value, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| JwtError::Malformed)?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(JwtError::Malformed)
    }
}

/// DER `AlgorithmIdentifier` of an EC P-256 key: id-ecPublicKey with the prime256v1 curve.
const EC_P256_ALGORITHM: &[u8] = &[
    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x03, 0x01, 0x07,
];
/// DER `AlgorithmIdentifier` of an RSA key: rsaEncryption with NULL parameters.
const RSA_ALGORITHM: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

/// The DER `SubjectPublicKeyInfo` of a public key (what Go's `x509.MarshalPKIXPublicKey` gives).
fn spki(algorithm: &[u8], public_key: &[u8]) -> Vec<u8> {
    let mut bit_string = vec![0];
    bit_string.extend_from_slice(public_key);
    let mut body = algorithm.to_vec();
    body.extend(der(0x03, &bit_string));
    der(0x30, &body)
}

/// One DER element: tag, definite length, content.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|byte| *byte == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests;
