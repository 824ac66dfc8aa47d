//! Parsing the text front end's command lines (TEXT-FRONTEND.md).

use ipc::jid::BareJid;
use ipc::import::{ImportRequest, ImportSource};
use ipc::otr::OtrRequest;
use ipc::UnlockMode;
use ipc::secret::{Passphrase, SecretText};
use ipc::xmpp::{AccountRequest, NewAccount, TorMode, Transport};

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Unlock(Passphrase, UnlockMode),
    ChangePassphrase(Passphrase),
    Status,
    Quit,
    Ping { count: usize, size: usize },
    AddAccount(NewAccount),
    Account { account: String, request: AccountRequest },
    Send { account: String, peer: String, text: SecretText },
    Otr { account: String, request: OtrRequest },
    Import(ImportRequest),
    /// `/register DOMAIN [options]`: the options of `/account add`.
    Register(NewAccount),
    /// `/register-answer N VAR=VALUE…`, split by the form's own field names.
    RegisterAnswers { registration: u64, text: String },
    RegisterCancel { registration: u64 },
    /// `/preference larger-text on|off`: a front-end setting kept in the store.
    LargerText(bool),
}

const POLICIES: [&str; 4] = ["never", "opportunistic", "manual", "require"];

/// `Ok(None)` for a blank line; `Err` carries plain words for the user.
pub fn parse(line: &str) -> Result<Option<Command>, String> {
    let line = line.trim_end_matches(['\r', '\n']);
    let trimmed = line.trim_start();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let (word, rest) = match trimmed.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest),
        None => (trimmed, ""),
    };
    let command = match word {
        // The passphrase is the rest of the line, inner spaces included.
        "/unlock" => Command::Unlock(passphrase_of(rest, "usage: /unlock PASSPHRASE")?, UnlockMode::Store),
        "/unlock-backup" => Command::Unlock(passphrase_of(rest, "usage: /unlock-backup PASSPHRASE")?, UnlockMode::Backup),
        "/unlock-without-passphrase" if rest.trim().is_empty() => Command::Unlock(Passphrase::new(String::new()), UnlockMode::NoPassphrase),
        "/unlock-without-passphrase" => return Err("/unlock-without-passphrase takes nothing after it".into()),
        "/preference" => match rest.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["larger-text", "on"] => Command::LargerText(true),
            ["larger-text", "off"] => Command::LargerText(false),
            _ => return Err("usage: /preference larger-text on|off".into()),
        },
        "/passphrase" => Command::ChangePassphrase(passphrase_of(rest, "usage: /passphrase NEW-PASSPHRASE")?),
        "/status" => Command::Status,
        "/quit" => Command::Quit,
        "/ping" => parse_ping(rest)?,
        "/account" => parse_account(rest)?,
        "/connect" => account_request(rest, "/connect JID", |_| Ok(AccountRequest::Connect))?,
        "/disconnect" => account_request(rest, "/disconnect JID", |_| Ok(AccountRequest::Disconnect))?,
        "/roster" => account_request(rest, "/roster JID", |_| Ok(AccountRequest::Roster))?,
        "/subscribe" => account_request(rest, "/subscribe JID PEER", |peer| Ok(AccountRequest::Subscribe { peer: peer_of(peer)? }))?,
        "/approve" => account_request(rest, "/approve JID PEER", |peer| Ok(AccountRequest::Approve { peer: peer_of(peer)? }))?,
        "/msg" => parse_msg(rest)?,
        "/otr" => parse_otr(rest)?,
        "/fingerprint" => parse_fingerprint(rest)?,
        "/trust" => parse_trust(rest)?,
        "/smp" => parse_smp(rest)?,
        "/smp-answer" => parse_smp_answer(rest)?,
        "/policy" => parse_policy(rest)?,
        "/import" => parse_import(rest)?,
        "/register" => parse_register(rest)?,
        "/register-answer" => {
            let rest = rest.trim();
            let (number, text) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            Command::RegisterAnswers { registration: registration_number(number, "usage: /register-answer NUMBER FIELD=VALUE…")?, text: text.trim().to_owned() }
        }
        "/register-cancel" => Command::RegisterCancel { registration: registration_number(rest.trim(), "usage: /register-cancel NUMBER")? },
        other if other.starts_with('/') => return Err(format!("unknown command {other}")),
        _ => return Err("commands start with /; try /status".into()),
    };
    Ok(Some(command))
}

