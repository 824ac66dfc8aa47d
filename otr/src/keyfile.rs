//! libotr's files, as Pidgin, Adium and irssi-otr write them: the private
//! key file (a libgcrypt S-expression), the fingerprints file and the
//! instance-tag file. `shared/refs/otr-key-storage-formats.txt` describes
//! them; the rules below follow libotr 4.1 (privkey.c, instag.c) and
//! libgcrypt 1.10 (sexp.c), which wrote and read them.
//!
//! Files are read as bytes, never as text: libgcrypt writes names and even
//! key values as quoted strings holding raw 8-bit bytes.

use thiserror::Error;
use zeroize::Zeroizing;

use crate::dsa::{DsaError, PrivateKey};

/// A key file larger than this is not a key file (one account takes about
/// 1.3 KB); refusing it bounds the memory a hostile file can make us use.
pub const MAX_FILE_BYTES: usize = 4 << 20;
/// Lists nest four deep in a key file (privkeys, account, private-key, dsa,
/// p); the cap keeps a hostile file from exhausting the stack.
pub const MAX_DEPTH: usize = 32;
/// libotr reads the fingerprint and instance-tag files with fgets into a
/// 1000-byte buffer: a line is at most 999 bytes, newline included.
pub const MAX_LINE_BYTES: usize = 999;
/// Instance tags below this are reserved (libotr's OTRL_MIN_VALID_INSTAG).
pub const MIN_INSTANCE_TAG: u32 = 0x100;
/// The first line libotr writes into an instance-tag file. It has no tab,
/// so readers skip it.
pub const INSTANCE_TAG_HEADER: &str =
    "# WARNING! You shouldn't copy this file to another computer. It is unnecessary and can cause problems.";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyFileError {
    #[error("the file is {0} bytes long, more than any key file")]
    TooLarge(usize),
    #[error("the file holds no S-expression")]
    Empty,
    #[error("the key file is malformed at byte {offset}: {problem}")]
    Syntax { offset: usize, problem: &'static str },
    #[error("the key file nests lists more than {MAX_DEPTH} deep (at byte {0})")]
    TooDeep(usize),
    #[error("the file is not a libotr key file: it does not start with (privkeys")]
    NotPrivkeys,
    #[error("the {field} {problem}")]
    Unwritable { field: &'static str, problem: &'static str },
}

/// Why one account entry of a key file was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EntryError {
    #[error("it is not an (account ...) list")]
    NotAccount,
    #[error("it has no {0}")]
    Missing(&'static str),
    #[error("its {0} is not UTF-8 text")]
    NotText(&'static str),
    #[error("its {0} contains a NUL byte")]
    ContainsNul(&'static str),
    #[error("its key is not a DSA key")]
    NotDsa,
    #[error("its key is unusable: {0}")]
    Key(#[from] DsaError),
    #[error("a later entry for the same account and protocol replaces it (libotr uses the last one)")]
    Replaced,
}

/// One account's key.
#[derive(Debug, Clone)]
pub struct AccountKey {
    pub account: String,
    pub protocol: String,
    pub key: PrivateKey,
}

/// An entry of the key file that was not read, and why, so that an import
/// can tell the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedEntry {
    /// 1 for the first entry after "privkeys".
    pub position: usize,
    pub account: Option<String>,
    pub protocol: Option<String>,
    pub reason: EntryError,
}

/// What a key file held: the usable keys, in file order, and what was
/// skipped. libotr gives up on the whole file at the first bad entry; we
/// keep the good ones and say why the others were left out.
#[derive(Debug, Clone, Default)]
pub struct PrivateKeys {
    pub keys: Vec<AccountKey>,
    pub skipped: Vec<SkippedEntry>,
}

// ---------------------------------------------------------------------------
// S-expressions

/// A parsed S-expression. Atoms may be key values, so they are wiped.
enum Sexp {
    Atom(Zeroizing<Vec<u8>>),
    List(Vec<Sexp>),
}

impl Sexp {
    fn atom(&self) -> Option<&[u8]> {
        match self {
            Sexp::Atom(bytes) => Some(bytes),
            Sexp::List(_) => None,
        }
    }

    /// libgcrypt's gcry_sexp_find_token: the first list, in document order
    /// and at any depth (this one included), whose first element is the
    /// atom `token`.
    fn find_token(&self, token: &[u8]) -> Option<&[Sexp]> {
        match self {
            Sexp::List(items) => find_token(items, token),
            Sexp::Atom(_) => None,
        }
    }
}

/// [`Sexp::find_token`] on a list's items.
fn find_token<'s>(items: &'s [Sexp], token: &[u8]) -> Option<&'s [Sexp]> {
    if items.first().and_then(Sexp::atom) == Some(token) {
        return Some(items);
    }
    items.iter().find_map(|item| item.find_token(token))
}

/// libgcrypt's whitespacep.
fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | 0x0b | 0x0c | b'\r' | b'\n')
}

