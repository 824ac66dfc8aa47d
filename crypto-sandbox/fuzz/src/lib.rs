//! What the `vault_decode` fuzz target and `make_seeds` share: the fixed key
//! the seed store files are sealed with (so that the target also reaches the
//! decoder through the AEAD), and sample contents.
//!
//! The target's input has no header of its own: the same bytes are read as a
//! whole store file and as a decrypted body (contents version ‖ bincode).

use crypto_sandbox::vault::contents::{AccountRecord, BookmarkRecord, FingerprintRecord, KeptImportRecord, OtrKeyRecord, PeerPolicyRecord, TrustRecord};
use crypto_sandbox::vault::{Contents, Key};
use zeroize::Zeroizing;

/// The key of the seed store files. Never a real key: fuzzing only.
pub fn fixed_key() -> Key {
    Zeroizing::new([0x5a; 32])
}

/// Contents with one of everything (`n` varies the sizes).
pub fn sample_contents(n: usize) -> Contents {
    let mut contents = Contents::default();
    for i in 0..n {
        let jid = format!("user{i}@example.org");
        contents.accounts.push(AccountRecord {
            jid: jid.clone(),
            password: format!("password {i}"),
            server: if i % 2 == 0 { Some(("xmpp.example.org".into(), 5222)) } else { None },
            onion: None,
            transport: "starttls".into(),
            tor: "auto".into(),
            spki_pin: Some("sha256/AAAA".into()),
            extra_anchors_pem: if i % 2 == 1 { Some(b"-----BEGIN CERTIFICATE-----\n".to_vec()) } else { None },
            otr_policy: "require".into(),
            otr_allow_v2: i % 2 == 0,
            allow_plain: false,
        });
        contents.otr_keys.push(OtrKeyRecord { account: jid.clone(), p: vec![0xc3; 16], q: vec![0x9a; 4], g: vec![2], y: vec![0x5e; 16], x: vec![0x11; 4], instance_tag: 0x100 + i as u32 });
        for (k, trust) in [TrustRecord::Unverified, TrustRecord::VerifiedBySmp, TrustRecord::VerifiedByHand].into_iter().enumerate() {
            contents.fingerprints.push(FingerprintRecord { account: jid.clone(), peer: format!("peer{k}@example.net"), fingerprint: [k as u8; 20], trust });
        }
        contents.peer_policies.push(PeerPolicyRecord { account: jid.clone(), peer: "peer0@example.net".into(), policy: "manual".into(), allow_v2: false });
        contents.bookmarks.push(BookmarkRecord { account: jid, room: "room@conference.example.org".into(), nick: Some("me".into()), autojoin: true });
        contents.preferences.push((format!("pref{i}"), "value".into()));
        let waiting = format!("waiting{i}@example.org");
        contents.kept_imports.push(KeptImportRecord {
            jid: waiting.clone(),
            source: "adium".into(),
            otr_key: Some(OtrKeyRecord { account: waiting.clone(), p: vec![0xc5; 16], q: vec![0x9b; 4], g: vec![2], y: vec![0x5f; 16], x: vec![0x12; 4], instance_tag: 0 }),
            fingerprints: vec![FingerprintRecord { account: waiting.clone(), peer: "peer0@example.net".into(), fingerprint: [9; 20], trust: TrustRecord::VerifiedByHand }],
            peer_policies: vec![PeerPolicyRecord { account: waiting, peer: "peer0@example.net".into(), policy: "require".into(), allow_v2: true }],
            otr_policy: Some("manual".into()),
            bookmarks: vec![BookmarkRecord { account: "waiting@example.org".into(), room: "desk@conference.example.org".into(), nick: None, autojoin: false }],
        });
    }
    contents
}
