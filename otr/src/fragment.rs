//! "Fragmentation" of the spec: splitting an encoded message into pieces
//! that fit a network's message size, and putting received pieces back
//! together.
//!
//! Reassembly holds bytes a peer chose to send before anything authenticates
//! them, so it is capped: libotr's unchecked size arithmetic on exactly this
//! path was CVE-2016-2851.

use std::collections::HashMap;

use thiserror::Error;

use crate::instance_tag::InstanceTag;
use crate::message::Version;

/// Marks a version 3 fragment; looked for before any other "?OTR" marker.
pub const V3_MARKER: &str = "?OTR|";
/// Marks a version 2 fragment.
pub const V2_MARKER: &str = "?OTR,";

/// The most pieces `k` and `n` can count to (they are unsigned shorts).
pub const MAX_PIECES: usize = u16::MAX as usize;

/// `?OTR|%08x|%08x,%05hu,%05hu,` and the closing `,`: libotr prints every
/// number at full width, so the overhead of a fragment does not depend on
/// its numbers.
const V3_OVERHEAD: usize = V3_MARKER.len() + 8 + 1 + 8 + 1 + 5 + 1 + 5 + 1 + 1;
/// `?OTR,%05hu,%05hu,` and the closing `,`.
const V2_OVERHEAD: usize = V2_MARKER.len() + 5 + 1 + 5 + 1 + 1;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FragmentError {
    #[error("the fragment is malformed: {0}")]
    Malformed(&'static str),
    #[error("the fragment's instance tag {0:#x} is reserved (only 0, or 0x100 and up, may appear)")]
    ReservedTag(u32),
    #[error("piece {k} of {n} is impossible: pieces count from 1 up to their total")]
    BadNumbering { k: u16, n: u16 },
    #[error("piece {k} of {n} does not continue the message being put together; that message was dropped")]
    OutOfOrder { k: u16, n: u16 },
    #[error("a message in {n} pieces is more than the {limit} pieces accepted; it was dropped")]
    TooManyPieces { n: u16, limit: u16 },
    #[error("the pieces held would exceed {limit} bytes; the message they belong to was dropped")]
    TooLarge { limit: usize },
    #[error("messages from {limit} instances are being put together already; a new one was refused")]
    TooManySenders { limit: usize },
    #[error("a message of {0} bytes needs more than 65535 fragments")]
    TooManyFragments(usize),
    #[error("a fragment of at most {0} bytes has no room for any of the message after its header")]
    FragmentTooShort(usize),
    #[error("the message holds a comma, which would end its fragment early")]
    Comma,
    #[error("the message holds \"?OTR|\", which would make its version 2 fragments read as version 3 ones")]
    V3MarkerInV2Message,
}

/// One received fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub version: Version,
    /// Instance tags; both 0 in version 2, which has none.
    pub sender: u32,
    pub receiver: u32,
    pub k: u16,
    pub n: u16,
    pub text: String,
}

impl Piece {
    /// Finds and reads a fragment in `text`, as libotr does: anywhere in the
    /// text, "?OTR|" before "?OTR,", numbers of any width, and anything after
    /// the closing comma ignored. Stricter than libotr's sscanf where that
    /// would guess: numbers must be plain digits that fit their type.
    pub fn parse(text: &str) -> Result<Piece, FragmentError> {
        if let Some((_, rest)) = text.split_once(V3_MARKER) {
            let (sender, rest) = field(rest, '|', "the sender instance tag has no closing '|'")?;
            let (receiver, rest) = field(rest, ',', "the receiver instance tag has no closing ','")?;
            let sender = hex(sender, "the sender instance tag is not a hexadecimal INT")?;
            let receiver = hex(receiver, "the receiver instance tag is not a hexadecimal INT")?;
            if InstanceTag::from_wire(sender).is_none() {
                return Err(FragmentError::ReservedTag(sender));
            }
            if receiver != 0 && InstanceTag::from_wire(receiver).is_none() {
                return Err(FragmentError::ReservedTag(receiver));
            }
            return numbered(rest, Version::V3, sender, receiver);
        }
        if let Some((_, rest)) = text.split_once(V2_MARKER) {
            return numbered(rest, Version::V2, 0, 0);
        }
        Err(FragmentError::Malformed("it has no fragment marker"))
    }

