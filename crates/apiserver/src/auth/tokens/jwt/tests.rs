//! Signing and verifying with both key kinds, and the ways a token is refused.

use super::*;
use serde_json::json;

/// A 2048-bit RSA key (PKCS#8), for the RS256 path only; kubers generates ECDSA keys.
const RSA_KEY: &str = "
-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC3+5VGutelnlS8
cXfofh7bLpX4xvpQ51unLc9aYOQQSEm4WWBovD/GYTG1ZE0vSsZNoliaRxH7rnZ/
qM66w4N7rcf1EAqi0UE/JviafuXrDVDrBEox79gF5S/rN4/zM13wcBAR9RIN666g
WK8iDxf3+wp03xRP3xysWKNMisWH/SQqmSRd5W49Cfvtzv85m22N2M89pPViog1R
HcnIhpDT4ZJ2NwIhYuJABkKNRjTT7UY6G6nXDZ/XZzgIAi1GXdTDPFx/7ADHJmLV
TNmdGAev30pInrO3kkvvu175EXzNQoo3884acsxpfqBnkNe/QxA82Y1wSa+Akise
tMGbaFthAgMBAAECggEAFB6KOrecdPNNS2UyKmW+XJQp2NBzl6zROEU5b2X4krJB
A4ycjx+E7t36mF49VY5dBKjb/RUICaiQs1Gjt8dBJeGBZBJqw1bURoJtvcFiRbPJ
VUX9EhxrGGvxc0y6bGtB2tT6YOhWntiW2liQYE5bveXBRToO59Qbd9pikzB6vO3Y
/5xB4bqErXWEff7NlDhoKATDmVzjaGGlnFPeoMtECljwh3qQA6HvVnOLYP7ju0vi
W+tVF/4AyCeBH2OOKdyBd3BpBejdiY+QP75BxvQrZw1ixZHYnz6EzyD2nCcFJrYh
crL/CdYelT7rFSkxdGQkNfH5wU+PMwLBlnqKjUDExQKBgQD9lHunH7ndzQheeH9l
CsuQyDXpTrxRT5YeW7STEk+8dh18TjJ4tZiSB03qsUlkTTokWgNEmlcVnvxRFDRC
cHcLf2194u7kTlvEBqGewS191Ce5Ao8w7Tq5jC/g+jrAT3ujB9TZlYSRVtCCuF6d
7al+Y9CLhaVkYSkw1WoTTmyL1QKBgQC5vRF166+nMTq+KzmYhWGSHmngBqCsGhTk
AJVSOoSQNR3iJnFXfFk7cfmw5nP4VsbKeWs0PmpNdEQZi5w12gMi9gfzywJ4n926
itFKFhkNP431mKj6LI89h4zlBKpg4LZ0/t1D/EtCP6lBUllF7xVvlrag+o2Ollof
lDzY1VXTXQKBgFhJ9GuRzkL9eiZ6SdDCW3IDY1HiCgs9bIURZOO4Am8ZqNZ423XP
tFlTlbtbErSLduzlMjIWkq+CdVM9d5yST8B/E347HvX6mlS8AlWl6NLgpRvzWius
zT+BIcJxHTeL9P4kYeWH+2onEd4Rl0/hSZwp4JhTZex3L8JC6/Xg3kYpAoGBAILI
UD0Z4Sr2jQhOY1WzxUofxCkMQaItEzyf9IRb0+++lvYgX3pcgnBLBqe6/TmF0J/M
8uFseWlkTnc2SJ3ajo7VcjAFaA4LcxLgoBFskeM0Nv8RqRnOumV2xoyTxmxEjfS/
aIlwYoWZUdI+68FEYXGbS6j6Aya9U2Qc+uMrBC25AoGBAKG/0KfqL7RCPHFKmTL2
9UxJXr0AqQ/szxWaa/M6Cd9S27DBXq1m17XsdO+3ZwBzzTFcig2dAwxnaKY9kFXK
QJFwWbLcTKg2kx5WHiOWEthAuaYlqcp2q+UH+rAkSMPjx77hipyk3vYgGsFVwtCh
ZWwW6q53F5OWCXh5LVDNbmBK
-----END PRIVATE KEY-----
";
/// `openssl pkey -pubout -outform DER | sha256 | base64url` of [`RSA_KEY`].
const RSA_KEY_ID: &str = "opaCm6FD8K1-4flNjIlH-BAJ3uT3oHMSc5hWhLWieA8";

fn ecdsa() -> (SigningKey, rcgen::KeyPair) {
    let pair = rcgen::KeyPair::generate().expect("generate");
    let key = SigningKey::from_pem(&pair.serialize_pem()).expect("load");
    (key, pair)
}

#[test]
fn es256_round_trip_and_key_id() {
    let (key, pair) = ecdsa();
    assert_eq!(key.algorithm(), "ES256");
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        &rcgen::PublicKeyData::subject_public_key_info(&pair),
    );
    assert_eq!(key.key_id, URL_SAFE_NO_PAD.encode(digest.as_ref()));
    let claims = json!({"sub": "system:serviceaccount:default:default", "exp": 1});
    let token = key.sign(&claims).expect("sign");
    assert_eq!(key.verify(&token), Ok(claims.clone()));
    assert_eq!(peek_claims(&token), Some(claims));
    let header = decode_json(token.split('.').next().expect("header")).expect("json");
    assert_eq!(header, json!({"alg": "ES256", "kid": key.key_id}));
}

#[test]
fn rs256_round_trip_and_key_id() {
    let key = SigningKey::from_pem(RSA_KEY).expect("load");
    assert_eq!(key.algorithm(), "RS256");
    assert_eq!(key.key_id, RSA_KEY_ID);
    let claims = json!({"iss": "https://kubernetes.default.svc.cluster.local"});
    let token = key.sign(&claims).expect("sign");
    assert_eq!(key.verify(&token), Ok(claims));
}

#[test]
fn refused_tokens() {
    let (key, _) = ecdsa();
    let (other, _) = ecdsa();
    let token = key.sign(&json!({"sub": "a"})).expect("sign");
    assert_eq!(other.verify(&token), Err(JwtError::WrongKey));
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(json!({"sub": "b"}).to_string());
    parts[1] = &forged;
    assert_eq!(key.verify(&parts.join(".")), Err(JwtError::BadSignature));
    let rsa = SigningKey::from_pem(RSA_KEY).expect("load");
    assert_eq!(rsa.verify(&token), Err(JwtError::WrongKey));
    for garbage in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
        assert_eq!(key.verify(garbage), Err(JwtError::Malformed), "{garbage}");
    }
    assert!(SigningKey::from_pem("not a key").is_err());
}