fn passphrase_of(rest: &str, usage: &str) -> Result<Passphrase, String> {
    let passphrase = rest.trim();
    if passphrase.is_empty() {
        return Err(usage.into());
    }
    Ok(Passphrase::new(passphrase.to_string()))
}

fn parse_ping(rest: &str) -> Result<Command, String> {
    let usage = || format!("usage: /ping [COUNT up to {}] [SIZE up to {}]", crate::ping::MAX_COUNT, crate::ping::MAX_SIZE);
    let mut numbers = rest.split_whitespace().map(|word| word.parse::<usize>());
    let count = numbers.next().transpose().map_err(|_| usage())?.unwrap_or(100);
    let size = numbers.next().transpose().map_err(|_| usage())?.unwrap_or(64);
    if numbers.next().is_some() || count == 0 || count > crate::ping::MAX_COUNT || size > crate::ping::MAX_SIZE {
        return Err(usage());
    }
    Ok(Command::Ping { count, size })
}

fn account_of(word: &str) -> Result<String, String> {
    Ok(BareJid::parse(word)?.as_string())
}

fn peer_of(word: Option<&str>) -> Result<String, String> {
    let word = word.ok_or("name the peer's address")?;
    Ok(BareJid::parse(word)?.as_string())
}

/// `/connect JID` and its kin: the account, maybe a peer, nothing more.
fn account_request(
    rest: &str,
    usage: &str,
    request: impl FnOnce(Option<&str>) -> Result<AccountRequest, String>,
) -> Result<Command, String> {
    let words: Vec<&str> = rest.split_whitespace().collect();
    let wants_peer = usage.contains("PEER");
    if words.len() != 1 + usize::from(wants_peer) {
        return Err(format!("usage: {usage}"));
    }
    Ok(Command::Account { account: account_of(words[0])?, request: request(words.get(1).copied())? })
}

/// `/msg JID PEER TEXT…`: the text is the rest of the line, spaces kept.
fn parse_msg(rest: &str) -> Result<Command, String> {
    const USAGE: &str = "usage: /msg JID PEER TEXT";
    let rest = rest.trim_start();
    let (account, rest) = rest.split_once(char::is_whitespace).ok_or(USAGE)?;
    let rest = rest.trim_start();
    let (peer, text) = rest.split_once(char::is_whitespace).ok_or(USAGE)?;
    let text = text.trim_start();
    if text.is_empty() {
        return Err(USAGE.into());
    }
    Ok(Command::Send { account: account_of(account)?, peer: peer_of(Some(peer))?, text: SecretText::new(text.to_owned()) })
}

/// `/otr start|end JID PEER`.
fn parse_otr(rest: &str) -> Result<Command, String> {
    const USAGE: &str = "usage: /otr start|end JID PEER";
    let words: Vec<&str> = rest.split_whitespace().collect();
    let [action, account, peer] = words[..] else { return Err(USAGE.into()) };
    let (account, peer) = (account_of(account)?, peer_of(Some(peer))?);
    let request = match action {
        "start" => OtrRequest::Start { peer },
        "end" => OtrRequest::End { peer },
        _ => return Err(USAGE.into()),
    };
    Ok(Command::Otr { account, request })
}

/// `/fingerprint JID [PEER]`.
fn parse_fingerprint(rest: &str) -> Result<Command, String> {
    let words: Vec<&str> = rest.split_whitespace().collect();
    let (account, peer) = match words[..] {
        [account] => (account, None),
        [account, peer] => (account, Some(peer_of(Some(peer))?)),
        _ => return Err("usage: /fingerprint JID [PEER]".into()),
    };
    Ok(Command::Otr { account: account_of(account)?, request: OtrRequest::Fingerprint { peer } })
}