/// Bytes of a bare token (libgcrypt's tokenchars). A digit cannot start
/// one: there it starts a length prefix.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-./_:*+=".contains(&byte)
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, problem: &'static str) -> KeyFileError {
        KeyFileError::Syntax { offset: self.at, problem }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.at += 1;
        }
    }

    /// A list; the opening parenthesis has been consumed.
    fn list(&mut self, depth: usize) -> Result<Sexp, KeyFileError> {
        if depth > MAX_DEPTH {
            return Err(KeyFileError::TooDeep(self.at));
        }
        let mut items = Vec::new();
        loop {
            self.skip_space();
            let Some(byte) = self.peek() else {
                return Err(self.error("the file ends inside a list (unbalanced parentheses)"));
            };
            match byte {
                b')' => {
                    self.at += 1;
                    return Ok(Sexp::List(items));
                }
                b'(' => {
                    self.at += 1;
                    items.push(self.list(depth + 1)?);
                }
                _ => items.push(Sexp::Atom(self.atom()?)),
            }
        }
    }

    fn atom(&mut self) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
        match self.peek() {
            Some(b'"') => {
                self.at += 1;
                self.quoted()
            }
            Some(b'#') => {
                self.at += 1;
                self.hex()
            }
            Some(b'|') => {
                self.at += 1;
                self.base64()
            }
            Some(b'0') => Err(self.error("a length may not begin with 0")),
            Some(byte) if byte.is_ascii_digit() => self.with_length(),
            Some(byte) if is_token_byte(byte) => {
                let start = self.at;
                while self.peek().is_some_and(is_token_byte) {
                    self.at += 1;
                }
                Ok(Zeroizing::new(self.bytes[start..self.at].to_vec()))
            }
            Some(b'[') => Err(self.error("display hints have no place in a key file")),
            _ => Err(self.error("a byte that cannot start a value")),
        }
    }

    /// `N:bytes` verbatim, or a length before a quoted, hex or base64 value
    /// (which libgcrypt ignores, and so do we).
    fn with_length(&mut self) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
        let mut length: usize = 0;
        while let Some(byte) = self.peek().filter(u8::is_ascii_digit) {
            length = length
                .checked_mul(10)
                .and_then(|value| value.checked_add(usize::from(byte - b'0')))
                .filter(|&value| value <= MAX_FILE_BYTES)
                .ok_or_else(|| self.error("a length longer than the file"))?;
            self.at += 1;
        }
        match self.next() {
            Some(b':') => {
                let end = self
                    .at
                    .checked_add(length)
                    .filter(|&end| end <= self.bytes.len())
                    .ok_or_else(|| self.error("a length longer than the rest of the file"))?;
                let value = Zeroizing::new(self.bytes[self.at..end].to_vec());
                self.at = end;
                Ok(value)
            }
            Some(b'"') => self.quoted(),
            Some(b'#') => self.hex(),
            Some(b'|') => self.base64(),
            _ => Err(self.error("a length not followed by ':', '\"', '#' or '|'")),
        }
    }

    /// A quoted string with libgcrypt's C escapes; the opening quote has
    /// been consumed. Other bytes, 8-bit ones included, stand for
    /// themselves.
    fn quoted(&mut self) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
        let mut out = Zeroizing::new(Vec::new());
        loop {
            let Some(byte) = self.next() else {
                return Err(self.error("the file ends inside a quoted string"));
            };
            match byte {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(escape) = self.next() else {
                        return Err(self.error("the file ends inside a quoted string"));
                    };
                    match escape {
                        b'b' => out.push(0x08),
                        b't' => out.push(b'\t'),
                        b'v' => out.push(0x0b),
                        b'n' => out.push(b'\n'),
                        b'f' => out.push(0x0c),
                        b'r' => out.push(b'\r'),
                        b'"' | b'\'' | b'\\' => out.push(escape),
                        b'0'..=b'7' => {
                            let (Some(second), Some(third)) = (self.next(), self.next()) else {
                                return Err(self.error("an octal escape needs three digits"));
                            };
                            if !(b'0'..=b'7').contains(&second) || !(b'0'..=b'7').contains(&third) {
                                return Err(self.error("an octal escape needs three digits"));
                            }
                            // libgcrypt keeps the low 8 bits of \400..\777.
                            let value = u32::from(escape - b'0') * 64 + u32::from(second - b'0') * 8 + u32::from(third - b'0');
                            out.push(value.to_be_bytes()[3]);
                        }
                        b'x' => {
                            let (Some(high), Some(low)) = (self.next(), self.next()) else {
                                return Err(self.error("a \\x escape needs two hex digits"));
                            };
                            match (hex_value(high), hex_value(low)) {
                                (Some(high), Some(low)) => out.push(high << 4 | low),
                                _ => return Err(self.error("a \\x escape needs two hex digits")),
                            }
                        }
                        // A backslash before a line break continues the line.
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.at += 1;
                            }
                        }
                        b'\n' => {
                            if self.peek() == Some(b'\r') {
                                self.at += 1;
                            }
                        }
                        _ => return Err(self.error("an unknown escape in a quoted string")),
                    }
                }
                other => out.push(other),
            }
        }
    }

    /// `#hex#`, whitespace allowed between digits; the opening # has been
    /// consumed.
    fn hex(&mut self) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
        let mut out = Zeroizing::new(Vec::new());
        let mut high: Option<u8> = None;
        loop {
            let Some(byte) = self.next() else {
                return Err(self.error("the file ends inside a #hex# value"));
            };
            if byte == b'#' {
                if high.is_some() {
                    return Err(self.error("a #hex# value with an odd number of digits"));
                }
                return Ok(out);
            }
            if is_space(byte) {
                continue;
            }
            let Some(nibble) = hex_value(byte) else {
                return Err(self.error("a byte that is not a hex digit inside #hex#"));
            };
            match high.take() {
                Some(first) => out.push(first << 4 | nibble),
                None => high = Some(nibble),
            }
        }
    }

    /// `|base64|`. libgcrypt skips these without storing anything; SPKI
    /// defines them as base64 data, which is what we read.
    fn base64(&mut self) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
        use base64::Engine;
        let start = self.at;
        while self.peek().is_some_and(|byte| byte != b'|') {
            self.at += 1;
        }
        if self.next().is_none() {
            return Err(self.error("the file ends inside a |base64| value"));
        }
        let text: Zeroizing<Vec<u8>> =
            Zeroizing::new(self.bytes[start..self.at - 1].iter().copied().filter(|&byte| !is_space(byte)).collect());
        base64::engine::general_purpose::STANDARD
            .decode(&*text)
            .map(Zeroizing::new)
            .map_err(|_| KeyFileError::Syntax { offset: start, problem: "a |base64| value that is not base64" })
    }
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// The one top-level list of a file, in libgcrypt's advanced format.
fn parse_sexp(bytes: &[u8]) -> Result<Sexp, KeyFileError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(KeyFileError::TooLarge(bytes.len()));
    }
    let mut parser = Parser { bytes, at: 0 };
    parser.skip_space();
    match parser.next() {
        None => return Err(KeyFileError::Empty),
        Some(b'(') => {}
        Some(_) => return Err(KeyFileError::NotPrivkeys),
    }
    let sexp = parser.list(1)?;
    parser.skip_space();
    if parser.peek().is_some() {
        return Err(parser.error("more follows the closing parenthesis of the file"));
    }
    Ok(sexp)
}

