//! `--tls`: a throwaway certificate authority and a server certificate it signs, made at
//! start-up. A CA (rather than one self-signed leaf) is what strict verifiers — rustls,
//! Python ≥ 3.13 with `VERIFY_X509_STRICT` — accept: the CA has critical basicConstraints
//! CA:TRUE, keyCertSign and a subject key id; the leaf has the SANs (`localhost`,
//! `127.0.0.1`, each `--tls-name`) and an authority key id.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use time::{Duration as TimeDuration, OffsetDateTime};

/// The PEM material of one run.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    /// The CA certificate clients should trust (`--cert-out`).
    pub ca_pem: String,
    /// The server certificate followed by the CA (the chain the server presents).
    pub chain_pem: String,
    /// The server's private key (PKCS#8).
    pub key_pem: String,
}

fn rcgen_err(e: rcgen::Error) -> std::io::Error {
    std::io::Error::other(format!("certificate generation failed: {e}"))
}

/// Generates the CA and the server certificate for `extra_names` besides localhost/127.0.0.1.
pub fn generate(extra_names: &[String]) -> std::io::Result<TlsMaterial> {
    let now = OffsetDateTime::now_utc();
    let validity = |p: &mut CertificateParams| {
        // Backdated a day so that small clock differences do not matter.
        p.not_before = now - TimeDuration::days(1);
        p.not_after = now + TimeDuration::days(365);
    };

    let ca_key = KeyPair::generate().map_err(rcgen_err)?;
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "portal-sim test CA");
    dn.push(DnType::OrganizationName, "bulk-groups portal-sim");
    ca.distinguished_name = dn;
    validity(&mut ca);
    let ca_cert = ca.self_signed(&ca_key).map_err(rcgen_err)?;
    let issuer = Issuer::new(ca, ca_key);

    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    for n in extra_names {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    let mut leaf = CertificateParams::new(names).map_err(rcgen_err)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "localhost");
    leaf.distinguished_name = dn;
    leaf.use_authority_key_identifier_extension = true;
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    validity(&mut leaf);
    let leaf_key = KeyPair::generate().map_err(rcgen_err)?;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(rcgen_err)?;

    Ok(TlsMaterial {
        ca_pem: ca_cert.pem(),
        chain_pem: format!("{}{}", leaf_cert.pem(), ca_cert.pem()),
        key_pem: leaf_key.serialize_pem(),
    })
}
