//! Owns: the rustls client configuration (ring provider, webpki roots and/or extra trusted
//! certificates in PEM or DER). Never: opens sockets or performs a handshake.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use super::WsError;

/// Builds a client config trusting the webpki roots (when `use_webpki_roots`) plus every
/// certificate in `extra_cert_files` (PEM bundles or single DER files).
pub fn client_config(
    use_webpki_roots: bool,
    extra_cert_files: &[PathBuf],
) -> Result<Arc<ClientConfig>, WsError> {
    let mut extra = Vec::new();
    for path in extra_cert_files {
        extra.extend(load_certs(path)?);
    }
    client_config_with(use_webpki_roots, &extra)
}

/// Builds a client config trusting the webpki roots (when asked) plus the given DER certificates.
pub fn client_config_with(
    use_webpki_roots: bool,
    extra: &[CertificateDer<'static>],
) -> Result<Arc<ClientConfig>, WsError> {
    let mut roots = RootCertStore::empty();
    if use_webpki_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for cert in extra {
        roots.add(cert.clone()).map_err(|e| WsError::Tls {
            detail: format!("extra trusted certificate rejected: {e}"),
        })?;
    }
    if roots.is_empty() {
        return Err(WsError::Tls {
            detail: "no trusted roots: enable webpki roots or add extra certificates".to_owned(),
        });
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| WsError::Tls {
            detail: format!("protocol versions: {e}"),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Reads certificates from a PEM bundle, or the whole file as one DER certificate.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, WsError> {
    let bytes = std::fs::read(path).map_err(|source| WsError::CertFile {
        path: path.to_owned(),
        source,
    })?;
    if bytes.starts_with(b"-----BEGIN") || bytes.windows(10).any(|w| w == b"-----BEGIN") {
        let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
        let certs = certs.map_err(|e| WsError::Tls {
            detail: format!("{}: bad PEM: {e}", path.display()),
        })?;
        if certs.is_empty() {
            return Err(WsError::Tls {
                detail: format!("{}: no CERTIFICATE block", path.display()),
            });
        }
        Ok(certs)
    } else {
        Ok(vec![CertificateDer::from(bytes)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed() -> rcgen::CertifiedKey<rcgen::KeyPair> {
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("rcgen cert")
    }

    #[test]
    fn pem_and_der_files_load_the_same_certificate() {
        let key = self_signed();
        let dir = tempfile::tempdir().expect("temp dir");
        let (pem, der) = (dir.path().join("c.pem"), dir.path().join("c.der"));
        std::fs::write(&pem, key.cert.pem()).expect("write pem");
        std::fs::write(&der, key.cert.der().as_ref()).expect("write der");
        let from_pem = load_certs(&pem).expect("pem loads");
        let from_der = load_certs(&der).expect("der loads");
        assert_eq!(from_pem, from_der);
        assert_eq!(from_pem[0].as_ref(), key.cert.der().as_ref());
        assert!(client_config(false, &[pem]).is_ok());
    }

    #[test]
    fn refuses_an_empty_trust_store_and_missing_files() {
        assert!(matches!(
            client_config_with(false, &[]),
            Err(WsError::Tls { .. })
        ));
        assert!(client_config_with(true, &[]).is_ok());
        let missing = PathBuf::from("/nonexistent/kestrel-test.pem");
        assert!(matches!(
            client_config(false, &[missing]),
            Err(WsError::CertFile { .. })
        ));
    }
}