// ---------------------------------------------------------------------------
// The private key file

/// Reads a libotr private key file (`otr.private_key`, irssi's `otr.key`).
/// The file as a whole must parse and start with "privkeys"; an entry that
/// is not usable is listed in `skipped` with the reason. When two entries
/// name the same account and protocol, the last wins, as in libotr.
pub fn read_private_keys(bytes: &[u8]) -> Result<PrivateKeys, KeyFileError> {
    let sexp = parse_sexp(bytes)?;
    let Sexp::List(items) = &sexp else { return Err(KeyFileError::NotPrivkeys) };
    if items.first().and_then(Sexp::atom) != Some(b"privkeys".as_slice()) {
        return Err(KeyFileError::NotPrivkeys);
    }
    let mut found = PrivateKeys::default();
    let mut positions = Vec::new();
    for (index, entry) in items.iter().enumerate().skip(1) {
        match read_account(entry) {
            Ok(key) => {
                // The last entry for an account is the one libotr uses.
                if let Some(earlier) =
                    found.keys.iter().position(|old| old.account == key.account && old.protocol == key.protocol)
                {
                    let old = found.keys.remove(earlier);
                    found.skipped.push(SkippedEntry {
                        position: positions.remove(earlier),
                        account: Some(old.account),
                        protocol: Some(old.protocol),
                        reason: EntryError::Replaced,
                    });
                }
                found.keys.push(key);
                positions.push(index);
            }
            Err((account, protocol, reason)) => found.skipped.push(SkippedEntry { position: index, account, protocol, reason }),
        }
    }
    found.skipped.sort_by_key(|skipped| skipped.position);
    Ok(found)
}

type EntryFailure = (Option<String>, Option<String>, EntryError);

/// The second element of the list `(token value ...)` found anywhere in
/// `within`, as libotr reads it with find_token and nth_data(.., 1).
fn token_value<'s>(within: &'s [Sexp], token: &'static str) -> Option<&'s [u8]> {
    find_token(within, token.as_bytes())?.get(1)?.atom()
}

fn text_field(within: &[Sexp], token: &'static str, what: &'static str) -> Result<String, EntryError> {
    let bytes = token_value(within, token).ok_or(EntryError::Missing(what))?;
    if bytes.contains(&0) {
        return Err(EntryError::ContainsNul(what));
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| EntryError::NotText(what))
}

fn read_account(entry: &Sexp) -> Result<AccountKey, EntryFailure> {
    let entry = match entry {
        Sexp::List(items) if items.first().and_then(Sexp::atom) == Some(b"account".as_slice()) => items,
        _ => return Err((None, None, EntryError::NotAccount)),
    };
    let account = text_field(entry, "name", "account name");
    let protocol = text_field(entry, "protocol", "protocol");
    let (account, protocol) = match (account, protocol) {
        (Ok(account), Ok(protocol)) => (account, protocol),
        (account, protocol) => {
            let reason = match (&account, &protocol) {
                (Err(reason), _) | (_, Err(reason)) => reason.clone(),
                _ => EntryError::NotAccount,
            };
            return Err((account.ok(), protocol.ok(), reason));
        }
    };
    let fail = |reason: EntryError| (Some(account.clone()), Some(protocol.clone()), reason);
    let Some(private) = find_token(entry, b"private-key") else {
        return Err(fail(EntryError::Missing("private-key")));
    };
    let Some(dsa) = find_token(private, b"dsa") else {
        return Err(fail(EntryError::NotDsa));
    };
    let value = |name: &'static str| token_value(dsa, name).ok_or_else(|| fail(EntryError::Missing(name)));
    let (p, q, g, y, x) = (value("p")?, value("q")?, value("g")?, value("y")?, value("x")?);
    let key = PrivateKey::from_components(p, q, g, y, x).map_err(|error| fail(EntryError::Key(error)))?;
    Ok(AccountKey { account, protocol, key })
}