/// `/trust JID PEER FINGERPRINT`: the fingerprint may keep its spaces.
fn parse_trust(rest: &str) -> Result<Command, String> {
    const USAGE: &str = "usage: /trust JID PEER FINGERPRINT";
    let mut words = rest.split_whitespace();
    let (Some(account), Some(peer)) = (words.next(), words.next()) else { return Err(USAGE.into()) };
    let fingerprint: String = words.collect::<Vec<_>>().join(" ");
    if fingerprint.is_empty() {
        return Err(USAGE.into());
    }
    Ok(Command::Otr { account: account_of(account)?, request: OtrRequest::Trust { peer: peer_of(Some(peer))?, fingerprint } })
}

/// `JID PEER REST…` with the rest kept as typed.
fn account_peer_rest<'a>(rest: &'a str, usage: &str) -> Result<(String, String, &'a str), String> {
    let rest = rest.trim_start();
    let (account, rest) = rest.split_once(char::is_whitespace).ok_or(usage)?;
    let rest = rest.trim_start();
    let (peer, text) = rest.split_once(char::is_whitespace).ok_or(usage)?;
    let text = text.trim_start();
    if text.is_empty() {
        return Err(usage.into());
    }
    Ok((account_of(account)?, peer_of(Some(peer))?, text))
}

/// `/smp JID PEER SECRET` or `/smp JID PEER QUESTION ? SECRET`.
fn parse_smp(rest: &str) -> Result<Command, String> {
    const USAGE: &str = "usage: /smp JID PEER SECRET, or /smp JID PEER QUESTION ? SECRET";
    let (account, peer, text) = account_peer_rest(rest, USAGE)?;
    if text.starts_with("? ") {
        return Err(format!("the question before \" ? \" is empty; {USAGE}"));
    }
    let (question, secret) = match text.split_once(" ? ") {
        Some((question, secret)) => (Some(SecretText::new(question.trim().to_owned())), secret.trim()),
        None => (None, text),
    };
    if secret.is_empty() || question.as_ref().is_some_and(|question| question.expose().is_empty()) {
        return Err(USAGE.into());
    }
    Ok(Command::Otr { account, request: OtrRequest::Smp { peer, question, secret: SecretText::new(secret.to_owned()) } })
}

/// `/smp-answer JID PEER SECRET`.
fn parse_smp_answer(rest: &str) -> Result<Command, String> {
    let (account, peer, secret) = account_peer_rest(rest, "usage: /smp-answer JID PEER SECRET")?;
    Ok(Command::Otr { account, request: OtrRequest::SmpAnswer { peer, secret: SecretText::new(secret.to_owned()) } })
}

/// `/policy JID [PEER] never|opportunistic|manual|require [v2=allow|deny]`.
fn parse_policy(rest: &str) -> Result<Command, String> {
    const USAGE: &str = "usage: /policy JID [PEER] never|opportunistic|manual|require [v2=allow|deny]";
    let mut words: Vec<&str> = rest.split_whitespace().collect();
    let allow_v2 = match words.last().and_then(|word| word.strip_prefix("v2=")) {
        Some("allow") => Some(true),
        Some("deny") => Some(false),
        Some(_) => return Err(USAGE.into()),
        None => None,
    };
    if allow_v2.is_some() {
        words.pop();
    }
    let (account, peer, policy) = match words[..] {
        [account, policy] => (account, None, policy),
        [account, peer, policy] => (account, Some(peer_of(Some(peer))?), policy),
        _ => return Err(USAGE.into()),
    };
    if !POLICIES.contains(&policy) {
        return Err(USAGE.into());
    }
    Ok(Command::Otr { account: account_of(account)?, request: OtrRequest::Policy { peer, policy: policy.to_owned(), allow_v2 } })
}

/// `/import pidgin|adium|gajim|xmpp-client|coyim [DIR] [passphrase=WORDS…]`:
/// the passphrase (for CoyIM's encrypted file) is the rest of the line.
fn parse_import(rest: &str) -> Result<Command, String> {
    const USAGE: &str = "usage: /import pidgin|adium|gajim|xmpp-client|coyim [DIR] [passphrase=PASSPHRASE]";
    let (before, passphrase) = match rest.split_once("passphrase=") {
        Some((before, passphrase)) if !passphrase.trim().is_empty() => (before, Some(SecretText::new(passphrase.trim().to_owned()))),
        Some(_) => return Err(USAGE.into()),
        None => (rest, None),
    };
    let words: Vec<&str> = before.split_whitespace().collect();
    let (source, directory) = match words[..] {
        [source] => (source, None),
        [source, directory] => (source, Some(absolute(directory)?)),
        _ => return Err(USAGE.into()),
    };
    let source = ImportSource::from_name(source).ok_or(USAGE)?;
    Ok(Command::Import(ImportRequest { source, directory, passphrase }))
}