    /// The fragment as libotr writes it.
    pub fn to_text(&self) -> String {
        let Piece { sender, receiver, k, n, text, .. } = self;
        match self.version {
            Version::V3 => format!("{V3_MARKER}{sender:08x}|{receiver:08x},{k:05},{n:05},{text},"),
            Version::V2 => format!("{V2_MARKER}{k:05},{n:05},{text},"),
        }
    }
}

fn field<'a>(text: &'a str, end: char, missing: &'static str) -> Result<(&'a str, &'a str), FragmentError> {
    text.split_once(end).ok_or(FragmentError::Malformed(missing))
}

fn hex(digits: &str, bad: &'static str) -> Result<u32, FragmentError> {
    // from_str_radix alone would also take a leading '+'.
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(FragmentError::Malformed(bad));
    }
    u32::from_str_radix(digits, 16).map_err(|_| FragmentError::Malformed(bad))
}

fn decimal(digits: &str, bad: &'static str) -> Result<u16, FragmentError> {
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(FragmentError::Malformed(bad));
    }
    digits.parse().map_err(|_| FragmentError::Malformed(bad))
}

/// `k,n,piece,` after the marker (and tags).
fn numbered(rest: &str, version: Version, sender: u32, receiver: u32) -> Result<Piece, FragmentError> {
    let (k, rest) = field(rest, ',', "the piece number has no closing ','")?;
    let (n, rest) = field(rest, ',', "the piece count has no closing ','")?;
    let (text, _ignored) = field(rest, ',', "the piece has no closing ','")?;
    let k = decimal(k, "the piece number is not a decimal number up to 65535")?;
    let n = decimal(n, "the piece count is not a decimal number up to 65535")?;
    if k == 0 || n == 0 || k > n {
        return Err(FragmentError::BadNumbering { k, n });
    }
    if text.is_empty() {
        return Err(FragmentError::Malformed("the piece is empty"));
    }
    Ok(Piece { version, sender, receiver, k, n, text: text.to_owned() })
}

/// Splits `message` into fragments of at most `max_fragment_len` bytes each,
/// header included, in libotr's form. A message that fits is returned whole,
/// unfragmented. Pieces end on character boundaries, so a fragment can be
/// shorter than the limit.
pub fn fragment(
    message: &str,
    max_fragment_len: usize,
    version: Version,
    sender: u32,
    receiver: u32,
) -> Result<Vec<String>, FragmentError> {
    if message.len() <= max_fragment_len {
        return Ok(vec![message.to_owned()]);
    }
    if message.contains(',') {
        return Err(FragmentError::Comma);
    }
    // Receivers look for "?OTR|" anywhere before "?OTR,", so it must not
    // appear inside a version 2 piece.
    if version == Version::V2 && message.contains(V3_MARKER) {
        return Err(FragmentError::V3MarkerInV2Message);
    }
    let overhead = match version {
        Version::V3 => V3_OVERHEAD,
        Version::V2 => V2_OVERHEAD,
    };
    let room = max_fragment_len.saturating_sub(overhead);
    let pieces = split(message, room).ok_or(FragmentError::FragmentTooShort(max_fragment_len))?;
    let n = u16::try_from(pieces.len()).map_err(|_| FragmentError::TooManyFragments(message.len()))?;
    let (sender, receiver) = match version {
        Version::V3 => (sender, receiver),
        Version::V2 => (0, 0),
    };
    Ok(pieces
        .into_iter()
        .zip(1..=n)
        .map(|(text, k)| Piece { version, sender, receiver, k, n, text: text.to_owned() }.to_text())
        .collect())
}

