//! The message layer of the spec: "Unencoded messages" (query, whitespace
//! tag, error) and "Encoded messages" (the binary AKE and data messages, in
//! "?OTR:" base-64), read from and written to the text an IM network carries.
//!
//! Text is classified as libotr classifies it, since that is what every peer
//! is tested against: fragments first, then the first "?OTR" in the text
//! decides, then the whitespace tag.

use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};
use base64::Engine;
use thiserror::Error;

use crate::encoding::{DecodeError, Reader, Writer, MAX_MPI_BYTES};
use crate::fragment::{self, FragmentError, Piece};
use crate::instance_tag::InstanceTag;

/// The protocol versions spoken. Version 1 is never accepted: it is parsed
/// where peers announce it, and reported as not offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V2,
    V3,
}

impl Version {
    pub fn wire(self) -> u16 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    pub fn from_wire(value: u16) -> Option<Version> {
        match value {
            2 => Some(Version::V2),
            3 => Some(Version::V3),
            _ => None,
        }
    }
}

/// The versions a query message or whitespace tag offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Versions {
    pub v2: bool,
    pub v3: bool,
}

impl Versions {
    pub const BOTH: Versions = Versions { v2: true, v3: true };

    pub fn offers(self, version: Version) -> bool {
        match version {
            Version::V2 => self.v2,
            Version::V3 => self.v3,
        }
    }

    /// The highest version offered.
    pub fn best(self) -> Option<Version> {
        [Version::V3, Version::V2].into_iter().find(|&version| self.offers(version))
    }
}