fn registration_number(word: &str, usage: &str) -> Result<u64, String> {
    word.parse().map_err(|_| usage.to_owned())
}

/// `/register DOMAIN [options of /account add]`: a new account on DOMAIN,
/// its name and password chosen by the key process.
fn parse_register(rest: &str) -> Result<Command, String> {
    const USAGE: &str = "usage: /register DOMAIN [server=HOST:PORT] [ca=PEM_PATH] [onion=NAME.onion[:PORT]] [tor=auto|system|embedded] [policy=never|opportunistic|manual|require] [pin=sha256/BASE64] [tls=starttls|direct]";
    let mut words = rest.split_whitespace();
    let domain = words.next().ok_or(USAGE)?;
    let mut account = new_registration(domain)?;
    for option in words {
        let (key, value) = option.split_once('=').ok_or_else(|| format!("{option} is not KEY=VALUE; {USAGE}"))?;
        if key == "plain" {
            return Err(format!("plain= is not for a new account: a server without SCRAM is not one to create an account on; {USAGE}"));
        }
        account_option(&mut account, key, value).map_err(|problem| if problem.is_empty() { format!("unknown option {key}=; {USAGE}") } else { problem })?;
    }
    Ok(Command::Register(finish_account(account)?))
}

/// A registration on `domain` with Burrow's defaults; the text and GTK
/// front ends both start from it. The name and password stay empty: the
/// key process chooses them.
pub fn new_registration(domain: &str) -> Result<NewAccount, String> {
    let domain = domain.trim().trim_end_matches('.').to_lowercase();
    match BareJid::parse_full(&domain) {
        Ok((jid, None)) if jid.local.is_empty() && jid.domain.contains('.') || domain == "localhost" => {}
        _ => return Err(format!("{domain} is not a server's name; give a domain such as example.org (no user name: Burrow chooses one)")),
    }
    Ok(NewAccount {
        jid: domain,
        password: SecretText::new(String::new()),
        server: None,
        onion: None,
        transport: Transport::StartTls,
        ca_path: None,
        ca_pem: None,
        spki_pin: None,
        tor: TorMode::Auto,
        policy: None,
        allow_plain: false,
    })
}

/// `VAR=VALUE VAR=VALUE…` where a value runs, spaces and all, up to the next
/// ` VAR=` that names one of the form's fields.
pub fn split_answers(text: &str, vars: &[&str]) -> Result<Vec<(String, String)>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    // Where each answer begins: the start, and each space before a known `VAR=`.
    let starts_here = |at: usize| vars.iter().find(|var| text[at..].starts_with(&format!("{var}=")));
    let mut starts: Vec<(usize, &str)> = Vec::new();
    for (at, _) in text.char_indices() {
        if at == 0 || text[..at].ends_with(' ') {
            if let Some(var) = starts_here(at) {
                starts.push((at, var));
            }
        }
    }
    match starts.first() {
        Some((0, _)) => {}
        _ => return Err(format!("answers are FIELD=VALUE with a field of the form ({})", vars.join(", "))),
    }
    let mut answers = Vec::new();
    for (index, (at, var)) in starts.iter().enumerate() {
        let end = starts.get(index + 1).map(|(next, _)| *next).unwrap_or(text.len());
        let value = text[at + var.len() + 1..end].trim().to_owned();
        if answers.iter().any(|(known, _): &(String, String)| known == var) {
            return Err(format!("{var} is answered twice"));
        }
        answers.push(((*var).to_owned(), value));
    }
    Ok(answers)
}

