//! A per-run test PKI: one CA (what Burrow is given with `ca=PEM_PATH`) and leaf
//! certificates for the test servers' names, written as PEM files.
//!
//! `Pki::shared()` is the one CA of this test process; every server helper
//! (`servers::prosody`, `servers::ejabberd`, `fake_server`) uses it, so one
//! `ca_pem_path()` trusts them all. Leaves are ECDSA P-256 unless asked for RSA.
//! Besides good leaves there are the bad ones tests need: a leaf signed by a CA
//! nobody trusts, a self-signed one and an expired one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// Which kind of leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LeafKind {
    /// ECDSA P-256, signed by the trusted CA, valid now.
    Ecdsa,
    /// RSA 2048 (key made by the `openssl` CLI: ring cannot generate RSA keys), signed by the trusted CA.
    Rsa,
    /// Signed by the trusted CA, but expired yesterday.
    Expired,
    /// Signed by a second CA that is not in `ca_pem_path()`.
    Untrusted,
    /// Self-signed.
    SelfSigned,
}

/// A leaf certificate and its key, in memory and on disk.
#[derive(Clone, Debug)]
pub struct Leaf {
    pub names: Vec<String>,
    pub kind: LeafKind,
    /// The leaf certificate alone (PEM).
    pub cert_pem_path: PathBuf,
    /// The private key (PKCS#8 PEM).
    pub key_pem_path: PathBuf,
    /// Leaf then issuing CA (PEM).
    pub chain_pem_path: PathBuf,
    /// Leaf certificate then key in one file (what ejabberd's `certfiles` wants).
    pub combined_pem_path: PathBuf,
    pub cert_der: CertificateDer<'static>,
    /// DER of the issuing CA certificate (the leaf itself when self-signed).
    pub issuer_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl Leaf {
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    /// A rustls server configuration presenting this leaf (and its issuer).
    pub fn rustls_server_config(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut chain = vec![self.cert_der.clone()];
        if self.kind != LeafKind::SelfSigned {
            chain.push(self.issuer_der.clone());
        }
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("rustls protocol versions")
            .with_no_client_auth()
            .with_single_cert(chain, self.key_der())
            .expect("rustls server certificate");
        Arc::new(config)
    }
}

/// A test CA that writes its files into one directory.
pub struct Pki {
    dir: PathBuf,
    ca_pem_path: PathBuf,
    ca_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    untrusted: OnceLock<(Issuer<'static, KeyPair>, CertificateDer<'static>)>,
    leaves: Mutex<LeafCache>,
}

type LeafCache = HashMap<(LeafKind, Vec<String>), Arc<Leaf>>;

impl Pki {
    /// The CA of this test process, in `servers::run_dir()/pki`.
    pub fn shared() -> &'static Pki {
        static SHARED: OnceLock<Pki> = OnceLock::new();
        SHARED.get_or_init(|| Pki::new(&crate::servers::run_dir().join("pki")))
    }

