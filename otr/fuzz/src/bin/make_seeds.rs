//! Writes the seed corpus for the `otr_message` fuzz target: a valid message of every type
//! in both versions, in binary and in text form, fragmented, and the unencoded messages
//! (query, whitespace tag, error) and TLV plaintexts, each behind the two header bytes of
//! src/lib.rs. Rerun after changing the input layout:
//!
//!     cd otr/fuzz && cargo run --bin make_seeds
//!
//! (stable is fine; the fuzz target itself needs nightly).

use std::fs;
use std::path::Path;

use otr::fragment::fragment;
use otr::message::{self, Body, DataMessage, Message, Version, Versions, IGNORE_UNREADABLE};
use otr::tlv::{self, Tlv};
use otr_fuzz::{encode, TIGHT_LIMITS};

const SENDER: u32 = 0x5a73_a599;
const RECEIVER: u32 = 0x27e3_1597;

fn bodies() -> [(&'static str, Body); 5] {
    [
        ("dh_commit", Body::DhCommit { encrypted_gx: vec![0xc7; 196], hashed_gx: [0x68; 32] }),
        ("dh_key", Body::DhKey { gy: vec![0xd5; 192] }),
        (
            "reveal_signature",
            Body::RevealSignature { revealed_key: [0x72; 16], encrypted_signature: vec![0x53; 474], mac: [0x4d; 20] },
        ),
        ("signature", Body::Signature { encrypted_signature: vec![0x53; 474], mac: [0x4d; 20] }),
        (
            "data",
            Body::Data(DataMessage {
                flags: IGNORE_UNREADABLE,
                sender_keyid: 1,
                recipient_keyid: 2,
                next_dh: vec![0xd5; 192],
                ctr: [0, 0, 0, 0, 0, 0, 0, 1],
                encrypted_message: b"hello there".to_vec(),
                mac: [0x4d; 20],
                old_mac_keys: vec![0x6b; 40],
            }),
        ),
    ]
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/otr_message");
    fs::create_dir_all(&dir).expect("create seeds/otr_message");
    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();

    for version in [Version::V2, Version::V3] {
        let v = version.wire();
        let receiver = if version == Version::V3 { RECEIVER } else { 0 };
        for (name, body) in bodies() {
            let bytes = message::encode(&Message::new(version, SENDER, receiver, body));
            let text = message::to_text(&bytes);
            seeds.push((format!("v{v}_{name}_binary"), encode(0x40, 0, &bytes)));
            seeds.push((format!("v{v}_{name}_text"), encode(0x40, 0, text.as_bytes())));
            let fragments = fragment(&text, 120, version, SENDER, receiver).expect("fragments");
            seeds.push((format!("v{v}_{name}_fragmented"), encode(120 - 18, 0, fragments.join("\n").as_bytes())));
        }
    }
    let dh_key = message::to_text(&message::encode(&Message::new(
        Version::V3,
        SENDER,
        RECEIVER,
        Body::DhKey { gy: vec![0xd5; 192] },
    )));
    let mut shuffled = fragment(&dh_key, 60, Version::V3, SENDER, RECEIVER).expect("fragments");
    shuffled.swap(1, 2);
    seeds.push(("v3_fragments_out_of_order".into(), encode(60 - 18, TIGHT_LIMITS, shuffled.join("\n").as_bytes())));

    let query = message::query_message(Versions::BOTH, "alice@example.org");
    seeds.push(("query".into(), encode(0, 0, query.as_bytes())));
    seeds.push(("query_v1_v2".into(), encode(0, 0, b"?OTR?v2? hi")));
    let tagged = format!("Hello{} there", message::whitespace_tag(Versions::BOTH));
    seeds.push(("whitespace_tagged".into(), encode(0, 0, tagged.as_bytes())));
    let error = message::error_message("You sent an unreadable message.");
    seeds.push(("error".into(), encode(0, 0, error.as_bytes())));
    seeds.push(("plaintext".into(), encode(8, 0, "Bonjour, ça va ?".as_bytes())));

    let smp_question = Tlv::new(tlv::SMP_1_QUESTION, b"colour?\0\0\0\0\x06\0\0\0\x01\x02".to_vec());
    let payload = tlv::encode_payload(b"hi", &[Tlv::new(tlv::PADDING, vec![0; 7]), smp_question])
        .expect("payload");
    seeds.push(("payload_tlvs".into(), encode(0, 0, &payload)));
    let disconnect = tlv::encode_payload(b"", &[Tlv::new(tlv::DISCONNECTED, vec![])]).expect("payload");
    seeds.push(("payload_disconnect".into(), encode(0, 0, &disconnect)));

    for (name, seed) in &seeds {
        fs::write(dir.join(name), seed).expect("write seed");
    }
    println!("wrote {} seeds to {}", seeds.len(), dir.display());
}