/// `/account add JID PASSWORD [server=HOST:PORT] [ca=PEM_PATH] [tor=…]
/// [policy=…]`, and Burrow's own options `onion=NAME.onion[:PORT]`,
/// `pin=sha256/BASE64`, `tls=starttls|direct` and `plain=allow`.
fn parse_account(rest: &str) -> Result<Command, String> {
    const USAGE: &str = "usage: /account add JID PASSWORD [server=HOST:PORT] [ca=PEM_PATH] [onion=NAME.onion[:PORT]] [tor=auto|system|embedded] [policy=never|opportunistic|manual|require] [pin=sha256/BASE64] [tls=starttls|direct] [plain=allow]";
    let mut words = rest.split_whitespace();
    if words.next() != Some("add") {
        return Err(USAGE.into());
    }
    let jid = words.next().ok_or(USAGE)?;
    let password = words.next().ok_or(USAGE)?;
    let mut account = new_account(jid, SecretText::new(password.to_owned()))?;
    for option in words {
        let (key, value) = option.split_once('=').ok_or_else(|| format!("{option} is not KEY=VALUE; {USAGE}"))?;
        account_option(&mut account, key, value).map_err(|problem| if problem.is_empty() { format!("unknown option {key}=; {USAGE}") } else { problem })?;
    }
    Ok(Command::AddAccount(finish_account(account)?))
}

/// The checks that need every option: `server=` and `onion=` both say
/// where to connect; an onion without a port takes the transport's
/// standard one, as the domain does.
pub fn finish_account(mut account: NewAccount) -> Result<NewAccount, String> {
    if let Some((host, port)) = account.onion.take() {
        if account.server.is_some() {
            return Err("server= and onion= both say where to connect; give one of them".into());
        }
        let port = if port != 0 { port } else if account.transport == Transport::DirectTls { 5223 } else { 5222 };
        account.onion = Some((host, port));
    }
    Ok(account)
}

/// An account with Burrow's defaults (STARTTLS, Tor chosen automatically);
/// the text and GTK front ends both start from it.
pub fn new_account(jid: &str, password: SecretText) -> Result<NewAccount, String> {
    if password.expose().is_empty() {
        return Err("the password is empty".into());
    }
    Ok(NewAccount {
        jid: account_of(jid.trim())?,
        password,
        server: None,
        onion: None,
        transport: Transport::StartTls,
        ca_path: None,
        ca_pem: None,
        spki_pin: None,
        tor: TorMode::Auto,
        policy: None,
        allow_plain: false,
    })
}

/// One `/account add` option, checked; the GTK form's fields go through the
/// same checks. An unknown key is an empty error, for the caller to word.
pub fn account_option(account: &mut NewAccount, key: &str, value: &str) -> Result<(), String> {
    match key {
        "server" => account.server = Some(parse_server(value)?),
        // Port 0 until `finish_account`, which knows the transport.
        "onion" => account.onion = Some(parse_onion(value).map(|(host, port)| (host, port.unwrap_or(0)))?),
        "ca" => account.ca_path = Some(absolute(value)?),
        "tor" => {
            account.tor = match value {
                "auto" => TorMode::Auto,
                "system" => TorMode::System,
                "embedded" => TorMode::Embedded,
                _ => return Err("tor= takes auto, system or embedded".into()),
            }
        }
        "policy" if POLICIES.contains(&value) => account.policy = Some(value.to_owned()),
        "policy" => return Err("policy= takes never, opportunistic, manual or require".into()),
        "pin" => {
            let valid = value.strip_prefix("sha256/").is_some_and(|hash| hash.len() == 44 && hash.ends_with('='));
            if !valid {
                return Err("pin= takes sha256/ followed by the base64 SHA-256 of the server's public key".into());
            }
            account.spki_pin = Some(value.to_owned());
        }
        "tls" => {
            account.transport = match value {
                "starttls" => Transport::StartTls,
                "direct" => Transport::DirectTls,
                _ => return Err("tls= takes starttls or direct".into()),
            }
        }
        "plain" if value == "allow" => account.allow_plain = true,
        _ => return Err(String::new()),
    }
    Ok(())
}

/// `NAME.onion` or `NAME.onion:PORT`, a valid v3 address.
fn parse_onion(value: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = match value.rsplit_once(':') {
        Some((host, port)) => (host, Some(port.parse::<u16>().ok().filter(|port| *port != 0).ok_or_else(|| format!("onion= takes NAME.onion or NAME.onion:PORT, and {port} is not a port"))?)),
        None => (value, None),
    };
    let host = ipc::onion::validate_v3(host).map_err(|error| format!("onion= takes a v3 onion address: {error}"))?;
    Ok((host, port))
}