    /// A new CA writing into `dir` (created if missing).
    pub fn new(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).expect("pki dir");
        let (issuer, ca_der) = make_ca("Burrow Test CA");
        let ca_pem_path = dir.join("ca.pem");
        std::fs::write(&ca_pem_path, pem("CERTIFICATE", &ca_der)).expect("write ca.pem");
        Pki {
            dir: dir.to_path_buf(),
            ca_pem_path,
            ca_der,
            issuer,
            untrusted: OnceLock::new(),
            leaves: Mutex::new(HashMap::new()),
        }
    }

    /// The CA certificate (PEM): what Burrow gets as `ca=PEM_PATH`.
    pub fn ca_pem_path(&self) -> &Path {
        &self.ca_pem_path
    }

    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.ca_der.clone()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// An ECDSA P-256 leaf for `names` (DNS names), signed by the CA. The same
    /// names give the same leaf within one `Pki`.
    pub fn leaf(&self, names: &[&str]) -> Arc<Leaf> {
        self.leaf_of_kind(LeafKind::Ecdsa, names)
    }

    /// An RSA 2048 leaf for `names`, signed by the CA.
    pub fn leaf_rsa(&self, names: &[&str]) -> Arc<Leaf> {
        self.leaf_of_kind(LeafKind::Rsa, names)
    }

    pub fn leaf_of_kind(&self, kind: LeafKind, names: &[&str]) -> Arc<Leaf> {
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        assert!(!names.is_empty(), "a leaf needs at least one name");
        let mut leaves = self.leaves.lock().unwrap_or_else(|poison| poison.into_inner());
        if let Some(leaf) = leaves.get(&(kind, names.clone())) {
            return leaf.clone();
        }
        let leaf = Arc::new(self.make_leaf(kind, &names));
        leaves.insert((kind, names), leaf.clone());
        leaf
    }

    fn make_leaf(&self, kind: LeafKind, names: &[String]) -> Leaf {
        let key = match kind {
            LeafKind::Rsa => rsa_key(&self.dir),
            _ => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 key"),
        };
        let mut params = CertificateParams::new(names.to_vec()).expect("leaf names");
        params.distinguished_name.push(DnType::CommonName, names[0].clone());
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        match kind {
            LeafKind::Expired => set_validity(&mut params, -30, -1),
            _ => set_validity(&mut params, -1, 30),
        }
        let (cert_der, issuer_der) = match kind {
            LeafKind::SelfSigned => {
                params.use_authority_key_identifier_extension = false;
                let cert = params.self_signed(&key).expect("self-signed leaf");
                (cert.der().clone(), cert.der().clone())
            }
            LeafKind::Untrusted => {
                let (issuer, der) = self.untrusted.get_or_init(|| make_ca("Burrow Untrusted CA"));
                (params.signed_by(&key, issuer).expect("untrusted leaf").der().clone(), der.clone())
            }
            _ => (params.signed_by(&key, &self.issuer).expect("leaf").der().clone(), self.ca_der.clone()),
        };
        let stem = format!("{}-{}", names[0], format!("{kind:?}").to_lowercase());
        let cert_pem = pem("CERTIFICATE", &cert_der);
        let key_pem = key.serialize_pem();
        let cert_pem_path = self.dir.join(format!("{stem}.crt"));
        let key_pem_path = self.dir.join(format!("{stem}.key"));
        let chain_pem_path = self.dir.join(format!("{stem}.chain.pem"));
        let combined_pem_path = self.dir.join(format!("{stem}.combined.pem"));
        std::fs::write(&cert_pem_path, &cert_pem).expect("write leaf");
        std::fs::write(&key_pem_path, &key_pem).expect("write key");
        std::fs::write(&chain_pem_path, format!("{cert_pem}{}", pem("CERTIFICATE", &issuer_der))).expect("write chain");
        std::fs::write(&combined_pem_path, format!("{cert_pem}{key_pem}")).expect("write combined");
        Leaf {
            names: names.to_vec(),
            kind,
            cert_pem_path,
            key_pem_path,
            chain_pem_path,
            combined_pem_path,
            cert_der,
            issuer_der,
            key_der: key.serialize_der(),
        }
    }
}

fn make_ca(name: &str) -> (Issuer<'static, KeyPair>, CertificateDer<'static>) {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("CA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params.distinguished_name.push(DnType::OrganizationName, "Burrow tests");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    set_validity(&mut params, -1, 60);
    let cert = params.self_signed(&key).expect("CA certificate");
    (Issuer::new(params, key), cert.der().clone())
}

fn rsa_key(dir: &Path) -> KeyPair {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let path = dir.join(format!("rsa-{n}.tmp.key"));
    let output = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
        .arg(&path)
        .output()
        .expect("run openssl genpkey (apt-get install openssl)");
    assert!(output.status.success(), "openssl genpkey failed: {}", String::from_utf8_lossy(&output.stderr));
    let pem = std::fs::read_to_string(&path).expect("read RSA key");
    let _ = std::fs::remove_file(&path);
    KeyPair::from_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).expect("load RSA key")
}

/// PEM armour for one DER object.
pub fn pem(label: &str, der: &[u8]) -> String {
    let encoded = crate::proxy::base64(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Valid from today + `from` days to today + `to` days (UTC midnights).
fn set_validity(params: &mut CertificateParams, from: i64, to: i64) {
    let today = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() as i64 / 86_400;
    let (year, month, day) = civil_from_days(today + from);
    params.not_before = rcgen::date_time_ymd(year, month, day);
    let (year, month, day) = civil_from_days(today + to);
    params.not_after = rcgen::date_time_ymd(year, month, day);
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    ((if m <= 2 { y + 1 } else { y }) as i32, m as u8, d as u8)
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(super::civil_from_days(20_513), (2026, 3, 1));
    }
}
