//! Owns: Binance request signatures: HMAC-SHA256 (REST and WebSocket API) with the key
//! schedule computed once, and Ed25519 for the WebSocket API `session.logon`.
//! Never: allocates per signature, logs a secret, or decides what the signed payload is.
//!
//! What is signed differs by transport (protocols.md §1.2, §6.1): REST signs the query string
//! followed by the body with no separator (vector B3); the WebSocket API signs its params
//! sorted by name, `apiKey` included (B4–B6). The request builders produce those payloads;
//! this module only turns bytes into a signature.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Length of a lowercase hex HMAC-SHA256 signature.
pub const HEX_SIGNATURE_LEN: usize = 64;
/// Length of a base64 Ed25519 signature (64 bytes, padded).
pub const BASE64_SIGNATURE_LEN: usize = 88;

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Why a signing key could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The HMAC secret is empty (the environment variable was probably unset).
    #[error("HMAC secret key is empty")]
    EmptySecret,
    /// The Ed25519 PEM text has no `PRIVATE KEY` block or its base64 does not decode.
    #[error("Ed25519 private key PEM is malformed: {0}")]
    BadPem(&'static str),
    /// The key bytes are not an Ed25519 PKCS#8 key or seed ring accepts.
    #[error("Ed25519 private key rejected: {0}")]
    BadEd25519Key(String),
}

/// A lowercase hex HMAC-SHA256 signature held inline.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HexSignature([u8; HEX_SIGNATURE_LEN]);

impl HexSignature {
    /// The 64 hex digits.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// The 64 hex digits as text.
    #[inline]
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl std::fmt::Debug for HexSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// HMAC-SHA256 signer keyed once; each signature clones the keyed state (no key schedule,
/// no allocation per order).
#[derive(Clone)]
pub struct HmacSigner {
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for HmacSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacSigner { secret: <redacted> }")
    }
}

impl HmacSigner {
    /// A signer for `secret` (the API secret key as given by Binance, used as raw bytes).
    pub fn new(secret: &[u8]) -> Result<Self, SignError> {
        if secret.is_empty() {
            return Err(SignError::EmptySecret);
        }
        // HMAC accepts keys of any length, so this cannot fail for a non-empty key.
        let keyed = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| SignError::EmptySecret)?;
        Ok(Self { keyed })
    }

    /// Signature of one payload (a WebSocket API sorted payload, or a REST query alone).
    #[inline]
    pub fn sign(&self, payload: &[u8]) -> HexSignature {
        self.sign_parts(payload, &[])
    }

    /// Signature of a REST request: the query string then the body, with nothing between.
    #[inline]
    pub fn sign_parts(&self, query: &[u8], body: &[u8]) -> HexSignature {
        let mut mac = self.keyed.clone();
        mac.update(query);
        mac.update(body);
        hex_of(&mac.finalize().into_bytes())
    }

    /// A signer for payloads that all start with `prefix`, with the prefix hashed once here.
    pub fn with_prefix(&self, prefix: &[u8]) -> PrefixedHmacSigner {
        let mut absorbed = self.keyed.clone();
        absorbed.update(prefix);
        PrefixedHmacSigner {
            absorbed,
            prefix: prefix.to_vec(),
        }
    }
}

#[inline]
fn hex_of(digest: &[u8]) -> HexSignature {
    let mut hex = [0u8; HEX_SIGNATURE_LEN];
    for (pair, byte) in hex.chunks_exact_mut(2).zip(digest.iter()) {
        pair[0] = HEX_DIGITS[(byte >> 4) as usize];
        pair[1] = HEX_DIGITS[(byte & 0x0f) as usize];
    }
    HexSignature(hex)
}

/// An HMAC signer that has already absorbed a fixed payload prefix (the WebSocket API's
/// leading `apiKey=<key>&`), so each signature hashes only what follows it.
#[derive(Clone)]
pub struct PrefixedHmacSigner {
    absorbed: Hmac<Sha256>,
    prefix: Vec<u8>,
}

impl std::fmt::Debug for PrefixedHmacSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrefixedHmacSigner { secret: <redacted> }")
    }
}

impl PrefixedHmacSigner {
    /// The prefix this signer has absorbed.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// Signature of `payload`, which must start with the prefix (`None` otherwise).
    #[inline]
    pub fn sign(&self, payload: &[u8]) -> Option<HexSignature> {
        let rest = payload.strip_prefix(self.prefix.as_slice())?;
        Some(self.sign_rest(rest))
    }

