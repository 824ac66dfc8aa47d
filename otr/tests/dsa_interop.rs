//! Our DSA signatures against python-potr's (Debian's python3-potr), which
//! signs the full integer of the 32-byte value like libotr.
//!
//! Debian's python3-potr 1.0.2 runs on pycryptodome, where the
//! `DsaKey.sign(data, K)` that potr's `DSAKey.sign` calls raises
//! NotImplementedError; potr was written for pycrypto, whose `sign(M, K)`
//! signed bytes_to_long(M). The helper script therefore uses potr for the
//! key (parsing our PUBKEY, its fingerprint) and pycryptodome's raw
//! `_sign(int(M), K)` / `_verify(int(M), (r, s))` for exactly what potr's
//! sign and verify did.

use std::io::Write;
use std::process::{Command, Stdio};

use otr::dsa::{PrivateKey, PublicKey};
use otr::encoding::Reader;
use otr::rng::SeededRng;

const SCRIPT: &str = r#"
import sys
from potr.compatcrypto import DSAKey
from potr.utils import bytes_to_long, long_to_bytes
from Cryptodome.Random.random import randrange

pubkey = bytes.fromhex(sys.stdin.readline().strip())
x = int(sys.stdin.readline().strip(), 16)
m = bytes.fromhex(sys.stdin.readline().strip())
our_sig = bytes.fromhex(sys.stdin.readline().strip())

public, rest = DSAKey.parsePublicKey(pubkey)
assert rest == b"", "trailing bytes after the PUBKEY"
p, q, g, y = public.getPublicPayload()
private = DSAKey((y, g, p, q, x), private=True)

r, s = bytes_to_long(our_sig[:20]), bytes_to_long(our_sig[20:])
print("verify-ours", "ok" if public.pub._verify(bytes_to_long(m), (r, s)) else "bad")
flipped = bytes([m[0] ^ 1]) + m[1:]
print("verify-ours-wrong-m", "ok" if public.pub._verify(bytes_to_long(flipped), (r, s)) else "bad")
K = randrange(2, q)
r, s = private.priv._sign(bytes_to_long(m), K)
print("potr-sig", (long_to_bytes(r, 20) + long_to_bytes(s, 20)).hex())
print("fingerprint", public.fingerprint().hex())
print("pubkey", private.serializePublicKey().hex())
"#;

/// The python3 that has potr: Debian's, which a pyenv or venv `python3` on
/// PATH may hide.
fn python_with_potr() -> String {
    for candidate in ["python3", "/usr/bin/python3"] {
        let works = Command::new(candidate)
            .args(["-c", "import potr, Cryptodome"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if works {
            return candidate.to_owned();
        }
    }
    panic!("no python3 can import potr; install python3-potr (Debian) to run this interop test");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|index| u8::from_str_radix(&text[index..index + 2], 16).unwrap()).collect()
}

#[test]
fn signatures_cross_with_potr() {
    let python = python_with_potr();
    let mut rng = SeededRng::new(b"dsa_interop");
    let key = PrivateKey::generate(&mut rng).unwrap();
    let public = key.public_key();
    // M_A-like values: one whose integer is far above q (the trap), one
    // below it.
    for m in [[0xffu8; 32], {
        let mut low = [0x5au8; 32];
        low[..12].fill(0);
        low
    }] {
        let our_signature = key.sign(&mut rng, &m);
        let mut child = Command::new(&python)
            .args(["-c", SCRIPT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let input = format!("{}\n{}\n{}\n{}\n", hex(&public.encode()), hex(&key.x_bytes()), hex(&m), hex(&our_signature));
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "potr helper failed: {}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8(output.stdout).unwrap();
        let field = |name: &str| {
            stdout
                .lines()
                .find_map(|line| line.strip_prefix(name).map(|rest| rest.trim().to_owned()))
                .unwrap_or_else(|| panic!("no {name} in {stdout}"))
        };
        assert_eq!(field("verify-ours "), "ok", "potr rejects our signature");
        assert_eq!(field("verify-ours-wrong-m"), "bad");
        assert_eq!(field("fingerprint"), hex(&public.fingerprint()));
        let potr_signature = unhex(&field("potr-sig"));
        assert!(public.verify(&m, &potr_signature), "we reject potr's signature");
        let mut other = m;
        other[0] ^= 1;
        assert!(!public.verify(&other, &potr_signature));
        // And potr's PUBKEY encoding of the key is ours, byte for byte.
        let potr_pubkey = unhex(&field("pubkey"));
        assert_eq!(potr_pubkey, public.encode());
        let mut reader = Reader::new(&potr_pubkey);
        assert_eq!(&PublicKey::decode(&mut reader).unwrap(), public);
        reader.finish().unwrap();
    }
}
