//! Credentials for tests: a certificate authority generated in the test (rcgen) with server and
//! client certificates, and random operator tokens. Nothing here is a mock: the server checks
//! these credentials as it would any.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// A random operator token (48 hex characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 24];
    for (i, b) in bytes.iter_mut().enumerate() {
        // Good enough for a test: time, pid and position mixed; the server only needs length.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        *b = ((t >> ((i % 8) * 8)) as u8) ^ (std::process::id() as u8).wrapping_mul(i as u8 + 7);
    }
    format!("op_{}", hex::encode(bytes))
}

/// The bearer-token interceptor every accord client uses (`accord_proto::client`).
pub use accord_proto::client::Bearer;

/// A certificate authority made for one test, written as PEM files in a directory, with the
/// server's certificate (for `localhost` and 127.0.0.1) and client certificates on demand.
pub struct Pki {
    dir: PathBuf,
    issuer: Issuer<'static, KeyPair>,
    /// The CA certificate, PEM.
    pub ca_pem: String,
}

impl Pki {
    /// A new CA in `dir`, with `server.pem` / `server.key` issued for localhost.
    pub fn new(dir: &Path) -> Pki {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "accord test CA");
        let cert = params.self_signed(&key).expect("self-signed CA");
        let ca_pem = cert.pem();
        std::fs::write(dir.join("ca.pem"), &ca_pem).expect("write ca.pem");
        let pki = Pki {
            dir: dir.to_path_buf(),
            issuer: Issuer::new(params, key),
            ca_pem,
        };
        let (cert, key) = pki.issue("localhost", &["localhost", "127.0.0.1"]);
        std::fs::write(dir.join("server.pem"), cert).expect("write server.pem");
        std::fs::write(dir.join("server.key"), key).expect("write server.key");
        pki
    }

    /// A certificate and key (PEM) for `common_name`, valid for `names`, signed by this CA.
    pub fn issue(&self, common_name: &str, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().expect("key");
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        (cert.pem(), key.serialize_pem())
    }

    /// A client certificate whose subject's common name is `common_name` ("operator", "DEU").
    pub fn client(&self, common_name: &str) -> tonic::transport::Identity {
        let (cert, key) = self.issue(common_name, &[]);
        tonic::transport::Identity::from_pem(cert, key)
    }

    /// The CA certificate file.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The server certificate file.
    pub fn server_cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }

    /// The server key file.
    pub fn server_key(&self) -> PathBuf {
        self.dir.join("server.key")
    }
}