/// `message` in non-empty pieces of at most `room` bytes, or `None` if a
/// character does not fit. Stops counting past [`MAX_PIECES`] pieces so a
/// hopeless split allocates little.
fn split(message: &str, room: usize) -> Option<Vec<&str>> {
    let mut pieces = Vec::new();
    let mut rest = message;
    while !rest.is_empty() {
        let mut end = room.min(rest.len());
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        if end == 0 {
            return None;
        }
        if pieces.len() > MAX_PIECES {
            break;
        }
        let (piece, after) = rest.split_at(end);
        pieces.push(piece);
        rest = after;
    }
    Some(pieces)
}

/// What a [`Reassembler`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes held across all partial messages.
    pub max_bytes: usize,
    /// The largest piece count `n` accepted.
    pub max_pieces: u16,
    /// Instances (sender tags) whose messages are put together at once.
    pub max_senders: usize,
}

impl Default for Limits {
    /// A megabyte is far more than any OTR message a person sends; 4096
    /// pieces lets even a 256-byte network limit carry that megabyte; a peer
    /// logged in from more than 16 places at once is not a real case.
    fn default() -> Self {
        Limits { max_bytes: 1 << 20, max_pieces: 4096, max_senders: 16 }
    }
}

struct Partial {
    k: u16,
    n: u16,
    text: String,
    /// Whether its sender is an instance we have a private session with.
    known: bool,
    /// When it started, counted in started messages, to drop the oldest.
    started: u64,
}

/// Puts received pieces back together: one message at a time per sender
/// instance, following the spec's (and libotr's) rules — piece 1 starts
/// anew, the next piece of the same count continues, anything else drops
/// what was held.
#[derive(Default)]
pub struct Reassembler {
    limits: Limits,
    partials: HashMap<u32, Partial>,
    held: usize,
    starts: u64,
}

impl Reassembler {
    pub fn new(limits: Limits) -> Self {
        Reassembler { limits, partials: HashMap::new(), held: 0, starts: 0 }
    }

    /// Takes one piece; returns the whole message when this was its last.
    /// An illegal piece (k 0, n 0, k > n, empty) is refused without touching
    /// what is held, as the spec says; any other error drops the sender's
    /// partial message.
    pub fn push(&mut self, piece: Piece) -> Result<Option<String>, FragmentError> {
        self.push_from(piece, false)
    }

    /// As [`Reassembler::push`], for a piece whose sender is known: an
    /// instance the caller has a private (authenticated) session with. When
    /// the sender or byte limit is reached, such a piece makes room by
    /// dropping partial messages of unknown senders, oldest first, instead
    /// of being refused; so pieces that never finish, sent under made-up
    /// instance tags, cannot keep a genuine correspondent's messages out.
    pub fn push_known(&mut self, piece: Piece) -> Result<Option<String>, FragmentError> {
        self.push_from(piece, true)
    }

    fn push_from(&mut self, piece: Piece, known: bool) -> Result<Option<String>, FragmentError> {
        let Piece { sender, k, n, text, .. } = piece;
        if k == 0 || n == 0 || k > n {
            return Err(FragmentError::BadNumbering { k, n });
        }
        if text.is_empty() {
            return Err(FragmentError::Malformed("the piece is empty"));
        }
        if n > self.limits.max_pieces {
            self.forget(sender);
            return Err(FragmentError::TooManyPieces { n, limit: self.limits.max_pieces });
        }
        if k == 1 {
            self.forget(sender);
            while known && self.partials.len() >= self.limits.max_senders && self.drop_oldest_unknown(sender) {}
            if self.partials.len() >= self.limits.max_senders {
                return Err(FragmentError::TooManySenders { limit: self.limits.max_senders });
            }
            self.starts += 1;
            self.partials.insert(sender, Partial { k: 0, n, text: String::new(), known, started: self.starts });
        }
        let continues = self
            .partials
            .get(&sender)
            .is_some_and(|partial| partial.n == n && u32::from(partial.k) + 1 == u32::from(k));
        if !continues {
            self.forget(sender);
            return Err(FragmentError::OutOfOrder { k, n });
        }
        let max_bytes = self.limits.max_bytes;
        let fits = |held: usize| held.checked_add(text.len()).is_some_and(|total| total <= max_bytes);
        while known && !fits(self.held) && self.drop_oldest_unknown(sender) {}
        if !fits(self.held) {
            self.forget(sender);
            return Err(FragmentError::TooLarge { limit: self.limits.max_bytes });
        }
        let Some(partial) = self.partials.get_mut(&sender) else {
            return Err(FragmentError::OutOfOrder { k, n });
        };
        partial.text.push_str(&text);
        partial.k = k;
        self.held += text.len();
        if k < n {
            return Ok(None);
        }
        Ok(self.take(sender))
    }