/// libgcrypt's suitable_encoding: 0 binary (#hex#), 1 quoted string, 2 bare
/// token. Quirks kept on purpose, since the point is to write what libotr
/// writes: a NUL after the first byte does not make a value binary (its
/// strchr finds the string's own terminator), and a value starting with a
/// digit cannot be a token.
fn suitable_encoding(bytes: &[u8]) -> u8 {
    let Some(&first) = bytes.first() else { return 1 };
    if first & 0x80 != 0 || first == 0 {
        return 0;
    }
    let mut maybe_token = true;
    for &byte in bytes {
        if (byte < 0x20 || (0x7f..=0xa0).contains(&byte)) && !b"\x08\t\x0b\n\x0c\r\"'\\\0".contains(&byte) {
            return 0;
        }
        if maybe_token && !byte.is_ascii_alphanumeric() && !b"-./_:*+=".contains(&byte) {
            maybe_token = false;
        }
    }
    if maybe_token && !first.is_ascii_digit() {
        2
    } else {
        1
    }
}

const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";
const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";

/// One atom as gcry_sexp_sprint(GCRYSEXP_FMT_ADVANCED) writes it.
fn write_atom(out: &mut Vec<u8>, bytes: &[u8]) {
    match suitable_encoding(bytes) {
        2 => out.extend_from_slice(bytes),
        1 => {
            out.push(b'"');
            for &byte in bytes {
                let escape = match byte {
                    0x08 => Some(b'b'),
                    b'\t' => Some(b't'),
                    0x0b => Some(b'v'),
                    b'\n' => Some(b'n'),
                    0x0c => Some(b'f'),
                    b'\r' => Some(b'r'),
                    b'"' | b'\'' | b'\\' => Some(byte),
                    _ => None,
                };
                match escape {
                    Some(letter) => out.extend_from_slice(&[b'\\', letter]),
                    None if byte < 0x20 || (0x7f..=0xa0).contains(&byte) => out.extend_from_slice(&[
                        b'\\',
                        b'x',
                        LOWER_HEX[usize::from(byte >> 4)],
                        LOWER_HEX[usize::from(byte & 15)],
                    ]),
                    None => out.push(byte),
                }
            }
            out.push(b'"');
        }
        _ => {
            out.push(b'#');
            // Digit by digit into `out`: no temporary strings holding
            // pieces of x are left behind unwiped.
            for byte in bytes {
                out.extend_from_slice(&[UPPER_HEX[usize::from(byte >> 4)], UPPER_HEX[usize::from(byte & 15)]]);
            }
            out.push(b'#');
        }
    }
}

/// An MPI as libgcrypt stores it in a generated key (GCRYMPI_FMT_STD):
/// the minimal magnitude, with a 00 in front when the top bit is set so it
/// does not read as negative.
fn std_mpi(magnitude: &[u8]) -> Zeroizing<Vec<u8>> {
    let leading = magnitude.iter().take_while(|&&byte| byte == 0).count();
    let magnitude = &magnitude[leading..];
    let mut out = Zeroizing::new(Vec::with_capacity(magnitude.len() + 1));
    if magnitude.first().is_some_and(|first| first & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(magnitude);
    out
}

fn check_c_string(value: &str, field: &'static str) -> Result<(), KeyFileError> {
    if value.as_bytes().contains(&0) {
        return Err(KeyFileError::Unwritable { field, problem: "contains a NUL byte, which libotr cannot read" });
    }
    Ok(())
}

/// The key file exactly as libotr writes it: "(privkeys\n", then per
/// account " (account\n", the sprinted (name ..), (protocol ..) and
/// (private-key (dsa (p ..)(q ..)(g ..)(y ..)(x ..))), and " )\n", then
/// ")\n". The bytes hold x, so they come back wiped on drop.
pub fn write_private_keys(keys: &[AccountKey]) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    let mut out = Zeroizing::new(Vec::new());
    out.extend_from_slice(b"(privkeys\n");
    for entry in keys {
        check_c_string(&entry.account, "account name")?;
        check_c_string(&entry.protocol, "protocol")?;
        let public = entry.key.public_key();
        out.extend_from_slice(b" (account\n(name ");
        write_atom(&mut out, entry.account.as_bytes());
        out.extend_from_slice(b")\n(protocol ");
        write_atom(&mut out, entry.protocol.as_bytes());
        out.extend_from_slice(b")\n(private-key \n (dsa ");
        let x = entry.key.x_bytes();
        for (name, value) in [("p", public.p()), ("q", public.q()), ("g", public.g()), ("y", public.y()), ("x", &x[..])] {
            out.extend_from_slice(b"\n  (");
            out.extend_from_slice(name.as_bytes());
            out.push(b' ');
            write_atom(&mut out, &std_mpi(value));
            out.push(b')');
        }
        out.extend_from_slice(b"\n  )\n )\n )\n");
    }
    out.extend_from_slice(b")\n");
    Ok(out)
}

// ---------------------------------------------------------------------------
// Line files: fingerprints and instance tags

/// The pieces fgets(buffer, 1000, file) returns: up to and including a
/// newline, or 999 bytes, whichever comes first. libotr parses each piece
/// as a line, so a longer line is cut and its tail read as another line;
/// we do the same, to read exactly the entries libotr reads.
fn fgets_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let window = &rest[..rest.len().min(MAX_LINE_BYTES)];
        let length = window.iter().position(|&byte| byte == b'\n').map_or(window.len(), |index| index + 1);
        let (line, tail) = rest.split_at(length);
        rest = tail;
        // libotr then treats the buffer as a C string.
        Some(line.split(|&byte| byte == 0).next().unwrap_or(&[]))
    })
}