    /// Signature of the prefix followed by `rest` (the prefix itself is not hashed again).
    #[inline]
    pub fn sign_rest(&self, rest: &[u8]) -> HexSignature {
        let mut mac = self.absorbed.clone();
        mac.update(rest);
        hex_of(&mac.finalize().into_bytes())
    }
}

/// A base64 Ed25519 signature held inline (case-sensitive, unlike hex HMAC).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Base64Signature([u8; BASE64_SIGNATURE_LEN]);

impl Base64Signature {
    /// The 88 base64 characters.
    pub fn as_str(&self) -> &str {
        // Only base64 alphabet characters are ever written.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl std::fmt::Debug for Base64Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The PKCS#8 DER inside a `-----BEGIN PRIVATE KEY-----` PEM block (not checked as a key).
pub fn pkcs8_der_from_pem(pem: &str) -> Result<Vec<u8>, SignError> {
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
    const END: &str = "-----END PRIVATE KEY-----";
    let start = pem
        .find(BEGIN)
        .ok_or(SignError::BadPem("no BEGIN PRIVATE KEY line"))?
        + BEGIN.len();
    let len = pem[start..]
        .find(END)
        .ok_or(SignError::BadPem("no END PRIVATE KEY line"))?;
    let body: String = pem[start..start + len]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|_| SignError::BadPem("body is not base64"))
}

/// Ed25519 signer for the WebSocket API session logon (Binance requires an Ed25519 key for
/// the spot user-data subscription after `session.logon`).
pub struct Ed25519Signer {
    key: ring::signature::Ed25519KeyPair,
}

impl std::fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ed25519Signer { key: <redacted> }")
    }
}

impl Ed25519Signer {
    /// From the `-----BEGIN PRIVATE KEY-----` PEM Binance's key generator and OpenSSL write.
    pub fn from_pem(pem: &str) -> Result<Self, SignError> {
        Self::from_pkcs8_der(&pkcs8_der_from_pem(pem)?)
    }

