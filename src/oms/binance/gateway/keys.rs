//! Owns: the gateway's API credentials — the API key, its HMAC secret and an optional
//! Ed25519 private key for `session.logon` — read from the environment (or the simulator's
//! documented test set), held privately and never shown. Never: logs, prints or formats a
//! secret; a `Debug` of the keys shows only that they are set.

use crate::oms::binance::sign::pkcs8_der_from_pem;
use crate::oms::binance::{Ed25519Signer, SignError};
use crate::sim::{DOCS_API_KEY, DOCS_API_SECRET, DOCS_ED25519_PRIVATE_KEY_PEM};

/// Environment variable holding the API key.
pub const API_KEY_ENV: &str = "KESTREL_BINANCE_API_KEY";
/// Environment variable holding the HMAC secret.
pub const API_SECRET_ENV: &str = "KESTREL_BINANCE_API_SECRET";
/// Environment variable naming a PKCS#8 PEM file with the Ed25519 private key the WebSocket
/// API session logs on with (optional: without it every request is HMAC-signed).
pub const ED25519_KEY_FILE_ENV: &str = "KESTREL_BINANCE_ED25519_KEY_FILE";
/// Environment variable holding the API key of that Ed25519 key (required with the file).
/// A Binance API key has one type, so the Ed25519 key is a second API key of the same
/// account: REST and the requests sent before the logon answers stay HMAC-signed with
/// `KESTREL_BINANCE_API_KEY`, the session then acts as this one.
pub const ED25519_API_KEY_ENV: &str = "KESTREL_BINANCE_ED25519_API_KEY";

/// Why the keys could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0} is not set (or not valid UTF-8)")]
    Missing(&'static str),
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("cannot read the Ed25519 key file named by {ENV}: {0}", ENV = ED25519_KEY_FILE_ENV)]
    Ed25519File(std::io::Error),
    #[error("Ed25519 key: {0}")]
    Ed25519(#[from] SignError),
}

/// An API key, its HMAC secret and, optionally, the Ed25519 key `session.logon` signs with.
#[derive(Clone, PartialEq, Eq)]
pub struct GatewayKeys {
    api_key: String,
    secret: String,
    /// The Ed25519 key's own API key and its private key's PKCS#8 DER (checked when set).
    ed25519_pkcs8: Option<(String, Vec<u8>)>,
}

impl std::fmt::Debug for GatewayKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GatewayKeys(<redacted>)")
    }
}

impl GatewayKeys {
    /// `KESTREL_BINANCE_API_KEY` and `KESTREL_BINANCE_API_SECRET`, plus the Ed25519 key in
    /// the PEM file `KESTREL_BINANCE_ED25519_KEY_FILE` names, when that is set.
    pub fn from_env() -> Result<Self, KeyError> {
        let read = |name: &'static str| -> Result<String, KeyError> {
            let value = std::env::var(name).map_err(|_| KeyError::Missing(name))?;
            if value.trim().is_empty() {
                return Err(KeyError::Empty(name));
            }
            Ok(value.trim().to_owned())
        };
        let keys = Self {
            api_key: read(API_KEY_ENV)?,
            secret: read(API_SECRET_ENV)?,
            ed25519_pkcs8: None,
        };
        match std::env::var_os(ED25519_KEY_FILE_ENV) {
            Some(path) if !path.is_empty() => {
                let api_key = read(ED25519_API_KEY_ENV)?;
                let pem = std::fs::read_to_string(path).map_err(KeyError::Ed25519File)?;
                keys.with_ed25519_pem(&api_key, &pem)
            }
            _ => Ok(keys),
        }
    }

    /// The pair of Binance's signing examples, which `simex` accepts by default, with the
    /// Ed25519 key of RFC 8032 test 1, whose public key `simex` registers for that API key.
    pub fn simex_test() -> Self {
        let keys = Self {
            api_key: DOCS_API_KEY.to_owned(),
            secret: DOCS_API_SECRET.to_owned(),
            ed25519_pkcs8: None,
        };
        // The documented PEM is a constant proven valid by the keys tests.
        let der = pkcs8_der_from_pem(DOCS_ED25519_PRIVATE_KEY_PEM).unwrap_or_default();
        Self {
            ed25519_pkcs8: Some((DOCS_API_KEY.to_owned(), der)),
            ..keys
        }
    }

    /// These keys with the Ed25519 API key `api_key` and its private key in `pem`
    /// (`-----BEGIN PRIVATE KEY-----`, PKCS#8, as OpenSSL and Binance's key generator write
    /// it).
    pub fn with_ed25519_pem(self, api_key: &str, pem: &str) -> Result<Self, KeyError> {
        let der = pkcs8_der_from_pem(pem)?;
        Ed25519Signer::from_pkcs8_der(&der)?;
        Ok(Self {
            ed25519_pkcs8: Some((api_key.to_owned(), der)),
            ..self
        })
    }

    /// These keys without an Ed25519 key (every request HMAC-signed, no logon).
    pub fn without_ed25519(self) -> Self {
        Self {
            ed25519_pkcs8: None,
            ..self
        }
    }

    /// Whether an Ed25519 key is set (the gateway then logs its WebSocket API session on).
    pub fn has_ed25519(&self) -> bool {
        self.ed25519_pkcs8.is_some()
    }

    /// The API key (sent in `X-MBX-APIKEY` / `apiKey`; not a secret, still never logged).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    pub(super) fn secret(&self) -> &str {
        &self.secret
    }

    /// The Ed25519 key's API key and signer, when a key is set.
    pub(super) fn ed25519_signer(&self) -> Option<Result<(&str, Ed25519Signer), SignError>> {
        self.ed25519_pkcs8.as_ref().map(|(api_key, der)| {
            Ed25519Signer::from_pkcs8_der(der).map(|signer| (api_key.as_str(), signer))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key_or_secret() {
        let keys = GatewayKeys::simex_test();
        let shown = format!("{keys:?}");
        assert!(!shown.contains(DOCS_API_KEY) && !shown.contains(DOCS_API_SECRET));
        assert_eq!(shown, "GatewayKeys(<redacted>)");
    }

    #[test]
    fn the_simex_test_keys_carry_the_documented_ed25519_key() {
        let keys = GatewayKeys::simex_test();
        let (api_key, signer) = keys
            .ed25519_signer()
            .expect("simex_test sets an Ed25519 key")
            .expect("the documented PEM is valid");
        assert_eq!(api_key, DOCS_API_KEY);
        assert_eq!(
            signer.public_key(),
            crate::sim::docs_ed25519_public_key().as_slice()
        );
        assert!(!keys.clone().without_ed25519().has_ed25519());
    }

    #[test]
    fn a_bad_ed25519_pem_is_a_typed_error() {
        let keys = GatewayKeys::simex_test().without_ed25519();
        assert!(matches!(
            keys.clone().with_ed25519_pem("ed25519-key", "nothing here"),
            Err(KeyError::Ed25519(SignError::BadPem(_)))
        ));
        let not_ed25519 = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----";
        assert!(matches!(
            keys.with_ed25519_pem("ed25519-key", not_ed25519),
            Err(KeyError::Ed25519(SignError::BadEd25519Key(_)))
        ));
    }
}