/// Splits off the text before the first tab.
fn split_tab(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let index = line.iter().position(|&byte| byte == b'\t')?;
    Some((&line[..index], &line[index + 1..]))
}

/// The text before the line's end: the first CR, or else the first LF
/// (libotr looks for '\r' first). None when the piece has neither.
fn before_eol(text: &[u8]) -> Option<&[u8]> {
    let end = text.iter().position(|&byte| byte == b'\r').or_else(|| text.iter().position(|&byte| byte == b'\n'))?;
    Some(&text[..end])
}

fn utf8(bytes: &[u8]) -> Option<String> {
    String::from_utf8(bytes.to_vec()).ok()
}

/// One line of `otr.fingerprints`: a peer's key seen by one of our
/// accounts, and how far it is trusted ("", "smp", "verified", or anything
/// else a client wrote; see `trust::Trust`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerprintEntry {
    pub peer: String,
    pub account: String,
    pub protocol: String,
    pub fingerprint: [u8; 20],
    pub trust: String,
}

/// A line that was not read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLine {
    /// 1 for the first piece fgets returns.
    pub line: usize,
    pub reason: &'static str,
}

/// Reads `otr.fingerprints` as libotr does: lines without three tabs or
/// without a line end are skipped, the hex must be exactly 40 digits, and
/// trust (after a fourth tab) is optional. Stricter than libotr in two
/// ways: a non-hex digit skips the line (libotr reads it as 0), and so do
/// names that are not UTF-8.
pub fn read_fingerprints(bytes: &[u8]) -> Vec<FingerprintEntry> {
    read_fingerprints_reporting(bytes).0
}

/// [`read_fingerprints`], also saying which lines were skipped and why.
pub fn read_fingerprints_reporting(bytes: &[u8]) -> (Vec<FingerprintEntry>, Vec<SkippedLine>) {
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    for (index, line) in fgets_lines(bytes).enumerate() {
        match fingerprint_line(line) {
            Ok(entry) => entries.push(entry),
            Err(reason) => skipped.push(SkippedLine { line: index + 1, reason }),
        }
    }
    (entries, skipped)
}

fn fingerprint_line(line: &[u8]) -> Result<FingerprintEntry, &'static str> {
    const FEW_TABS: &str = "it has fewer than three tabs";
    let (peer, rest) = split_tab(line).ok_or(FEW_TABS)?;
    let (account, rest) = split_tab(rest).ok_or(FEW_TABS)?;
    let (protocol, rest) = split_tab(rest).ok_or(FEW_TABS)?;
    let (hex, trust) = match split_tab(rest) {
        Some((hex, trust)) => (hex, before_eol(trust).ok_or("it has no line end")?),
        None => (before_eol(rest).ok_or("it has no line end")?, &[][..]),
    };
    if hex.len() != 40 {
        return Err("its fingerprint is not 40 hex digits");
    }
    let mut fingerprint = [0u8; 20];
    for (slot, pair) in fingerprint.iter_mut().zip(hex.chunks(2)) {
        match pair {
            [high, low] => match (hex_value(*high), hex_value(*low)) {
                (Some(high), Some(low)) => *slot = high << 4 | low,
                _ => return Err("its fingerprint is not 40 hex digits"),
            },
            _ => return Err("its fingerprint is not 40 hex digits"),
        }
    }
    const NOT_TEXT: &str = "a name or the trust is not UTF-8 text";
    Ok(FingerprintEntry {
        peer: utf8(peer).ok_or(NOT_TEXT)?,
        account: utf8(account).ok_or(NOT_TEXT)?,
        protocol: utf8(protocol).ok_or(NOT_TEXT)?,
        fingerprint,
        trust: utf8(trust).ok_or(NOT_TEXT)?,
    })
}

/// A field written into a tab-separated line must not contain what ends a
/// field or a line, or what ends a C string.
fn check_field(value: &str, field: &'static str, tabs_allowed: bool) -> Result<(), KeyFileError> {
    let bad = |byte: &u8| matches!(byte, b'\r' | b'\n' | 0) || (!tabs_allowed && *byte == b'\t');
    if value.as_bytes().iter().any(bad) {
        return Err(KeyFileError::Unwritable { field, problem: "contains a tab, a line break or a NUL byte" });
    }
    Ok(())
}

fn check_line_length(line: &str, field: &'static str) -> Result<(), KeyFileError> {
    if line.len() > MAX_LINE_BYTES {
        return Err(KeyFileError::Unwritable { field, problem: "makes a line longer than libotr reads (999 bytes)" });
    }
    Ok(())
}

/// `otr.fingerprints` as libotr writes it:
/// peer \t account \t protocol \t 40 lowercase hex \t trust \n, the last
/// tab always there. Refuses fields libotr could not read back.
pub fn write_fingerprints(entries: &[FingerprintEntry]) -> Result<String, KeyFileError> {
    let mut out = String::new();
    for entry in entries {
        check_field(&entry.peer, "peer name", false)?;
        check_field(&entry.account, "account name", false)?;
        check_field(&entry.protocol, "protocol", false)?;
        // libotr reads everything after the fourth tab as the trust.
        check_field(&entry.trust, "trust", true)?;
        let hex: String = entry.fingerprint.iter().map(|byte| format!("{byte:02x}")).collect();
        let line = format!("{}\t{}\t{}\t{}\t{}\n", entry.peer, entry.account, entry.protocol, hex, entry.trust);
        check_line_length(&line, "fingerprint entry")?;
        out.push_str(&line);
    }
    Ok(out)
}