    /// From PKCS#8 DER bytes (v1 as OpenSSL writes it, or v2 with the public key).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, SignError> {
        ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map(|key| Self { key })
            .map_err(|err| SignError::BadEd25519Key(err.to_string()))
    }

    /// From the raw 32-byte private seed.
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, SignError> {
        ring::signature::Ed25519KeyPair::from_seed_unchecked(seed)
            .map(|key| Self { key })
            .map_err(|err| SignError::BadEd25519Key(err.to_string()))
    }

    /// The 32-byte public key (what is registered with Binance).
    pub fn public_key(&self) -> &[u8] {
        use ring::signature::KeyPair;
        self.key.public_key().as_ref()
    }

    /// Base64 signature of `payload`.
    pub fn sign(&self, payload: &[u8]) -> Base64Signature {
        let signature = self.key.sign(payload);
        let mut text = [0u8; BASE64_SIGNATURE_LEN];
        // 64 bytes always encode to exactly 88 padded characters.
        let written = base64::engine::general_purpose::STANDARD
            .encode_slice(signature.as_ref(), &mut text)
            .unwrap_or(0);
        debug_assert_eq!(written, BASE64_SIGNATURE_LEN);
        Base64Signature(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPOT_SECRET: &[u8] = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
    const SPOT_API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";

    fn spot() -> HmacSigner {
        HmacSigner::new(SPOT_SECRET).expect("the documented key is non-empty")
    }

    #[test]
    fn b1_rest_spot_order() {
        let payload = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1\
                       &recvWindow=5000&timestamp=1499827319559";
        assert_eq!(
            spot().sign(payload.as_bytes()).as_str(),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
    }

    #[test]
    fn b2_rest_non_ascii_symbol_is_signed_percent_encoded() {
        let payload = "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY\
                       &type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000\
                       &timestamp=1499827319559";
        assert_eq!(
            spot().sign(payload.as_bytes()).as_str(),
            "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"
        );
    }

    #[test]
    fn b3_rest_query_and_body_are_joined_without_a_separator() {
        let query = b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC";
        let body = b"quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        let expected = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77";
        assert_eq!(spot().sign_parts(query, body).as_str(), expected);
        let joined = [&query[..], &body[..]].concat();
        assert_eq!(spot().sign(&joined).as_str(), expected);
        let with_ampersand = [&query[..], b"&", &body[..]].concat();
        assert_ne!(spot().sign(&with_ampersand).as_str(), expected);
    }

    #[test]
    fn b4_ws_api_sorted_params() {
        let payload = format!(
            "apiKey={SPOT_API_KEY}&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL\
             &symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
        );
        assert_eq!(
            spot().sign(payload.as_bytes()).as_str(),
            "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
        );
    }

    #[test]
    fn b4_signed_through_an_absorbed_api_key_prefix_matches() {
        let prefix = format!("apiKey={SPOT_API_KEY}&");
        let signer = spot().with_prefix(prefix.as_bytes());
        let payload = format!(
            "{prefix}price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL\
             &symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
        );
        assert_eq!(
            signer
                .sign(payload.as_bytes())
                .map(|s| s.as_str().to_string()),
            Some("aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24".to_string())
        );
        assert_eq!(
            signer.sign(b"price=1"),
            None,
            "a payload without the prefix"
        );
    }

    #[test]
    fn b5_ws_api_non_ascii_symbol_is_signed_as_raw_utf8() {
        let payload = format!(
            "apiKey={SPOT_API_KEY}&price=0.10000000&quantity=1.00000000&recvWindow=5000&side=BUY\
             &symbol=１２３４５６&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
        );
        assert_eq!(
            spot().sign(payload.as_bytes()).as_str(),
            "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd"
        );
    }

    #[test]
    fn b6_ws_api_order_place_example() {
        let payload = format!(
            "apiKey={SPOT_API_KEY}&price=23416.10000000&quantity=0.00847000&side=SELL\
             &symbol=BTCUSDT&timeInForce=GTC&timestamp=1660801715431&type=LIMIT"
        );
        assert_eq!(
            spot().sign(payload.as_bytes()).as_str(),
            "15af09e41c36f3cc61378c2fbe2c33719a03dd5eba8d0f9206fbda44de717c88"
        );
    }

    #[test]
    fn b7_usdm_futures_example() {
        let signer =
            HmacSigner::new(b"2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9")
                .expect("the documented key is non-empty");
        let payload = "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC\
                       &recvWindow=5000&timestamp=1591702613943";
        assert_eq!(
            signer.sign(payload.as_bytes()).as_str(),
            "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
        );
    }

    #[test]
    fn empty_secret_is_refused_and_debug_hides_the_key() {
        assert_eq!(HmacSigner::new(b"").err(), Some(SignError::EmptySecret));
        assert!(!format!("{:?}", spot()).contains("Nhq"));
    }

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("test literal is hex"))
            .collect()
    }

    #[test]
    fn ed25519_matches_rfc8032_test_2() {
        let seed: [u8; 32] =
            unhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
                .try_into()
                .expect("32-byte seed");
        let signer = Ed25519Signer::from_seed(&seed).expect("valid seed");
        assert_eq!(
            signer.public_key(),
            unhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
        );
        let signature = base64::engine::general_purpose::STANDARD
            .decode(signer.sign(&[0x72]).as_str())
            .expect("the signer writes base64");
        assert_eq!(
            signature,
            unhex(
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
                 085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
            )
        );
    }

    /// RFC 8032 test 1's key as OpenSSL writes it (the simulator's documented key); the
    /// logon signature was computed with `openssl pkeyutl -sign -rawin` over the same payload.
    const RFC8032_TEST1_PEM: &str = crate::sim::DOCS_ED25519_PRIVATE_KEY_PEM;

    #[test]
    fn ed25519_pem_key_signs_a_logon_payload_like_openssl() {
        let signer = Ed25519Signer::from_pem(RFC8032_TEST1_PEM).expect("OpenSSL PKCS#8 PEM");
        assert_eq!(
            signer.public_key(),
            unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        );
        let payload = format!("apiKey={SPOT_API_KEY}&timestamp=1649729878532");
        assert_eq!(
            signer.sign(payload.as_bytes()).as_str(),
            "763GJeFgG09B/06V/dq24cLu6f0R57whgDMyOCubDex4CTTElmDgPSIQqLdOsvW5TBxyaaFotVCI8tUmQMChAA=="
        );
    }

    #[test]
    fn malformed_ed25519_keys_are_typed_errors() {
        assert_eq!(
            Ed25519Signer::from_pem("no key here").err(),
            Some(SignError::BadPem("no BEGIN PRIVATE KEY line"))
        );
        let not_base64 = "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----";
        assert_eq!(
            Ed25519Signer::from_pem(not_base64).err(),
            Some(SignError::BadPem("body is not base64"))
        );
        assert!(matches!(
            Ed25519Signer::from_pkcs8_der(b"not der"),
            Err(SignError::BadEd25519Key(_))
        ));
    }
}
