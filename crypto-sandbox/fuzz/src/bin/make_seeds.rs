//! Writes the seed corpus for the `vault_decode` fuzz target: store files sealed with
//! the fixed key of src/lib.rs (empty, small and larger contents; with and without
//! passphrase flag), the same contents as plaintext bodies, and a few broken files.
//! Rerun after changing the format:
//!
//!     cd crypto-sandbox/fuzz && cargo run --bin make_seeds
//!
//! (stable is fine; the fuzz target itself needs nightly).

use std::fs;
use std::path::Path;

use crypto_sandbox::vault::format::{self, Header, NONCE_LEN, SALT_LEN};
use crypto_sandbox::vault::{Contents, KdfParams};
use crypto_sandbox_fuzz::{fixed_key, sample_contents};

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/vault_decode");
    fs::create_dir_all(&dir).expect("create seeds/vault_decode");
    let key = fixed_key();
    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, contents) in [("empty", Contents::default()), ("one", sample_contents(1)), ("three", sample_contents(3))] {
        for no_passphrase in [false, true] {
            let header = Header {
                no_passphrase,
                kdf: if no_passphrase { KdfParams::no_passphrase() } else { KdfParams::for_tests() },
                salt: [0x11; SALT_LEN],
                nonce: [0x22; NONCE_LEN],
                body_len: 0,
            };
            let file = format::seal(&key, header, &contents).expect("seal");
            let suffix = if no_passphrase { "_nopass" } else { "" };
            seeds.push((format!("file_{name}{suffix}"), file));
        }
        let plaintext = format::encode_plaintext(&contents).expect("encode");
        seeds.push((format!("plaintext_{name}"), plaintext.to_vec()));
        seeds.push((format!("bincode_{name}"), plaintext[2..].to_vec()));
    }
    let good = seeds[0].1.clone();
    seeds.push(("file_truncated".into(), good[..40].to_vec()));
    let mut absurd = good.clone();
    absurd[17..21].copy_from_slice(&u32::MAX.to_be_bytes());
    seeds.push(("file_absurd_memory".into(), absurd));
    let mut version = good.clone();
    version[14] = 2;
    seeds.push(("file_version_2".into(), version));
    seeds.push(("plaintext_version_2".into(), vec![0, 2, 0, 0, 0, 0, 0, 0]));

    for (name, seed) in &seeds {
        fs::write(dir.join(name), seed).expect("write seed");
    }
    println!("wrote {} seeds to {}", seeds.len(), dir.display());
}