/// `HOST:PORT`, `[IPV6]:PORT`.
fn parse_server(value: &str) -> Result<(String, u16), String> {
    let bad = || format!("server= takes HOST:PORT, not {value}");
    let (host, port) = value.rsplit_once(':').ok_or_else(bad)?;
    let host = host.strip_prefix('[').and_then(|inner| inner.strip_suffix(']')).unwrap_or(host);
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 || host.chars().any(|character| character.is_whitespace() || character.is_control()) {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

/// The launcher reads `ca=` files and import directories, so a relative path is made absolute here,
/// against the directory Burrow was started in.
fn absolute(path: &str) -> Result<String, String> {
    let path = std::path::Path::new(path);
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map_err(|error| format!("cannot resolve {}: {error}", path.display()))?.join(path)
    };
    absolute.to_str().map(str::to_owned).ok_or_else(|| "the ca= path is not valid UTF-8".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_passphrase_keeps_its_inner_spaces() {
        assert_eq!(parse("/unlock correct horse  battery\n").unwrap(), Some(Command::Unlock(Passphrase::new("correct horse  battery".into()), UnlockMode::Store)));
        assert_eq!(parse("/unlock-backup old one").unwrap(), Some(Command::Unlock(Passphrase::new("old one".into()), UnlockMode::Backup)));
        assert_eq!(parse("/unlock-without-passphrase").unwrap(), Some(Command::Unlock(Passphrase::new(String::new()), UnlockMode::NoPassphrase)));
        assert!(parse("/unlock-without-passphrase secret").is_err());
        assert_eq!(parse("/passphrase a new one").unwrap(), Some(Command::ChangePassphrase(Passphrase::new("a new one".into()))));
        assert!(parse("/passphrase").is_err());
        assert!(parse("/unlock-backup").is_err());
    }

    #[test]
    fn import_takes_a_source_a_directory_and_a_passphrase() {
        let Some(Command::Import(request)) = parse("/import pidgin").unwrap() else { panic!() };
        assert_eq!((request.source, request.directory, request.passphrase), (ImportSource::Pidgin, None, None));
        let Some(Command::Import(request)) = parse("/import coyim /home/me/.config/coyim passphrase=two words").unwrap() else { panic!() };
        assert_eq!(request.directory.as_deref(), Some("/home/me/.config/coyim"));
        assert_eq!(request.passphrase.unwrap().expose(), "two words");
        for bad in ["/import", "/import icq", "/import pidgin a b", "/import coyim passphrase="] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    fn otr(line: &str) -> OtrRequest {
        match parse(line).unwrap() {
            Some(Command::Otr { account, request }) => {
                assert_eq!(account, "a@b.org");
                request
            }
            other => panic!("not an OTR command: {other:?}"),
        }
    }

    #[test]
    fn otr_commands_parse() {
        assert_eq!(otr("/otr start a@b.org C@D.org"), OtrRequest::Start { peer: "c@d.org".into() });
        assert_eq!(otr("/otr end a@b.org c@d.org"), OtrRequest::End { peer: "c@d.org".into() });
        assert_eq!(otr("/fingerprint a@b.org"), OtrRequest::Fingerprint { peer: None });
        assert_eq!(otr("/fingerprint a@b.org c@d.org"), OtrRequest::Fingerprint { peer: Some("c@d.org".into()) });
        assert_eq!(otr("/trust a@b.org c@d.org AAAA BBBB"), OtrRequest::Trust { peer: "c@d.org".into(), fingerprint: "AAAA BBBB".into() });
        assert_eq!(otr("/policy a@b.org manual"), OtrRequest::Policy { peer: None, policy: "manual".into(), allow_v2: None });
        assert_eq!(otr("/policy a@b.org c@d.org never"), OtrRequest::Policy { peer: Some("c@d.org".into()), policy: "never".into(), allow_v2: None });
        assert_eq!(otr("/policy a@b.org c@d.org require v2=deny"), OtrRequest::Policy { peer: Some("c@d.org".into()), policy: "require".into(), allow_v2: Some(false) });
        assert_eq!(otr("/policy a@b.org manual v2=allow"), OtrRequest::Policy { peer: None, policy: "manual".into(), allow_v2: Some(true) });
        assert!(parse("/policy a@b.org manual v2=maybe").is_err());
        let OtrRequest::Smp { question, secret, .. } = otr("/smp a@b.org c@d.org Where did we meet? ? the old  harbour") else { panic!() };
        assert_eq!((question.unwrap().expose(), secret.expose()), ("Where did we meet?", "the old  harbour"));
        let OtrRequest::Smp { question, secret, .. } = otr("/smp a@b.org c@d.org swordfish") else { panic!() };
        assert_eq!((question, secret.expose()), (None, "swordfish"));
        let OtrRequest::SmpAnswer { secret, .. } = otr("/smp-answer a@b.org c@d.org two words") else { panic!() };
        assert_eq!(secret.expose(), "two words");
        for bad in ["/otr", "/otr begin a@b.org c@d.org", "/otr start a@b.org", "/fingerprint", "/trust a@b.org c@d.org", "/smp a@b.org c@d.org", "/smp a@b.org c@d.org ? x", "/policy a@b.org always", "/policy a@b.org"] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn unknown_and_malformed_lines_are_errors() {
        assert!(parse("/frobnicate").is_err());
        assert!(parse("hello").is_err());
        assert!(parse("/unlock").is_err());
        assert!(parse("/ping x").is_err());
        assert!(parse("/ping 0").is_err());
    }

    #[test]
    fn account_add_takes_its_options() {
        let Some(Command::AddAccount(account)) =
            parse("/account add Alice@Example.org s3cret server=127.0.0.1:5222 ca=/tmp/ca.pem tls=direct plain=allow policy=manual").unwrap()
        else {
            panic!("not an account");
        };
        assert_eq!(account.jid, "alice@example.org");
        assert_eq!(account.password.expose(), "s3cret");
        assert_eq!(account.server, Some(("127.0.0.1".into(), 5222)));
        assert_eq!(account.ca_path.as_deref(), Some("/tmp/ca.pem"));
        assert_eq!(account.transport, Transport::DirectTls);
        assert!(account.allow_plain);
        assert_eq!(account.policy.as_deref(), Some("manual"));
        let Some(Command::AddAccount(v6)) = parse("/account add a@b p server=[::1]:5223").unwrap() else { panic!() };
        assert_eq!(v6.server, Some(("::1".into(), 5223)));
        assert!(parse("/account add a@b").is_err());
        assert!(parse("/account add a@b p server=nowhere").is_err());
        let onion = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion";
        let Some(Command::AddAccount(by_onion)) = parse(&format!("/account add a@b p onion={}", onion.to_uppercase())).unwrap() else { panic!() };
        assert_eq!(by_onion.onion, Some((onion.to_owned(), 5222)));
        assert_eq!(by_onion.server, None);
        let Some(Command::AddAccount(direct)) = parse(&format!("/account add a@b p onion={onion} tls=direct")).unwrap() else { panic!() };
        assert_eq!(direct.onion, Some((onion.to_owned(), 5223)));
        let Some(Command::AddAccount(ported)) = parse(&format!("/account add a@b p onion={onion}:15222")).unwrap() else { panic!() };
        assert_eq!(ported.onion, Some((onion.to_owned(), 15222)));
        assert!(parse(&format!("/account add a@b p onion={onion}:0")).unwrap_err().contains("not a port"));
        assert!(parse("/account add a@b p onion=jabber63t4r2qi57.onion").unwrap_err().contains("56"));
        assert!(parse(&format!("/account add a@b p onion={}", onion.replacen("gzyx", "gzyy", 1))).unwrap_err().contains("mistyped"));
        assert!(parse(&format!("/account add a@b p onion={onion} server=127.0.0.1:5222")).unwrap_err().contains("give one"));
        assert!(parse("/account add a@b p tor=udp").is_err());
        assert!(parse("/account add a@b p colour=blue").is_err());
        assert!(parse("/account remove a@b").is_err());
    }

    #[test]
    fn message_text_keeps_its_spaces() {
        let Some(Command::Send { account, peer, text }) = parse("/msg a@b.org  Bob@C.org  hello   there ").unwrap() else { panic!() };
        assert_eq!((account.as_str(), peer.as_str(), text.expose()), ("a@b.org", "bob@c.org", "hello   there "));
        assert!(parse("/msg a@b.org bob@c.org").is_err());
        assert!(parse("/msg a@b.org").is_err());
    }

    #[test]
    fn account_requests_check_their_words() {
        assert_eq!(parse("/connect a@b.org").unwrap(), Some(Command::Account { account: "a@b.org".into(), request: AccountRequest::Connect }));
        assert_eq!(
            parse("/approve a@b.org c@d.org").unwrap(),
            Some(Command::Account { account: "a@b.org".into(), request: AccountRequest::Approve { peer: "c@d.org".into() } })
        );
        assert!(parse("/connect").is_err());
        assert!(parse("/connect a@b.org extra").is_err());
        assert!(parse("/subscribe a@b.org").is_err());
        assert!(parse("/roster not-a-jid").is_err());
    }

    #[test]
    fn blank_lines_are_ignored() {
        assert_eq!(parse("   \n").unwrap(), None);
    }

    #[test]
    fn ping_has_defaults() {
        assert_eq!(parse("/ping").unwrap(), Some(Command::Ping { count: 100, size: 64 }));
        assert_eq!(parse("/ping 5 10").unwrap(), Some(Command::Ping { count: 5, size: 10 }));
    }

    #[test]
    fn the_gtk_form_goes_through_the_same_checks_as_account_add() {
        let mut account = new_account(" Alice@Example.org ", SecretText::new("s3cret".into())).unwrap();
        assert_eq!(account.jid, "alice@example.org");
        assert_eq!((account.transport, account.tor), (Transport::StartTls, TorMode::Auto));
        account_option(&mut account, "server", "127.0.0.1:5222").unwrap();
        account_option(&mut account, "tls", "direct").unwrap();
        account_option(&mut account, "tor", "system").unwrap();
        assert_eq!(account.server, Some(("127.0.0.1".to_owned(), 5222)));
        assert_eq!((account.transport, account.tor), (Transport::DirectTls, TorMode::System));
        assert!(account_option(&mut account, "server", "nowhere").unwrap_err().contains("HOST:PORT"));
        assert!(account_option(&mut account, "tor", "udp").is_err());
        assert_eq!(account_option(&mut account, "colour", "blue"), Err(String::new()));
        assert!(new_account("alice@example.org", SecretText::new(String::new())).unwrap_err().contains("password"));
        assert!(new_account("not an address", SecretText::new("p".into())).is_err());
    }

    #[test]
    fn register_takes_a_domain_and_the_server_options() {
        let Some(Command::Register(account)) = parse("/register Prosody.Test server=127.0.0.1:5222 tls=direct policy=manual").unwrap() else { panic!() };
        assert_eq!(account.jid, "prosody.test");
        assert_eq!(account.server, Some(("127.0.0.1".into(), 5222)));
        assert_eq!(account.transport, Transport::DirectTls);
        assert!(account.password.expose().is_empty(), "the key process chooses the password");
        assert!(parse("/register alice@example.org").unwrap_err().contains("not a server"));
        assert!(parse("/register").is_err());
        assert!(parse("/register example.org plain=allow").unwrap_err().contains("plain="));
        assert!(parse("/register example.org colour=blue").unwrap_err().contains("unknown option"));
        assert_eq!(parse("/register-cancel 7").unwrap(), Some(Command::RegisterCancel { registration: 7 }));
        assert!(parse("/register-cancel x").is_err());
    }

    #[test]
    fn answers_split_at_the_form_s_own_field_names() {
        let vars = ["name", "email", "misc"];
        assert_eq!(
            split_answers("name=Ann Lee email=a=b@example.org misc=x name2=y", &vars).unwrap(),
            vec![("name".into(), "Ann Lee".into()), ("email".into(), "a=b@example.org".into()), ("misc".into(), "x name2=y".into())]
        );
        assert_eq!(split_answers("", &vars).unwrap(), vec![]);
        assert!(split_answers("other=1", &vars).is_err());
        assert!(split_answers("name=a name=b", &vars).unwrap_err().contains("twice"));
    }
}
