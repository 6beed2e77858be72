//! Owns: the gateway's API credentials — read from the environment (or the simulator's
//! documented test pair), held privately and never shown. Never: logs, prints or formats a
//! secret; a `Debug` of the keys shows only that they are set.

use crate::sim::{DOCS_API_KEY, DOCS_API_SECRET};

/// Environment variable holding the API key.
pub const API_KEY_ENV: &str = "KESTREL_BINANCE_API_KEY";
/// Environment variable holding the HMAC secret.
pub const API_SECRET_ENV: &str = "KESTREL_BINANCE_API_SECRET";

/// Why the keys could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0} is not set (or not valid UTF-8)")]
    Missing(&'static str),
    #[error("{0} is empty")]
    Empty(&'static str),
}

/// An API key and its HMAC secret.
#[derive(Clone, PartialEq, Eq)]
pub struct GatewayKeys {
    api_key: String,
    secret: String,
}

impl std::fmt::Debug for GatewayKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GatewayKeys(<redacted>)")
    }
}

impl GatewayKeys {
    /// `KESTREL_BINANCE_API_KEY` and `KESTREL_BINANCE_API_SECRET`.
    pub fn from_env() -> Result<Self, KeyError> {
        let read = |name: &'static str| -> Result<String, KeyError> {
            let value = std::env::var(name).map_err(|_| KeyError::Missing(name))?;
            if value.trim().is_empty() {
                return Err(KeyError::Empty(name));
            }
            Ok(value.trim().to_owned())
        };
        Ok(Self {
            api_key: read(API_KEY_ENV)?,
            secret: read(API_SECRET_ENV)?,
        })
    }

    /// The pair of Binance's signing examples, which `simex` accepts by default.
    pub fn simex_test() -> Self {
        Self {
            api_key: DOCS_API_KEY.to_owned(),
            secret: DOCS_API_SECRET.to_owned(),
        }
    }

    /// The API key (sent in `X-MBX-APIKEY` / `apiKey`; not a secret, still never logged).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    pub(super) fn secret(&self) -> &str {
        &self.secret
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
}