/// Reads `otr.instance_tags`: account \t protocol \t 8 hex digits. Lines
/// without two tabs (the warning header) are skipped, and so are tags below
/// 0x100, as libotr does. libotr parses the digits with sscanf("%08x"),
/// which would also take a sign or "0x"; we want 8 hex digits.
pub fn read_instance_tags(bytes: &[u8]) -> Vec<(String, String, u32)> {
    fgets_lines(bytes).filter_map(instance_tag_line).collect()
}

fn instance_tag_line(line: &[u8]) -> Option<(String, String, u32)> {
    let (account, rest) = split_tab(line)?;
    let (protocol, rest) = split_tab(rest)?;
    let hex = before_eol(rest)?;
    if hex.len() != 8 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let tag = u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
    if tag < MIN_INSTANCE_TAG {
        return None;
    }
    Some((utf8(account)?, utf8(protocol)?, tag))
}

/// `otr.instance_tags` as libotr writes it: the warning line, then
/// account \t protocol \t %08x per account.
pub fn write_instance_tags(tags: &[(String, String, u32)]) -> Result<String, KeyFileError> {
    let mut out = format!("{INSTANCE_TAG_HEADER}\n");
    for (account, protocol, tag) in tags {
        check_field(account, "account name", false)?;
        check_field(protocol, "protocol", false)?;
        if *tag < MIN_INSTANCE_TAG {
            return Err(KeyFileError::Unwritable { field: "instance tag", problem: "is below 0x100, which is reserved" });
        }
        let line = format!("{account}\t{protocol}\t{tag:08x}\n");
        check_line_length(&line, "instance tag entry")?;
        out.push_str(&line);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;
    use std::sync::OnceLock;

    fn key() -> &'static PrivateKey {
        static KEY: OnceLock<PrivateKey> = OnceLock::new();
        KEY.get_or_init(|| PrivateKey::generate(&mut SeededRng::new(b"keyfile tests")).unwrap())
    }

    fn one_account(account: &str) -> Zeroizing<Vec<u8>> {
        write_private_keys(&[AccountKey { account: account.into(), protocol: "prpl-jabber".into(), key: key().clone() }]).unwrap()
    }

    fn syntax_error(bytes: &[u8]) -> &'static str {
        match read_private_keys(bytes) {
            Err(KeyFileError::Syntax { problem, .. }) => problem,
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn written_files_read_back() {
        let keys = [
            AccountKey { account: "me@example.org/".into(), protocol: "prpl-jabber".into(), key: key().clone() },
            AccountKey { account: "plain".into(), protocol: "IRC".into(), key: key().clone() },
            AccountKey { account: "x ünïcode \"q\" \t\\ 1".into(), protocol: "x".into(), key: key().clone() },
            AccountKey { account: "".into(), protocol: "7".into(), key: key().clone() },
        ];
        let bytes = write_private_keys(&keys).unwrap();
        let read = read_private_keys(&bytes).unwrap();
        assert!(read.skipped.is_empty(), "{:?}", read.skipped);
        for (written, read) in keys.iter().zip(&read.keys) {
            assert_eq!(written.account, read.account);
            assert_eq!(written.protocol, read.protocol);
            assert_eq!(written.key.public_key(), read.key.public_key());
            assert_eq!(*written.key.x_bytes(), *read.key.x_bytes());
        }
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("(name \"me@example.org/\")\n"));
        assert!(text.contains("(name plain)\n(protocol IRC)\n"));
        assert!(text.contains("(protocol \"7\")"));
        assert!(text.contains("(name \"\")"));
        // 'ü' is C3 BC: 0xBC is written raw, as libgcrypt does.
        assert!(bytes.windows(2).any(|pair| pair == [0xc3, 0xbc]));
        assert!(text.contains("\\\"q\\\" \\t\\\\ 1"));
    }

    #[test]
    fn sprint_encodings_follow_libgcrypt() {
        let encode = |bytes: &[u8]| {
            let mut out = Vec::new();
            write_atom(&mut out, bytes);
            out
        };
        assert_eq!(encode(b"prpl-jabber"), b"prpl-jabber");
        assert_eq!(encode(b"1"), b"\"1\"");
        assert_eq!(encode(b""), b"\"\"");
        assert_eq!(encode(&[0x00, 0x41]), b"#0041#");
        assert_eq!(encode(&[0x80]), b"#80#");
        assert_eq!(encode(&[0x41, 0x01]), b"#4101#");
        assert_eq!(encode(&[0x41, 0x00, 0x0a, 0x7f, 0xa1]), b"#41000A7FA1#");
        assert_eq!(encode(&[0x41, 0x00, 0x0a, 0xa1]), b"\"A\\x00\\n\xa1\"");
        // A first byte with the top bit set reads as negative: hex.
        assert_eq!(encode("ü".as_bytes()), b"#C3BC#");
        assert_eq!(&*std_mpi(&[0, 0x80, 1]), &[0, 0x80, 1]);
        assert_eq!(&*std_mpi(&[0, 0, 0x7f]), &[0x7f]);
    }

    #[test]
    fn all_atom_forms_read() {
        let sexp = parse_sexp(b"(a \"q\\x41\\101\\n\\\r\n\xff\" #4 1# 3:a)b |QUI=| 4\"xy\" tok-1.2 [ignored]").err();
        assert!(sexp.is_some(), "display hints are refused");
        let sexp = parse_sexp(b"( a \"q\\x41\\101\\n\\\r\n\xff\" #4 1# 3:a)b |QUI=| 4\"xy\" -tok.2 )").unwrap();
        let Sexp::List(items) = sexp else { panic!() };
        let atoms: Vec<&[u8]> = items.iter().map(|item| item.atom().unwrap()).collect();
        assert_eq!(atoms, [&b"a"[..], b"qAA\n\xff", b"\x41", b"a)b", b"AB", b"xy", b"-tok.2"]);
    }

    #[test]
    fn hostile_key_files() {
        let good = one_account("me@example.org");
        for cut in [1, 10, good.len() / 2, good.len() - 3] {
            assert!(read_private_keys(&good[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(read_private_keys(b"").unwrap_err(), KeyFileError::Empty);
        assert_eq!(read_private_keys(b"  \n").unwrap_err(), KeyFileError::Empty);
        assert_eq!(read_private_keys(b"privkeys").unwrap_err(), KeyFileError::NotPrivkeys);
        assert_eq!(read_private_keys(b"(pubkeys)").unwrap_err(), KeyFileError::NotPrivkeys);
        assert_eq!(read_private_keys(b"((privkeys))").unwrap_err(), KeyFileError::NotPrivkeys);
        assert!(syntax_error(b"(privkeys (account)").contains("unbalanced"));
        assert!(syntax_error(b"(privkeys))").contains("more follows"));
        assert!(syntax_error(b"(privkeys 99999999999999999999:x)").contains("longer"));
        assert!(syntax_error(b"(privkeys 4000000:x)").contains("longer"));
        assert!(syntax_error(b"(privkeys 5:abc)").contains("longer"));
        assert!(syntax_error(b"(privkeys 01:a)").contains("begin with 0"));
        assert!(syntax_error(b"(privkeys 12x)").contains("length"));
        assert!(syntax_error(b"(privkeys #ABC#)").contains("odd"));
        assert!(syntax_error(b"(privkeys #ABXY#)").contains("hex"));
        assert!(syntax_error(b"(privkeys #AB").contains("ends inside"));
        assert!(syntax_error(b"(privkeys \"abc)").contains("ends inside"));
        assert!(syntax_error(b"(privkeys \"\\q\")").contains("escape"));
        assert!(syntax_error(b"(privkeys \"\\x4\")").contains("hex"));
        assert!(syntax_error(b"(privkeys \"\\18\")").contains("octal"));
        assert!(syntax_error(b"(privkeys |abc").contains("ends inside"));
        assert!(syntax_error(b"(privkeys |a*b|)").contains("base64"));
        assert!(syntax_error(b"(privkeys \xff)").contains("cannot start"));
        assert!(syntax_error(b"(privkeys {x})").contains("cannot start"));

        let deep = [vec![b'('; 10_000], vec![b')'; 10_000]].concat();
        assert!(matches!(read_private_keys(&deep), Err(KeyFileError::TooDeep(_))));
        let within = [b"(privkeys ".to_vec(), vec![b'('; MAX_DEPTH - 1], vec![b')'; MAX_DEPTH]].concat();
        assert!(read_private_keys(&within).is_ok());
        let huge = vec![b' '; MAX_FILE_BYTES + 1];
        assert_eq!(read_private_keys(&huge).unwrap_err(), KeyFileError::TooLarge(MAX_FILE_BYTES + 1));
    }

    #[test]
    fn bad_entries_are_skipped_with_reasons() {
        let good = one_account("good");
        let good_text = String::from_utf8(good[10..good.len() - 2].to_vec()).unwrap();
        let broken_x = good_text.replace("(name good)", "(name broken)");
        let x_start = broken_x.find("(x ").unwrap();
        let mut broken_x = broken_x.into_bytes();
        // Change a digit of x: y no longer matches.
        let digit = x_start + 6;
        broken_x[digit] = if broken_x[digit] == b'1' { b'2' } else { b'1' };
        let mut file = b"(privkeys\n".to_vec();
        file.extend_from_slice(good_text.replace("(name good)", "(name first)").as_bytes());
        file.extend_from_slice(b" (account (name \"\xff\xfe\") (protocol x) (private-key (dsa)))\n");
        file.extend_from_slice(b" (account (name \"nul\\x00\") (protocol x))\n");
        file.extend_from_slice(b" (account (protocol x))\n");
        file.extend_from_slice(b" (account (name n) (protocol x) (private-key (rsa (n #01#))))\n");
        file.extend_from_slice(b" (account (name n) (protocol x) (private-key (dsa (p #01#))))\n");
        file.extend_from_slice(b" stray\n (other)\n");
        file.extend_from_slice(&broken_x);
        file.extend_from_slice(good_text.replace("(name good)", "(name first)").as_bytes());
        file.extend_from_slice(b")\n");
        let read = read_private_keys(&file).unwrap();
        assert_eq!(read.keys.len(), 1);
        assert_eq!(read.keys[0].account, "first");
        let reasons: Vec<(usize, &EntryError)> = read.skipped.iter().map(|skipped| (skipped.position, &skipped.reason)).collect();
        assert_eq!(
            reasons,
            [
                (1, &EntryError::Replaced),
                (2, &EntryError::NotText("account name")),
                (3, &EntryError::ContainsNul("account name")),
                (4, &EntryError::Missing("account name")),
                (5, &EntryError::NotDsa),
                (6, &EntryError::Missing("q")),
                (7, &EntryError::NotAccount),
                (8, &EntryError::NotAccount),
                (9, &EntryError::Key(DsaError::KeyMismatch)),
            ]
        );
        assert_eq!(read.skipped[8].account.as_deref(), Some("broken"));
        assert_eq!(read.skipped[3].protocol.as_deref(), Some("x"));
        // The reasons read as plain words.
        assert_eq!(read.skipped[1].reason.to_string(), "its account name is not UTF-8 text");
    }

    #[test]
    fn unwritable_names_are_refused() {
        let entry = AccountKey { account: "a\0b".into(), protocol: "p".into(), key: key().clone() };
        assert!(write_private_keys(&[entry]).is_err());
    }

    fn entry(peer: &str, trust: &str) -> FingerprintEntry {
        FingerprintEntry {
            peer: peer.into(),
            account: "me@example.org".into(),
            protocol: "prpl-jabber".into(),
            fingerprint: core::array::from_fn(|index| index as u8 * 11),
            trust: trust.into(),
        }
    }

    #[test]
    fn fingerprint_lines() {
        let entries = [entry("a@b", "smp"), entry("c@d", ""), entry("e@f", "verified\tby hand")];
        let text = write_fingerprints(&entries).unwrap();
        assert!(text.starts_with("a@b\tme@example.org\tprpl-jabber\t000b16212c37424d58636e79848f9aa5b0bbc6d1\tsmp\n"));
        assert!(text.contains("\t\n"));
        assert_eq!(read_fingerprints(text.as_bytes()), entries);

        let hex = "000b16212c37424d58636e79848f9aa5b0bbc6d1";
        let input = format!(
            "no tabs here\n\
             a\tb\tc\n\
             x\ty\tz\t{hex}\r\n\
             x\ty\tz\t{}\n\
             x\ty\tz\t{hex}0\tsmp\n\
             x\ty\tz\t{}\t\n\
             \u{ff}\ty\tz\t{hex}\t\n\
             x\ty\tz\t{hex}\tverified\r\n\
             x\ty\tz\t{hex}\tno line end",
            hex.to_uppercase(),
            hex.replace('0', "g"),
        );
        let mut bytes = input.into_bytes();
        // Not UTF-8: the \xff above went in as U+00FF; make it a lone byte.
        let at = bytes.windows(2).position(|pair| pair == [0xc3, 0xbf]).unwrap();
        bytes.splice(at..at + 2, [0xff]);
        let (read, skipped) = read_fingerprints_reporting(&bytes);
        assert_eq!(read.len(), 3);
        assert_eq!(read[0].trust, "");
        assert_eq!(read[1].fingerprint, read[0].fingerprint, "upper case hex reads too");
        assert_eq!(read[2].trust, "verified");
        let lines: Vec<usize> = skipped.iter().map(|skipped| skipped.line).collect();
        assert_eq!(lines, [1, 2, 5, 6, 7, 9]);
    }

    #[test]
    fn long_lines_are_cut_like_fgets() {
        let hex = "000b16212c37424d58636e79848f9aa5b0bbc6d1";
        // 999 bytes of one line, then a valid-looking tail: fgets hands the
        // tail over as a line of its own, and libotr (and we) read it.
        let tail = format!("p\ta\tq\t{hex}\t\n");
        let head = "x".repeat(MAX_LINE_BYTES);
        let read = read_fingerprints(format!("{head}{tail}").as_bytes());
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].peer, "p");
        let long = entry(&"p".repeat(990), "");
        assert!(write_fingerprints(&[long]).is_err());
        assert!(write_fingerprints(&[entry("a\tb", "")]).is_err());
        assert!(write_fingerprints(&[entry("ab", "x\ny")]).is_err());
        // A NUL ends the C string: the rest of that line is not seen.
        let read = read_fingerprints(format!("p\ta\tq\t{hex}\0\t\n").as_bytes());
        assert!(read.is_empty());
    }

    #[test]
    fn instance_tag_lines() {
        let tags =
            vec![("me@example.org".to_owned(), "prpl-jabber".to_owned(), 0x1234_abcd), ("1".to_owned(), "x".to_owned(), 0x100)];
        let text = write_instance_tags(&tags).unwrap();
        assert!(text.starts_with("# WARNING!"));
        assert!(text.ends_with("1\tx\t00000100\n"));
        assert_eq!(read_instance_tags(text.as_bytes()), tags);
        let input = b"a\tb\t000000ff\na\tb\t0x123456\na\tb\t1234567\na\tb\t123456789\na\tb\tzzzzzzzz\na\tb\t\xff\xff\nc\td\tFFFFFFFF\r\n\xff\tb\t12345678\na\tb\t12345678";
        assert_eq!(read_instance_tags(input), [("c".to_owned(), "d".to_owned(), 0xffff_ffff)]);
        assert!(write_instance_tags(&[("a".into(), "b".into(), 0xff)]).is_err());
        assert!(write_instance_tags(&[("a\tb".into(), "b".into(), 0x1000)]).is_err());
    }
}