    /// Drops the partial message from `sender`, as the spec asks when an
    /// unfragmented message arrives from it.
    pub fn forget(&mut self, sender: u32) {
        drop(self.take(sender));
    }

    /// Drops the oldest partial message of an unknown sender other than
    /// `except`; false when there is none.
    fn drop_oldest_unknown(&mut self, except: u32) -> bool {
        let oldest = self
            .partials
            .iter()
            .filter(|(&sender, partial)| sender != except && !partial.known)
            .min_by_key(|(_, partial)| partial.started)
            .map(|(&sender, _)| sender);
        match oldest {
            Some(sender) => {
                self.forget(sender);
                true
            }
            None => false,
        }
    }

    /// Drops every partial message.
    pub fn clear(&mut self) {
        self.partials.clear();
        self.held = 0;
    }

    /// Bytes held in partial messages.
    pub fn held_bytes(&self) -> usize {
        self.held
    }

    fn take(&mut self, sender: u32) -> Option<String> {
        let partial = self.partials.remove(&sender)?;
        self.held -= partial.text.len();
        Some(partial.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENDER: u32 = 0x5a73_a599;
    const RECEIVER: u32 = 0x27e3_1597;

    /// The spec's example, with the line breaks (which are only layout) removed.
    const SPEC_MESSAGE: &str = "?OTR:AAMDJ+MVmSfjFZcAAAAAAQAAAAIAAADA1g5IjD1ZGLDVQEyCgCyn9hbrL3KAbGDdzE2ZkMyTKl7XfkSxh8YJnudstiB74i4BzT0W2haClg6dMary/jo9sMudwmUdlnKpIGEKXWdvJKT+hQ26h9nzMgEditLB8vjPEWAJ6gBXvZrY6ZQrx3gb4v0UaSMOMiR5sB7Eaulb2Yc6RmRnnlxgUUC2alosg4WIeFN951PLjScajVba6dqlDi+q1H5tPvI5SWMN7PCBWIJ41+WvF+5IAZzQZYgNaVLbAAAAAAAAAAEAAAAHwNiIi5Ms+4PsY/L2ipkTtquknfx6HodLvk3RAAAAAA==.";

    fn piece(k: u16, n: u16, text: &str) -> Piece {
        Piece { version: Version::V3, sender: SENDER, receiver: RECEIVER, k, n, text: text.to_owned() }
    }

    fn reassemble(fragments: &[String]) -> Option<String> {
        let mut reassembler = Reassembler::default();
        let mut whole = None;
        for fragment in fragments {
            assert_eq!(whole, None, "a message was complete before its last piece");
            whole = reassembler.push(Piece::parse(fragment).unwrap()).unwrap();
        }
        assert_eq!(reassembler.held_bytes(), 0);
        whole
    }

    #[test]
    fn the_spec_example_parses() {
        let parsed = Piece::parse("?OTR|5a73a599|27e31597,00003,00003,pkTtquknfx6HodLvk3RAAAAAA==.,").unwrap();
        assert_eq!(parsed, piece(3, 3, "pkTtquknfx6HodLvk3RAAAAAA==."));
    }

    #[test]
    fn the_spec_example_splits_and_joins() {
        let fragments = fragment(SPEC_MESSAGE, 36 + 200, Version::V3, SENDER, RECEIVER).unwrap();
        assert_eq!(fragments.len(), 2);
        assert!(fragments[0].starts_with("?OTR|5a73a599|27e31597,00001,00002,?OTR:AAMD"));
        assert!(fragments.iter().all(|fragment| fragment.len() <= 236 && fragment.ends_with(',')));
        assert_eq!(reassemble(&fragments).as_deref(), Some(SPEC_MESSAGE));
    }

    #[test]
    fn round_trips_at_many_sizes_in_both_versions() {
        for version in [Version::V2, Version::V3] {
            for max in [V3_OVERHEAD + 1, 40, 41, 57, 100, 199, SPEC_MESSAGE.len() - 1] {
                let fragments = fragment(SPEC_MESSAGE, max, version, SENDER, RECEIVER).unwrap();
                assert!(fragments.len() > 1);
                assert!(fragments.iter().all(|fragment| fragment.len() <= max), "{max}");
                assert_eq!(reassemble(&fragments).as_deref(), Some(SPEC_MESSAGE), "{version:?} {max}");
            }
        }
    }

    #[test]
    fn version_2_fragments_have_no_tags() {
        let fragments =
            fragment("?OTR:AAIDabcdefghijklmnopqrstuvwxyz.", 18 + 9, Version::V2, SENDER, RECEIVER).unwrap();
        assert_eq!(
            fragments,
            [
                "?OTR,00001,00004,?OTR:AAID,",
                "?OTR,00002,00004,abcdefghi,",
                "?OTR,00003,00004,jklmnopqr,",
                "?OTR,00004,00004,stuvwxyz.,"
            ]
        );
        let piece = Piece::parse(&fragments[3]).unwrap();
        assert_eq!((piece.version, piece.sender, piece.receiver), (Version::V2, 0, 0));
    }

    #[test]
    fn a_message_that_fits_is_not_fragmented() {
        assert_eq!(fragment("?OTR:AAMD.", 10, Version::V3, SENDER, 0).unwrap(), ["?OTR:AAMD."]);
        assert_eq!(fragment("", 0, Version::V3, SENDER, 0).unwrap(), [""]);
    }

    #[test]
    fn impossible_fragmentations_are_refused() {
        assert_eq!(
            fragment(SPEC_MESSAGE, V3_OVERHEAD, Version::V3, SENDER, 0),
            Err(FragmentError::FragmentTooShort(36))
        );
        assert_eq!(fragment(SPEC_MESSAGE, 3, Version::V3, SENDER, 0), Err(FragmentError::FragmentTooShort(3)));
        let huge = "A".repeat(MAX_PIECES + 1);
        assert_eq!(fragment(&huge, V2_OVERHEAD + 1, Version::V2, 0, 0), Err(FragmentError::TooManyFragments(65536)));
        let most = "A".repeat(MAX_PIECES);
        assert_eq!(fragment(&most, V2_OVERHEAD + 1, Version::V2, 0, 0).unwrap().len(), MAX_PIECES);
        assert_eq!(fragment("a,b,c", 3, Version::V2, 0, 0), Err(FragmentError::Comma));
    }

    /// Found by the fuzzer: a version 2 piece holding "?OTR|" was read back as a
    /// (malformed) version 3 fragment.
    #[test]
    fn a_v3_marker_cannot_ride_in_a_v2_fragment() {
        let message = format!("?OTR:AAID?OTR|{}.", "A".repeat(40));
        assert_eq!(fragment(&message, 20, Version::V2, 0, 0), Err(FragmentError::V3MarkerInV2Message));
        let fragments = fragment(&message, 40, Version::V3, SENDER, RECEIVER).unwrap();
        assert_eq!(fragments.len(), 14);
        assert_eq!(reassemble(&fragments), Some(message));
    }

    #[test]
    fn pieces_end_on_character_boundaries() {
        let message = "é".repeat(20);
        let fragments = fragment(&message, V2_OVERHEAD + 3, Version::V2, 0, 0).unwrap();
        assert_eq!(fragments.len(), 20);
        assert_eq!(reassemble(&fragments), Some(message.clone()));
        assert_eq!(fragment(&message, V2_OVERHEAD + 1, Version::V2, 0, 0), Err(FragmentError::FragmentTooShort(19)));
    }

    #[test]
    fn parsing_is_lenient_about_widths_and_surroundings() {
        let parsed = Piece::parse("hi ?OTR|100|0,1,2,abc, trailing").unwrap();
        assert_eq!(parsed, Piece { version: Version::V3, sender: 0x100, receiver: 0, k: 1, n: 2, text: "abc".into() });
        let parsed = Piece::parse("?OTR|000000FFFFFFFF|0000000100,0000065535,0000065535,x,").unwrap();
        assert_eq!((parsed.sender, parsed.receiver, parsed.k, parsed.n), (u32::MAX, 0x100, 65535, 65535));
        assert_eq!(Piece::parse("?OTR,1,1,x,").unwrap().version, Version::V2);
    }

    #[test]
    fn the_v3_marker_is_looked_for_first() {
        let parsed = Piece::parse("?OTR,1,1,x, ?OTR|100|100,2,2,y,").unwrap();
        assert_eq!((parsed.version, parsed.text.as_str()), (Version::V3, "y"));
    }

    #[test]
    fn hostile_fragments_are_refused() {
        let malformed = [
            "?OTR|100|100,1,1,x",
            "?OTR|100|100,1,1,,",
            "?OTR|100|100,1,1",
            "?OTR|100|100,99999999,99999999,x,",
            "?OTR|100|100,65536,65536,x,",
            "?OTR|100|100,-1,1,x,",
            "?OTR|100|100,+1,1,x,",
            "?OTR|100|100, 1,1,x,",
            "?OTR|100|100,,1,x,",
            "?OTR|1000000000|100,1,1,x,",
            "?OTR|+100|100,1,1,x,",
            "?OTR|0x100|100,1,1,x,",
            "?OTR||100,1,1,x,",
            "?OTR|100,1,1,x,",
            "?OTR|100|100",
            "?OTR,1,1,x",
            "?OTR,1",
            "no marker",
        ];
        for text in malformed {
            assert!(matches!(Piece::parse(text), Err(FragmentError::Malformed(_))), "{text}");
        }
        let numbering = [("?OTR|100|100,0,1,x,", 0, 1), ("?OTR|100|100,1,0,x,", 1, 0), ("?OTR,3,2,x,", 3, 2)];
        for (text, k, n) in numbering {
            assert_eq!(Piece::parse(text), Err(FragmentError::BadNumbering { k, n }), "{text}");
        }
        assert_eq!(Piece::parse("?OTR|ff|100,1,1,x,"), Err(FragmentError::ReservedTag(0xff)));
        assert_eq!(Piece::parse("?OTR|100|1,1,1,x,"), Err(FragmentError::ReservedTag(1)));
    }

    #[test]
    fn out_of_order_duplicate_and_missing_pieces_drop_the_message() {
        let mut reassembler = Reassembler::default();
        assert_eq!(reassembler.push(piece(2, 3, "b")), Err(FragmentError::OutOfOrder { k: 2, n: 3 }));
        assert_eq!(reassembler.push(piece(1, 3, "a")), Ok(None));
        assert_eq!(reassembler.push(piece(1, 3, "a")), Ok(None), "piece 1 starts anew");
        assert_eq!(reassembler.push(piece(2, 3, "b")), Ok(None));
        assert_eq!(reassembler.push(piece(2, 3, "b")), Err(FragmentError::OutOfOrder { k: 2, n: 3 }));
        assert_eq!(reassembler.held_bytes(), 0);
        assert_eq!(reassembler.push(piece(3, 3, "c")), Err(FragmentError::OutOfOrder { k: 3, n: 3 }));
        assert_eq!(reassembler.push(piece(1, 3, "a")), Ok(None));
        assert_eq!(reassembler.push(piece(3, 3, "c")), Err(FragmentError::OutOfOrder { k: 3, n: 3 }));
        assert_eq!(reassembler.push(piece(1, 3, "a")), Ok(None));
        assert_eq!(reassembler.push(piece(2, 3, "b")), Ok(None));
        assert_eq!(reassembler.push(piece(3, 3, "c")), Ok(Some("abc".into())));
        assert_eq!(reassembler.held_bytes(), 0);
    }

    #[test]
    fn a_count_changing_midway_drops_the_message() {
        let mut reassembler = Reassembler::default();
        assert_eq!(reassembler.push(piece(1, 3, "a")), Ok(None));
        assert_eq!(reassembler.push(piece(2, 4, "b")), Err(FragmentError::OutOfOrder { k: 2, n: 4 }));
        assert_eq!(reassembler.push(piece(3, 3, "c")), Err(FragmentError::OutOfOrder { k: 3, n: 3 }));
        assert_eq!(reassembler.held_bytes(), 0);
    }

    #[test]
    fn illegal_pieces_leave_the_held_message_alone() {
        let mut reassembler = Reassembler::default();
        assert_eq!(reassembler.push(piece(1, 2, "a")), Ok(None));
        assert_eq!(reassembler.push(piece(0, 2, "x")), Err(FragmentError::BadNumbering { k: 0, n: 2 }));
        assert_eq!(reassembler.push(piece(3, 2, "x")), Err(FragmentError::BadNumbering { k: 3, n: 2 }));
        assert_eq!(reassembler.push(piece(1, 0, "x")), Err(FragmentError::BadNumbering { k: 1, n: 0 }));
        assert_eq!(reassembler.push(piece(2, 2, "")), Err(FragmentError::Malformed("the piece is empty")));
        assert_eq!(reassembler.push(piece(2, 2, "b")), Ok(Some("ab".into())));
    }

    #[test]
    fn senders_are_kept_apart() {
        let mut reassembler = Reassembler::default();
        let other = |k, n, text: &str| Piece { sender: 0x100, ..piece(k, n, text) };
        assert_eq!(reassembler.push(piece(1, 2, "a")), Ok(None));
        assert_eq!(reassembler.push(other(1, 2, "x")), Ok(None));
        assert_eq!(reassembler.push(other(2, 2, "y")), Ok(Some("xy".into())));
        assert_eq!(reassembler.push(piece(2, 2, "b")), Ok(Some("ab".into())));
        reassembler.push(piece(1, 2, "a")).unwrap();
        reassembler.forget(SENDER);
        assert_eq!(reassembler.push(piece(2, 2, "b")), Err(FragmentError::OutOfOrder { k: 2, n: 2 }));
    }

    #[test]
    fn the_byte_cap_drops_the_message_that_crosses_it() {
        let mut reassembler = Reassembler::new(Limits { max_bytes: 10, ..Limits::default() });
        let other = |k, n, text: &str| Piece { sender: 0x100, ..piece(k, n, text) };
        assert_eq!(reassembler.push(other(1, 2, "1234")), Ok(None));
        assert_eq!(reassembler.push(piece(1, 3, "12345")), Ok(None));
        assert_eq!(reassembler.push(piece(2, 3, "12")), Err(FragmentError::TooLarge { limit: 10 }));
        assert_eq!(reassembler.held_bytes(), 4);
        assert_eq!(reassembler.push(piece(3, 3, "1")), Err(FragmentError::OutOfOrder { k: 3, n: 3 }));
        assert_eq!(reassembler.push(other(2, 2, "123456")), Ok(Some("1234123456".into())));
        assert_eq!(reassembler.push(piece(1, 1, "12345678901")), Err(FragmentError::TooLarge { limit: 10 }));
        assert_eq!(reassembler.held_bytes(), 0);
    }

    #[test]
    fn the_piece_and_sender_counts_are_capped() {
        let mut reassembler = Reassembler::new(Limits { max_pieces: 3, max_senders: 2, ..Limits::default() });
        assert_eq!(reassembler.push(piece(1, 4, "a")), Err(FragmentError::TooManyPieces { n: 4, limit: 3 }));
        assert_eq!(reassembler.push(piece(1, 65535, "a")), Err(FragmentError::TooManyPieces { n: 65535, limit: 3 }));
        for sender in [0x100, 0x101] {
            assert_eq!(reassembler.push(Piece { sender, ..piece(1, 2, "a") }), Ok(None));
        }
        assert_eq!(
            reassembler.push(Piece { sender: 0x102, ..piece(1, 2, "a") }),
            Err(FragmentError::TooManySenders { limit: 2 })
        );
        assert_eq!(
            reassembler.push(Piece { sender: 0x101, ..piece(1, 2, "b") }),
            Ok(None),
            "a held sender may start anew"
        );
        reassembler.clear();
        assert_eq!(reassembler.held_bytes(), 0);
        assert_eq!(reassembler.push(Piece { sender: 0x102, ..piece(1, 1, "a") }), Ok(Some("a".into())));
    }

    #[test]
    fn known_senders_make_room_by_dropping_unknown_ones_oldest_first() {
        let mut reassembler = Reassembler::new(Limits { max_bytes: 10, max_senders: 3, ..Limits::default() });
        let from = |sender, k, n, text: &str| Piece { sender, ..piece(k, n, text) };
        // Three unknown senders fill the table and never finish.
        for sender in [0x100, 0x101, 0x102] {
            assert_eq!(reassembler.push(from(sender, 1, 9, "ab")), Ok(None));
        }
        assert_eq!(reassembler.push(from(0x103, 1, 2, "x")), Err(FragmentError::TooManySenders { limit: 3 }));
        // A known sender takes the oldest unknown one's place.
        assert_eq!(reassembler.push_known(from(SENDER, 1, 2, "1234")), Ok(None));
        assert_eq!(reassembler.push(from(0x100, 2, 9, "cd")), Err(FragmentError::OutOfOrder { k: 2, n: 9 }));
        assert_eq!(reassembler.held_bytes(), 8);
        // Bytes: the known sender's piece drops unknown ones until it fits.
        assert_eq!(reassembler.push_known(from(SENDER, 2, 2, "5678")), Ok(Some("12345678".into())));
        assert_eq!(reassembler.push(from(0x101, 2, 9, "cd")), Err(FragmentError::OutOfOrder { k: 2, n: 9 }));
        assert_eq!(reassembler.push(from(0x102, 2, 9, "cd")), Ok(None), "only as many as needed were dropped");
        // Known senders never drop each other, and an unknown one drops nobody.
        let mut reassembler = Reassembler::new(Limits { max_bytes: 4, max_senders: 2, ..Limits::default() });
        assert_eq!(reassembler.push_known(from(0x100, 1, 2, "ab")), Ok(None));
        assert_eq!(reassembler.push_known(from(0x101, 1, 2, "cd")), Ok(None));
        assert_eq!(reassembler.push_known(from(0x102, 1, 2, "e")), Err(FragmentError::TooManySenders { limit: 2 }));
        assert_eq!(reassembler.push_known(from(0x101, 2, 2, "ef")), Err(FragmentError::TooLarge { limit: 4 }));
        assert_eq!(reassembler.push(from(0x102, 1, 2, "e")), Ok(None));
        assert_eq!(reassembler.push(from(0x103, 1, 2, "e")), Err(FragmentError::TooManySenders { limit: 2 }));
        assert_eq!(reassembler.push(from(0x100, 2, 2, "cd")), Err(FragmentError::TooLarge { limit: 4 }));
    }

    #[test]
    fn the_last_piece_number_does_not_overflow() {
        let mut reassembler = Reassembler::new(Limits { max_pieces: u16::MAX, ..Limits::default() });
        assert_eq!(reassembler.push(piece(1, u16::MAX, "a")), Ok(None));
        assert_eq!(
            reassembler.push(piece(u16::MAX, u16::MAX, "z")),
            Err(FragmentError::OutOfOrder { k: 65535, n: 65535 })
        );
    }
}
