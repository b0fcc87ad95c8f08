//! How the hub's outbound HTTP clients (notification delivery and remote `@context` fetching)
//! trust HTTPS servers: the system's CA roots, plus the operator's own CA when one is given
//! (cities run internal CAs). Certificates are always verified.

use std::path::{Path, PathBuf};
use std::sync::Once;

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Why the outbound TLS set-up could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The CA certificate file could not be read.
    #[error("cannot read the CA certificate file {path}: {source}")]
    Read {
        /// The file named by the operator.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The CA certificate file holds no usable PEM certificate.
    #[error("the CA certificate file {path} is not a PEM certificate usable as a CA: {why}")]
    Invalid {
        /// The file named by the operator.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The HTTP client could not be built with these roots.
    #[error("cannot set up HTTPS with {roots}: {why}")]
    Client {
        /// Which roots were being used.
        roots: String,
        /// The client builder's error.
        why: String,
    },
}

/// Makes ring rustls' process-wide crypto provider, once. reqwest is built without a provider
/// of its own (the default one needs cmake to build), so every process that builds a reqwest
/// client must call this first; calling it again is harmless.
pub fn install_tls_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err means another provider is already the default, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The CA roots the outbound clients trust beyond the system's.
#[derive(Clone, Default)]
pub struct OutboundTls {
    extra_roots: Vec<reqwest::Certificate>,
    ca_file: Option<PathBuf>,
}

impl OutboundTls {
    /// Trust the system's CA roots only.
    pub fn system() -> OutboundTls {
        OutboundTls::default()
    }

    /// Trust the system's CA roots and every certificate in the PEM file at `path`.
    pub fn with_ca_file(path: &Path) -> Result<OutboundTls, TlsSetupError> {
        let pem = std::fs::read(path)
            .map_err(|source| TlsSetupError::Read { path: path.to_path_buf(), source })?;
        let extra_roots = ca_certificates(&pem)
            .map_err(|why| TlsSetupError::Invalid { path: path.to_path_buf(), why })?;
        Ok(OutboundTls { extra_roots, ca_file: Some(path.to_path_buf()) })
    }

    /// A client from `configure`d defaults that verifies servers against these roots.
    pub(crate) fn client(
        &self,
        configure: impl Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
    ) -> Result<reqwest::Client, TlsSetupError> {
        install_tls_provider();
        match &self.ca_file {
            Some(path) => configure(reqwest::Client::builder())
                .tls_certs_merge(self.extra_roots.iter().cloned())
                .build()
                .map_err(|e| TlsSetupError::Client {
                    roots: format!("the system's CA roots and {}", path.display()),
                    why: error_chain(&e),
                }),
            None => configure(reqwest::Client::builder()).build().or_else(|e| {
                // A machine without CA certificates (a bare container) still serves plain
                // HTTP; HTTPS is refused there, since no server can be verified.
                tracing::warn!(
                    "no usable system CA roots ({}): HTTPS notification endpoints and \
                     @context URLs will fail verification",
                    error_chain(&e)
                );
                configure(reqwest::Client::builder()).tls_certs_only([]).build().map_err(|e| {
                    TlsSetupError::Client { roots: "no CA roots".to_string(), why: error_chain(&e) }
                })
            }),
        }
    }
}

/// Every certificate in `pem`, each checked to be usable as a trust anchor.
fn ca_certificates(pem: &[u8]) -> Result<Vec<reqwest::Certificate>, String> {
    let mut certs = Vec::new();
    for der in CertificateDer::pem_slice_iter(pem) {
        let der = der.map_err(|e| format!("unreadable PEM ({e})"))?;
        RootCertStore::empty().add(der.clone()).map_err(|e| {
            format!("certificate {} is not a valid X.509 CA ({e})", certs.len() + 1)
        })?;
        let cert = reqwest::Certificate::from_der(der.as_ref())
            .map_err(|e| format!("certificate {} is not usable ({e})", certs.len() + 1))?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err("it holds no \"BEGIN CERTIFICATE\" block".to_string());
    }
    Ok(certs)
}

/// `e` with its sources, which carry the useful part of reqwest's errors.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