/// What a received text is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classified {
    Query(Versions),
    /// The text after "?OTR Error:", trimmed.
    Error(String),
    Fragment(Piece),
    /// The binary form of an encoded message, for [`decode`].
    Encoded(Vec<u8>),
    /// Not OTR. `tag` is the whitespace tag's versions, if the text had one;
    /// the tag has been removed from `text`.
    Plaintext {
        text: String,
        tag: Option<Versions>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageError {
    #[error("the text holds \"?OTR\" but is no OTR message this client knows")]
    Unrecognised,
    #[error("the encoded message has no closing '.'")]
    Unterminated,
    #[error("the encoded message is not valid base-64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error(transparent)]
    Fragment(#[from] FragmentError),
    #[error("protocol version {0} is not supported (only 2 and 3 are)")]
    UnsupportedVersion(u16),
    #[error("message type {0:#04x} is not an OTR message type")]
    UnknownType(u8),
    #[error("the sender instance tag {0:#x} is reserved (valid tags start at 0x100)")]
    ReservedSenderTag(u32),
    #[error("the receiver instance tag {0:#x} is reserved (it must be 0 or at least 0x100)")]
    ReservedReceiverTag(u32),
    #[error("the receiver instance tag is 0 (unknown), which only a D-H Commit may send")]
    UnknownReceiver,
    #[error("the {field} is {actual} bytes long; it must be {expected}")]
    WrongLength { field: &'static str, expected: usize, actual: usize },
    #[error("the {field} is {actual} bytes long; at most {limit} are accepted")]
    TooLong { field: &'static str, limit: usize, actual: usize },
    #[error("the {0} is 0; key ids start at 1")]
    ZeroKeyId(&'static str),
    #[error("the message is not a data message")]
    NotData,
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// The whitespace tag: always these 16 bytes, then one 8-byte tag per version.
pub const TAG_BASE: &str = " \t  \t\t\t\t \t \t \t  ";
pub const TAG_V1: &str = " \t \t  \t ";
pub const TAG_V2: &str = "  \t\t  \t ";
pub const TAG_V3: &str = "  \t\t  \t\t";

const QUERY_MARKER: &str = "?OTR";
const ENCODED_PREFIX: &str = "?OTR:";
const ERROR_PREFIX: &str = "?OTR Error:";

/// Says what a received text is. Fragments are looked for first ("?OTR|"
/// before "?OTR,"), anywhere in the text; otherwise, as in libotr, only the
/// first "?OTR" in the text counts, and a text with none is plaintext,
/// whitespace-tagged or not. A text whose first "?OTR" starts no known form
/// is an error: libotr drops such a message with a warning.
pub fn classify(text: &str) -> Result<Classified, MessageError> {
    if is_fragment(text) {
        return Ok(Classified::Fragment(Piece::parse(text)?));
    }
    let Some((_, after)) = text.split_once(QUERY_MARKER) else {
        return Ok(plaintext(text));
    };
    if after.starts_with('?') || after.starts_with('v') {
        return Ok(Classified::Query(query_versions(after)));
    }
    if let Some(encoded) = after.strip_prefix(':') {
        let (base64, _after_end) = encoded.split_once('.').ok_or(MessageError::Unterminated)?;
        return Ok(Classified::Encoded(decode_base64(base64)?));
    }
    if let Some(error) = after.strip_prefix(&ERROR_PREFIX[QUERY_MARKER.len()..]) {
        return Ok(Classified::Error(error.trim().to_owned()));
    }
    Err(MessageError::Unrecognised)
}

/// Whether `text` holds a fragment marker ("?OTR|" or "?OTR,") anywhere, as
/// libotr's strstr looks: one memchr scan for '?' (base-64 has none, so an
/// encoded message has one, at its start) rather than a substring search
/// per marker.
fn is_fragment(text: &str) -> bool {
    let mut from = 0;
    while let Some(found) = text[from..].find('?') {
        let rest = &text[from + found..];
        if rest.starts_with(fragment::V3_MARKER) || rest.starts_with(fragment::V2_MARKER) {
            return true;
        }
        // '?' is one byte, so the next one starts a character.
        from += found + 1;
    }
    false
}

/// The versions after "?OTR", read as libotr reads them: a '?' offers
/// version 1; a 'v' starts a list of version characters running to the next
/// '?' (or the end). Unknown version characters are skipped.
fn query_versions(after_marker: &str) -> Versions {
    let rest = after_marker.strip_prefix('?').unwrap_or(after_marker);
    let mut versions = Versions::default();
    if let Some(list) = rest.strip_prefix('v') {
        for character in list.chars().take_while(|&character| character != '?') {
            versions.v2 |= character == '2';
            versions.v3 |= character == '3';
        }
    }
    versions
}

/// Lines of base-64 are sometimes wrapped by the sender's client (the spec's
/// own example is), so whitespace inside is skipped; anything else that is
/// not base-64 is an error. Padding may be left off.
fn decode_base64(text: &str) -> Result<Vec<u8>, MessageError> {
    // Whitespace is not base-64, so a text that decodes as it is has none:
    // the usual case, decoded without a filtered copy.
    if let Ok(bytes) = STANDARD_PAD_INDIFFERENT.decode(text) {
        return Ok(bytes);
    }
    let compact: Vec<u8> = text.bytes().filter(|byte| !byte.is_ascii_whitespace()).collect();
    Ok(STANDARD_PAD_INDIFFERENT.decode(compact)?)
}

/// Finds the first whitespace tag and takes it out, as libotr does: after the
/// base, every following group of 8 spaces and tabs belongs to the tag,
/// whether or not it names a known version.
fn plaintext(text: &str) -> Classified {
    let Some((before, mut after)) = text.split_once(TAG_BASE) else {
        return Classified::Plaintext { text: text.to_owned(), tag: None };
    };
    let mut versions = Versions::default();
    while let Some((group, rest)) = after.split_at_checked(TAG_V1.len()) {
        if !group.bytes().all(|byte| byte == b' ' || byte == b'\t') {
            break;
        }
        versions.v2 |= group == TAG_V2;
        versions.v3 |= group == TAG_V3;
        after = rest;
    }
    Classified::Plaintext { text: format!("{before}{after}"), tag: Some(versions) }
}

/// libotr's default query message, with its link replaced by plain words:
/// Burrow sends no clickable links. The version string is built as the spec
/// says ("?OTRv23?" for both), and the account name is escaped, as it sits
/// inside markup.
pub fn query_message(versions: Versions, account_name: &str) -> String {
    let mut version_string = String::from("v");
    if versions.v2 {
        version_string.push('2');
    }
    if versions.v3 {
        version_string.push('3');
    }
    format!(
        "{QUERY_MARKER}{version_string}?\n<b>{}</b> has requested an Off-the-Record private conversation.  \
         However, you do not have a plugin to support that.\nSee the OTR website for more information.",
        escape_markup(account_name)
    )
}

fn escape_markup(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The whitespace tag offering `versions`, or nothing if it offers none (a
/// tag must name at least one version).
pub fn whitespace_tag(versions: Versions) -> String {
    if !versions.v2 && !versions.v3 {
        return String::new();
    }
    let mut tag = String::from(TAG_BASE);
    if versions.v2 {
        tag.push_str(TAG_V2);
    }
    if versions.v3 {
        tag.push_str(TAG_V3);
    }
    tag
}

pub fn error_message(text: &str) -> String {
    format!("{ERROR_PREFIX} {text}")
}

/// The text form of an encoded message.
pub fn to_text(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(ENCODED_PREFIX.len() + bytes.len().div_ceil(3) * 4 + 1);
    text.push_str(ENCODED_PREFIX);
    STANDARD.encode_string(bytes, &mut text);
    text.push('.');
    text
}

/// Message types.
pub const DH_COMMIT: u8 = 0x02;
pub const DATA: u8 = 0x03;
pub const DH_KEY: u8 = 0x0a;
pub const REVEAL_SIGNATURE: u8 = 0x11;
pub const SIGNATURE: u8 = 0x12;

/// The only data-message flag: a peer that cannot read the message should
/// ignore it silently (heartbeats and TLV-only messages carry it).
pub const IGNORE_UNREADABLE: u8 = 0x01;

pub const HASHED_GX_BYTES: usize = 32;
/// r, an AES-128 key.
pub const REVEALED_KEY_BYTES: usize = 16;
pub const MAC_BYTES: usize = 20;
pub const CTR_BYTES: usize = 8;
/// The encrypted g^x is an encrypted MPI, so no longer than the longest MPI.
pub const MAX_ENCRYPTED_GX_BYTES: usize = 4 + MAX_MPI_BYTES;
/// The encrypted X is a public key (a type and four MPIs), a keyid and a
/// signature (two values as long as an MPI at most): under 6200 bytes with
/// every MPI at its longest.
pub const MAX_ENCRYPTED_SIGNATURE_BYTES: usize = 8192;

/// The fields every encoded message begins with. Version 2 has no instance
/// tags; `sender` and `receiver` are 0 then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: Version,
    /// The message type. [`encode`] writes the type of the body, whatever
    /// this says; [`Message::new`] keeps the two the same.
    pub kind: u8,
    pub sender: u32,
    pub receiver: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataMessage {
    pub flags: u8,
    pub sender_keyid: u32,
    pub recipient_keyid: u32,
    /// The sender's next DH public key, as a big-endian magnitude.
    pub next_dh: Vec<u8>,
    /// The top half of the counter.
    pub ctr: [u8; CTR_BYTES],
    pub encrypted_message: Vec<u8>,
    pub mac: [u8; MAC_BYTES],
    /// Concatenated 20-byte keys, kept as sent: nothing checks them, so a
    /// peer that got their length wrong still has its message read.
    pub old_mac_keys: Vec<u8>,
}

impl DataMessage {
    /// The bytes the MAC covers: everything from the protocol version to the
    /// end of the encrypted message's DATA field, as this message encodes.
    /// Use [`received_mac_input`] for a received message.
    pub fn mac_input(&self, header: &Header) -> Vec<u8> {
        let mut writer = Writer::new();
        write_header(&mut writer, header, DATA);
        self.write_authenticated(&mut writer);
        writer.into_bytes()
    }

    fn write_authenticated(&self, writer: &mut Writer) {
        writer
            .byte(self.flags)
            .int(self.sender_keyid)
            .int(self.recipient_keyid)
            .mpi(&self.next_dh)
            .raw(&self.ctr)
            .data(&self.encrypted_message);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    DhCommit {
        encrypted_gx: Vec<u8>,
        hashed_gx: [u8; HASHED_GX_BYTES],
    },
    DhKey {
        /// A big-endian magnitude.
        gy: Vec<u8>,
    },
    RevealSignature {
        revealed_key: [u8; REVEALED_KEY_BYTES],
        encrypted_signature: Vec<u8>,
        mac: [u8; MAC_BYTES],
    },
    Signature {
        encrypted_signature: Vec<u8>,
        mac: [u8; MAC_BYTES],
    },
    Data(DataMessage),
}

impl Body {
    /// The message type byte.
    pub fn kind(&self) -> u8 {
        match self {
            Body::DhCommit { .. } => DH_COMMIT,
            Body::DhKey { .. } => DH_KEY,
            Body::RevealSignature { .. } => REVEAL_SIGNATURE,
            Body::Signature { .. } => SIGNATURE,
            Body::Data(_) => DATA,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub body: Body,
}

impl Message {
    /// A message with the header's type taken from the body. For version 2
    /// the tags are dropped, as it has none.
    pub fn new(version: Version, sender: u32, receiver: u32, body: Body) -> Message {
        let (sender, receiver) = match version {
            Version::V3 => (sender, receiver),
            Version::V2 => (0, 0),
        };
        Message { header: Header { version, kind: body.kind(), sender, receiver }, body }
    }
}

/// Reads the binary form of an encoded message. Besides the layout, refuses
/// what the spec says to discard: reserved instance tags, a receiver tag of
/// 0 on anything but a D-H Commit, key ids of 0, and fixed-size fields of
/// another size.
pub fn decode(bytes: &[u8]) -> Result<Message, MessageError> {
    decode_marking_mac(bytes).map(|(message, _)| message)
}

/// The bytes the MAC of a received data message covers, as they arrived:
/// libotr MACs the received bytes, so a peer that padded its MPI (as old
/// potr did) is still verified as it computed.
pub fn received_mac_input(bytes: &[u8]) -> Result<&[u8], MessageError> {
    let (_, mac_end) = decode_marking_mac(bytes)?;
    mac_end.and_then(|end| bytes.get(..end)).ok_or(MessageError::NotData)
}

/// The message, and for a data message where its MAC'd bytes end: what
/// [`decode`] and [`received_mac_input`] give, from one parse.
pub(crate) fn decode_marking_mac(bytes: &[u8]) -> Result<(Message, Option<usize>), MessageError> {
    let mut reader = Reader::new(bytes);
    let header = read_header(&mut reader)?;
    let mut mac_end = None;
    let body = match header.kind {
        DH_COMMIT => Body::DhCommit {
            encrypted_gx: bounded(reader.data("encrypted g^x")?, "encrypted g^x", MAX_ENCRYPTED_GX_BYTES)?,
            hashed_gx: exact(reader.data("hashed g^x")?, "hashed g^x")?,
        },
        DH_KEY => Body::DhKey { gy: reader.mpi("g^y")?.to_vec() },
        REVEAL_SIGNATURE => Body::RevealSignature {
            revealed_key: exact(reader.data("revealed key")?, "revealed key")?,
            encrypted_signature: encrypted_signature(&mut reader)?,
            mac: reader.array("MAC'd signature")?,
        },
        SIGNATURE => Body::Signature {
            encrypted_signature: encrypted_signature(&mut reader)?,
            mac: reader.array("MAC'd signature")?,
        },
        DATA => {
            let flags = reader.byte("flags")?;
            let sender_keyid = keyid(reader.int("sender keyid")?, "sender keyid")?;
            let recipient_keyid = keyid(reader.int("recipient keyid")?, "recipient keyid")?;
            let next_dh = reader.mpi("next DH key")?.to_vec();
            let ctr = reader.array("counter")?;
            let encrypted_message = reader.data("encrypted message")?.to_vec();
            mac_end = Some(reader.consumed_from(bytes));
            let mac = reader.array("authenticator")?;
            let old_mac_keys = reader.data("old MAC keys")?.to_vec();
            Body::Data(DataMessage {
                flags,
                sender_keyid,
                recipient_keyid,
                next_dh,
                ctr,
                encrypted_message,
                mac,
                old_mac_keys,
            })
        }
        other => return Err(MessageError::UnknownType(other)),
    };
    reader.finish()?;
    Ok((Message { header, body }, mac_end))
}

fn read_header(reader: &mut Reader<'_>) -> Result<Header, MessageError> {
    let wire_version = reader.short("protocol version")?;
    let version = Version::from_wire(wire_version).ok_or(MessageError::UnsupportedVersion(wire_version))?;
    let kind = reader.byte("message type")?;
    let (sender, receiver) = match version {
        Version::V2 => (0, 0),
        Version::V3 => (reader.int("sender instance tag")?, reader.int("receiver instance tag")?),
    };
    if version == Version::V3 {
        check_tags(kind, sender, receiver)?;
    }
    Ok(Header { version, kind, sender, receiver })
}

fn check_tags(kind: u8, sender: u32, receiver: u32) -> Result<(), MessageError> {
    if InstanceTag::from_wire(sender).is_none() {
        return Err(MessageError::ReservedSenderTag(sender));
    }
    match receiver {
        0 if kind == DH_COMMIT => Ok(()),
        0 => Err(MessageError::UnknownReceiver),
        _ if InstanceTag::from_wire(receiver).is_none() => Err(MessageError::ReservedReceiverTag(receiver)),
        _ => Ok(()),
    }
}

fn encrypted_signature(reader: &mut Reader<'_>) -> Result<Vec<u8>, MessageError> {
    bounded(reader.data("encrypted signature")?, "encrypted signature", MAX_ENCRYPTED_SIGNATURE_BYTES)
}

fn bounded(bytes: &[u8], field: &'static str, limit: usize) -> Result<Vec<u8>, MessageError> {
    if bytes.len() > limit {
        return Err(MessageError::TooLong { field, limit, actual: bytes.len() });
    }
    Ok(bytes.to_vec())
}

fn exact<const N: usize>(bytes: &[u8], field: &'static str) -> Result<[u8; N], MessageError> {
    bytes.try_into().map_err(|_| MessageError::WrongLength { field, expected: N, actual: bytes.len() })
}

fn keyid(value: u32, field: &'static str) -> Result<u32, MessageError> {
    match value {
        0 => Err(MessageError::ZeroKeyId(field)),
        _ => Ok(value),
    }
}

fn write_header(writer: &mut Writer, header: &Header, kind: u8) {
    writer.short(header.version.wire()).byte(kind);
    if header.version == Version::V3 {
        writer.int(header.sender).int(header.receiver);
    }
}

/// The binary form of a message, for [`to_text`].
/// Header (3 + 8 bytes) and a data message's fixed fields, rounded up.
const ENCODED_OVERHEAD: usize = 64;

pub fn encode(message: &Message) -> Vec<u8> {
    let body_length = match &message.body {
        Body::DhCommit { encrypted_gx, .. } => encrypted_gx.len() + HASHED_GX_BYTES,
        Body::DhKey { gy } => gy.len(),
        Body::RevealSignature { encrypted_signature, .. } | Body::Signature { encrypted_signature, .. } => encrypted_signature.len() + REVEALED_KEY_BYTES + MAC_BYTES,
        Body::Data(data) => data.next_dh.len() + data.encrypted_message.len() + data.old_mac_keys.len() + MAC_BYTES,
    };
    let mut writer = Writer::with_capacity(ENCODED_OVERHEAD + body_length);
    write_header(&mut writer, &message.header, message.body.kind());
    match &message.body {
        Body::DhCommit { encrypted_gx, hashed_gx } => {
            writer.data(encrypted_gx).data(hashed_gx);
        }
        Body::DhKey { gy } => {
            writer.mpi(gy);
        }
        Body::RevealSignature { revealed_key, encrypted_signature, mac } => {
            writer.data(revealed_key).data(encrypted_signature).raw(mac);
        }
        Body::Signature { encrypted_signature, mac } => {
            writer.data(encrypted_signature).raw(mac);
        }
        Body::Data(data) => {
            data.write_authenticated(&mut writer);
            writer.raw(&data.mac).data(&data.old_mac_keys);
        }
    }
    writer.into_bytes()
}

/// Encodes a data message, its MAC being `authenticate` of the bytes the MAC
/// covers (the `mac` field is not read): [`DataMessage::mac_input`] and
/// [`encode`] in one pass, without building the covered bytes twice.
pub(crate) fn encode_data(header: &Header, data: &DataMessage, authenticate: impl FnOnce(&[u8]) -> [u8; MAC_BYTES]) -> Vec<u8> {
    let mut writer = Writer::with_capacity(ENCODED_OVERHEAD + data.next_dh.len() + data.encrypted_message.len() + data.old_mac_keys.len() + MAC_BYTES);
    write_header(&mut writer, header, DATA);
    data.write_authenticated(&mut writer);
    let mac = authenticate(writer.as_slice());
    writer.raw(&mac).data(&data.old_mac_keys);
    writer.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_markers_are_found_anywhere() {
        for (text, expected) in [
            ("?OTR|1|2,00001,00002,abc,", true),
            ("?OTR,00001,00002,abc,", true),
            ("hi ?OTR|", true),
            ("?? ?OTR ?OTR: ?OTR,", true),
            ("?OTR:AAMD.", false),
            ("?OTRv23?", false),
            ("?OTR", false),
            ("¿?OTR|é", true),
            ("é?", false),
            ("", false),
        ] {
            assert_eq!(is_fragment(text), expected, "{text:?}");
            assert_eq!(is_fragment(text), text.contains(fragment::V3_MARKER) || text.contains(fragment::V2_MARKER));
        }
    }

    const ALICE: u32 = 0x27e3_1599;
    const BOB: u32 = 0x27e3_1597;

    /// The data message of the spec's fragmentation example.
    const SPEC_DATA_MESSAGE: &str = "?OTR:AAMDJ+MVmSfjFZcAAAAAAQAAAAIAAADA1g5IjD1ZGLDVQEyCgCyn9hb
rL3KAbGDdzE2ZkMyTKl7XfkSxh8YJnudstiB74i4BzT0W2haClg6dMary/jo
9sMudwmUdlnKpIGEKXWdvJKT+hQ26h9nzMgEditLB8vjPEWAJ6gBXvZrY6ZQ
rx3gb4v0UaSMOMiR5sB7Eaulb2Yc6RmRnnlxgUUC2alosg4WIeFN951PLjSc
ajVba6dqlDi+q1H5tPvI5SWMN7PCBWIJ41+WvF+5IAZzQZYgNaVLbAAAAAAA
AAAEAAAAHwNiIi5Ms+4PsY/L2ipkTtquknfx6HodLvk3RAAAAAA==.";

    fn data_message() -> DataMessage {
        DataMessage {
            flags: IGNORE_UNREADABLE,
            sender_keyid: 1,
            recipient_keyid: 2,
            next_dh: vec![5],
            ctr: [0, 0, 0, 0, 0, 0, 0, 9],
            encrypted_message: vec![0xaa, 0xbb],
            mac: [0x4d; MAC_BYTES],
            old_mac_keys: vec![0x6b; MAC_BYTES],
        }
    }

    fn bodies() -> Vec<Body> {
        vec![
            Body::DhCommit { encrypted_gx: vec![1, 2, 3], hashed_gx: [0x68; HASHED_GX_BYTES] },
            Body::DhKey { gy: vec![0x80; 192] },
            Body::RevealSignature {
                revealed_key: [0x72; REVEALED_KEY_BYTES],
                encrypted_signature: vec![0x53; 40],
                mac: [0x4d; MAC_BYTES],
            },
            Body::Signature { encrypted_signature: vec![0x53; 41], mac: [0x4d; MAC_BYTES] },
            Body::Data(data_message()),
        ]
    }

    fn messages() -> Vec<Message> {
        let mut messages = Vec::new();
        for version in [Version::V2, Version::V3] {
            for body in bodies() {
                messages.push(Message::new(version, ALICE, BOB, body));
            }
        }
        messages
    }

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap()).collect()
    }

    // --- text forms ---

    #[test]
    fn query_messages_offer_what_the_spec_says() {
        let none = Versions::default();
        let v2 = Versions { v2: true, v3: false };
        let cases = [
            ("?OTR?", none),
            ("?OTRv2?", v2),
            ("?OTRv23?", Versions::BOTH),
            ("?OTRv32?", Versions::BOTH),
            ("?OTR?v2?", v2),
            ("?OTR?v23?", Versions::BOTH),
            ("?OTRv24x?", v2),
            ("?OTR?v24x?", v2),
            ("?OTR?v?", none),
            ("?OTRv?", none),
            ("?OTRv3? and some words", Versions { v2: false, v3: true }),
            ("Alice wants to talk: ?OTRv23? (see the website)", Versions::BOTH),
            ("?OTRv2", v2),
            ("?OTRv2?3?", v2),
        ];
        for (text, versions) in cases {
            assert_eq!(classify(text), Ok(Classified::Query(versions)), "{text}");
        }
    }

    #[test]
    fn the_default_query_message() {
        assert_eq!(
            query_message(Versions::BOTH, "alice@example.org"),
            "?OTRv23?\n<b>alice@example.org</b> has requested an Off-the-Record private conversation.  \
             However, you do not have a plugin to support that.\nSee the OTR website for more information."
        );
        assert!(query_message(Versions { v2: false, v3: true }, "a").starts_with("?OTRv3?\n"));
        assert!(query_message(Versions::BOTH, "<i>&").contains("<b>&lt;i&gt;&amp;</b>"));
        for versions in [Versions::BOTH, Versions { v2: true, v3: false }, Versions::default()] {
            assert_eq!(classify(&query_message(versions, "alice")), Ok(Classified::Query(versions)));
        }
    }

    #[test]
    fn error_messages() {
        assert_eq!(error_message("bad"), "?OTR Error: bad");
        assert_eq!(classify("?OTR Error:  You sent junk.\n"), Ok(Classified::Error("You sent junk.".into())));
        assert_eq!(classify("oops ?OTR Error:x"), Ok(Classified::Error("x".into())));
        assert_eq!(classify(&error_message("é")), Ok(Classified::Error("é".into())));
    }

    #[test]
    fn encoded_messages_decode_their_base64() {
        assert_eq!(classify(&to_text(&[0, 3, 2])), Ok(Classified::Encoded(vec![0, 3, 2])));
        assert_eq!(to_text(&[0, 3, 2]), "?OTR:AAMC.");
        assert_eq!(classify("?OTR:AAMC"), Err(MessageError::Unterminated));
        assert!(matches!(classify("?OTR:AA!C."), Err(MessageError::Base64(_))));
        assert!(matches!(classify("?OTR:A."), Err(MessageError::Base64(_))));
        assert_eq!(classify("?OTR:AAMC. trailing words"), Ok(Classified::Encoded(vec![0, 3, 2])));
        assert_eq!(classify("?OTR:AAMCAA."), Ok(Classified::Encoded(vec![0, 3, 2, 0])), "padding may be left off");
        assert_eq!(classify("?OTR:."), Ok(Classified::Encoded(vec![])));
    }

    #[test]
    fn the_spec_data_message_decodes_field_by_field() {
        let Ok(Classified::Encoded(bytes)) = classify(SPEC_DATA_MESSAGE) else {
            panic!("the spec's message, wrapped over lines, is an encoded message");
        };
        let message = decode(&bytes).unwrap();
        assert_eq!(message.header, Header { version: Version::V3, kind: DATA, sender: ALICE, receiver: BOB });
        let Body::Data(data) = &message.body else { panic!("not a data message") };
        assert_eq!((data.flags, data.sender_keyid, data.recipient_keyid), (0, 1, 2));
        assert_eq!(data.next_dh.len(), 192);
        assert_eq!(data.ctr, [0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(data.encrypted_message.len(), 7);
        assert_eq!(data.old_mac_keys, b"");
        assert_eq!(encode(&message), bytes);
        assert_eq!(data.mac_input(&message.header), bytes[..bytes.len() - MAC_BYTES - 4]);
        assert_eq!(received_mac_input(&bytes).unwrap(), &bytes[..bytes.len() - MAC_BYTES - 4]);
    }

    #[test]
    fn only_the_first_otr_marker_counts() {
        assert_eq!(classify("?OTRx ?OTRv3?"), Err(MessageError::Unrecognised));
        assert_eq!(classify("?OTR"), Err(MessageError::Unrecognised));
        assert_eq!(classify("?OTR is fun"), Err(MessageError::Unrecognised));
        assert_eq!(classify("?OTRv2? ?OTR Error: x"), Ok(Classified::Query(Versions { v2: true, v3: false })));
    }

    #[test]
    fn fragments_come_before_everything_else() {
        let Ok(Classified::Fragment(piece)) = classify("?OTRv23? ?OTR|100|0,1,2,?OTR:AA,") else {
            panic!("a fragment is looked for first");
        };
        assert_eq!((piece.sender, piece.k, piece.n, piece.text.as_str()), (0x100, 1, 2, "?OTR:AA"));
        assert!(matches!(classify("?OTR,1,2,x,"), Ok(Classified::Fragment(Piece { version: Version::V2, .. }))));
        assert!(matches!(classify("?OTR,oops"), Err(MessageError::Fragment(FragmentError::Malformed(_)))));
    }

    #[test]
    fn plaintext_keeps_its_text_and_loses_its_tag() {
        assert_eq!(classify("hello"), Ok(Classified::Plaintext { text: "hello".into(), tag: None }));
        assert_eq!(classify(""), Ok(Classified::Plaintext { text: "".into(), tag: None }));
        let tagged = format!("hello{}", whitespace_tag(Versions::BOTH));
        assert_eq!(classify(&tagged), Ok(Classified::Plaintext { text: "hello".into(), tag: Some(Versions::BOTH) }));
        let inside = format!("hel{}lo", whitespace_tag(Versions { v2: false, v3: true }));
        assert_eq!(
            classify(&inside),
            Ok(Classified::Plaintext { text: "hello".into(), tag: Some(Versions { v2: false, v3: true }) })
        );
    }

    #[test]
    fn whitespace_tags_are_read_as_libotr_reads_them() {
        // Version 1 and an unknown version are part of the tag but not offered.
        let tagged = format!("a{TAG_BASE}{TAG_V1}\t\t\t\t\t\t\t\t{TAG_V2} b");
        assert_eq!(
            classify(&tagged),
            Ok(Classified::Plaintext { text: "a b".into(), tag: Some(Versions { v2: true, v3: false }) })
        );
        // A base without version tags is still a tag, offering nothing.
        let bare = format!("a{TAG_BASE}b");
        assert_eq!(classify(&bare), Ok(Classified::Plaintext { text: "ab".into(), tag: Some(Versions::default()) }));
        // A group broken by another character ends the tag.
        let broken = format!("{TAG_BASE}{TAG_V3}  \t\tx \t\t");
        assert_eq!(
            classify(&broken),
            Ok(Classified::Plaintext { text: "  \t\tx \t\t".into(), tag: Some(Versions { v2: false, v3: true }) })
        );
        // Only the first tag is taken out.
        let twice = format!("{TAG_BASE}{TAG_V3}.{TAG_BASE}");
        assert_eq!(
            classify(&twice),
            Ok(Classified::Plaintext { text: format!(".{TAG_BASE}"), tag: Some(Versions { v2: false, v3: true }) })
        );
        let multibyte = format!("{TAG_BASE}       é");
        assert_eq!(
            classify(&multibyte),
            Ok(Classified::Plaintext { text: "       é".into(), tag: Some(Versions::default()) })
        );
    }

    #[test]
    fn whitespace_tags_are_written_as_the_spec_lists_them() {
        assert_eq!(whitespace_tag(Versions::default()), "");
        assert_eq!(
            whitespace_tag(Versions::BOTH).as_bytes(),
            b"\x20\x09\x20\x20\x09\x09\x09\x09\x20\x09\x20\x09\x20\x09\x20\x20\
              \x20\x20\x09\x09\x20\x20\x09\x20\x20\x20\x09\x09\x20\x20\x09\x09"
        );
        assert_eq!(TAG_V1.as_bytes(), b"\x20\x09\x20\x09\x20\x20\x09\x20");
    }

    #[test]
    fn versions() {
        assert_eq!(Version::V3.wire(), 3);
        assert_eq!(Version::from_wire(1), None);
        assert_eq!(Versions::BOTH.best(), Some(Version::V3));
        assert_eq!(Versions { v2: true, v3: false }.best(), Some(Version::V2));
        assert_eq!(Versions::default().best(), None);
    }

    // --- the binary form ---

    #[test]
    fn every_type_round_trips_in_both_versions() {
        for message in messages() {
            let bytes = encode(&message);
            assert_eq!(decode(&bytes), Ok(message.clone()));
            let Ok(Classified::Encoded(again)) = classify(&to_text(&bytes)) else { panic!("text form") };
            assert_eq!(again, bytes);
        }
    }

    #[test]
    fn version_2_has_no_instance_tags() {
        let message = Message::new(Version::V2, ALICE, BOB, Body::DhKey { gy: vec![7] });
        assert_eq!((message.header.sender, message.header.receiver), (0, 0));
        assert_eq!(encode(&message), [0, 2, DH_KEY, 0, 0, 0, 1, 7]);
    }

    #[test]
    fn a_dh_commit_is_laid_out_as_the_spec_says() {
        let bytes = hex("0003 02 00000100 00000000
             00000003 616263
             00000020 6868686868686868686868686868686868686868686868686868686868686868");
        let message = decode(&bytes).unwrap();
        assert_eq!(message.header, Header { version: Version::V3, kind: DH_COMMIT, sender: 0x100, receiver: 0 });
        assert_eq!(message.body, Body::DhCommit { encrypted_gx: b"abc".to_vec(), hashed_gx: [0x68; 32] });
        assert_eq!(encode(&message), bytes);
    }

    #[test]
    fn a_dh_key_is_laid_out_as_the_spec_says() {
        let bytes = hex("0003 0a 00000101 00000100 00000002 0102");
        let message = decode(&bytes).unwrap();
        assert_eq!(message.header, Header { version: Version::V3, kind: DH_KEY, sender: 0x101, receiver: 0x100 });
        assert_eq!(message.body, Body::DhKey { gy: vec![1, 2] });
        assert_eq!(encode(&message), bytes);
    }

    #[test]
    fn a_reveal_signature_is_laid_out_as_the_spec_says() {
        let bytes = hex("0002 11
             00000010 72727272727272727272727272727272
             00000002 5353
             4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d");
        let message = decode(&bytes).unwrap();
        assert_eq!(message.header, Header { version: Version::V2, kind: REVEAL_SIGNATURE, sender: 0, receiver: 0 });
        assert_eq!(
            message.body,
            Body::RevealSignature { revealed_key: [0x72; 16], encrypted_signature: vec![0x53; 2], mac: [0x4d; 20] }
        );
        assert_eq!(encode(&message), bytes);
    }

    #[test]
    fn a_signature_is_laid_out_as_the_spec_says() {
        let bytes = hex("0003 12 00000100 00000101 00000001 53 4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d");
        let message = decode(&bytes).unwrap();
        assert_eq!(message.body, Body::Signature { encrypted_signature: vec![0x53], mac: [0x4d; 20] });
        assert_eq!(encode(&message), bytes);
    }

    #[test]
    fn a_data_message_is_laid_out_as_the_spec_says() {
        let authenticated = hex("0003 03 27e31599 27e31597
             01 00000001 00000002
             00000001 05
             0000000000000009
             00000002 aabb");
        let mut bytes = authenticated.clone();
        bytes.extend(hex("4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d 00000014"));
        bytes.extend([0x6b; 20]);
        let message = decode(&bytes).unwrap();
        assert_eq!(message, Message::new(Version::V3, ALICE, BOB, Body::Data(data_message())));
        assert_eq!(encode(&message), bytes);
        assert_eq!(data_message().mac_input(&message.header), authenticated);
        assert_eq!(received_mac_input(&bytes), Ok(&authenticated[..]));
    }

    #[test]
    fn the_mac_covers_a_padded_mpi_as_it_arrived() {
        let authenticated = hex("0002 03 00 00000001 00000002 00000002 0005 0000000000000001 00000000");
        let mut bytes = authenticated.clone();
        bytes.extend([0x4d; 20]);
        bytes.extend([0, 0, 0, 0]);
        let message = decode(&bytes).unwrap();
        let Body::Data(data) = &message.body else { panic!("not a data message") };
        assert_eq!(data.next_dh, [5]);
        assert_eq!(received_mac_input(&bytes), Ok(&authenticated[..]));
        assert_ne!(data.mac_input(&message.header), authenticated);
        assert_eq!(received_mac_input(&encode(&messages()[0])), Err(MessageError::NotData));
    }

    #[test]
    fn every_truncation_is_an_error() {
        for message in messages() {
            let bytes = encode(&message);
            for end in 0..bytes.len() {
                assert!(decode(&bytes[..end]).is_err(), "{message:?} cut at {end}");
            }
        }
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        for message in messages() {
            let mut bytes = encode(&message);
            bytes.push(0);
            assert_eq!(decode(&bytes), Err(MessageError::Decode(DecodeError::TrailingBytes(1))));
        }
    }

    #[test]
    fn unknown_versions_and_types_are_refused() {
        assert_eq!(decode(&hex("0001 0a 00000001 07")), Err(MessageError::UnsupportedVersion(1)));
        assert_eq!(decode(&hex("0004 0a")), Err(MessageError::UnsupportedVersion(4)));
        assert_eq!(decode(&hex("0002 01 00000001 07")), Err(MessageError::UnknownType(1)));
        assert_eq!(decode(&hex("0003 ff 00000100 00000100")), Err(MessageError::UnknownType(0xff)));
        assert_eq!(decode(&[]), Err(MessageError::Decode(DecodeError::Truncated("protocol version"))));
    }

    #[test]
    fn reserved_and_missing_instance_tags_are_refused() {
        assert_eq!(decode(&hex("0003 0a 000000ff 00000100 00000001 07")), Err(MessageError::ReservedSenderTag(0xff)));
        assert_eq!(decode(&hex("0003 0a 00000000 00000100 00000001 07")), Err(MessageError::ReservedSenderTag(0)));
        assert_eq!(decode(&hex("0003 0a 00000100 00000001 00000001 07")), Err(MessageError::ReservedReceiverTag(1)));
        assert_eq!(decode(&hex("0003 0a 00000100 00000000 00000001 07")), Err(MessageError::UnknownReceiver));
        assert!(decode(&hex("0003 0a ffffffff ffffffff 00000001 07")).is_ok(), "no upper bound");
        for message in messages().into_iter().filter(|message| message.header.version == Version::V3) {
            let mut bytes = encode(&message);
            bytes[7..11].fill(0);
            let expected = if message.body.kind() == DH_COMMIT { Ok(()) } else { Err(MessageError::UnknownReceiver) };
            assert_eq!(decode(&bytes).map(|_| ()), expected, "{message:?}");
        }
    }

    #[test]
    fn fixed_sizes_are_enforced() {
        let short_hash =
            hex("0002 02 00000001 01 0000001f 68686868686868686868686868686868686868686868686868686868686868");
        assert_eq!(
            decode(&short_hash),
            Err(MessageError::WrongLength { field: "hashed g^x", expected: 32, actual: 31 })
        );
        let short_key =
            hex("0002 11 0000000f 727272727272727272727272727272 00000000 4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d");
        assert_eq!(
            decode(&short_key),
            Err(MessageError::WrongLength { field: "revealed key", expected: 16, actual: 15 })
        );
    }

    #[test]
    fn key_ids_of_0_are_refused() {
        let mut sender_zero = data_message();
        sender_zero.sender_keyid = 0;
        let bytes = encode(&Message::new(Version::V3, ALICE, BOB, Body::Data(sender_zero)));
        assert_eq!(decode(&bytes), Err(MessageError::ZeroKeyId("sender keyid")));
        let mut recipient_zero = data_message();
        recipient_zero.recipient_keyid = 0;
        let bytes = encode(&Message::new(Version::V2, 0, 0, Body::Data(recipient_zero)));
        assert_eq!(decode(&bytes), Err(MessageError::ZeroKeyId("recipient keyid")));
    }

    #[test]
    fn hostile_lengths_are_refused() {
        let huge = hex("0002 0a ffffffff 00");
        assert_eq!(decode(&huge), Err(MessageError::Decode(DecodeError::MpiTooLong(0xffff_ffff))));
        let huge_data = hex("0002 02 fffffffe 00");
        assert_eq!(decode(&huge_data), Err(MessageError::Decode(DecodeError::Truncated("encrypted g^x"))));
        let long_gx = Body::DhCommit { encrypted_gx: vec![1; MAX_ENCRYPTED_GX_BYTES + 1], hashed_gx: [0; 32] };
        assert_eq!(
            decode(&encode(&Message::new(Version::V2, 0, 0, long_gx))),
            Err(MessageError::TooLong { field: "encrypted g^x", limit: MAX_ENCRYPTED_GX_BYTES, actual: 1029 })
        );
        let long_signature =
            Body::Signature { encrypted_signature: vec![1; MAX_ENCRYPTED_SIGNATURE_BYTES + 1], mac: [0; 20] };
        assert!(matches!(
            decode(&encode(&Message::new(Version::V2, 0, 0, long_signature))),
            Err(MessageError::TooLong { field: "encrypted signature", .. })
        ));
        let long_mpi = Body::DhKey { gy: vec![1; MAX_MPI_BYTES + 1] };
        assert_eq!(
            decode(&encode(&Message::new(Version::V2, 0, 0, long_mpi))),
            Err(MessageError::Decode(DecodeError::MpiTooLong(1025)))
        );
    }

    #[test]
    fn errors_say_what_was_wrong() {
        assert_eq!(
            MessageError::WrongLength { field: "hashed g^x", expected: 32, actual: 31 }.to_string(),
            "the hashed g^x is 31 bytes long; it must be 32"
        );
        assert_eq!(
            MessageError::Decode(DecodeError::Truncated("counter")).to_string(),
            "the message ends inside its counter"
        );
    }
}
