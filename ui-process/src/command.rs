//! Parsing the text front end's command lines (TEXT-FRONTEND.md).

use ipc::secret::Passphrase;

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Unlock(Passphrase),
    Status,
    Quit,
    Ping { count: usize, size: usize },
    /// A command of the contract whose feature has not landed yet.
    NotYet(&'static str),
}

/// Commands of the contract that later issues implement.
const NOT_YET: [&str; 14] = [
    "/account", "/connect", "/disconnect", "/roster", "/subscribe", "/approve", "/msg", "/otr",
    "/fingerprint", "/trust", "/smp", "/smp-answer", "/policy", "/import",
];

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
        "/unlock" => {
            // The passphrase is the rest of the line, inner spaces included.
            let passphrase = rest.trim();
            if passphrase.is_empty() {
                return Err("usage: /unlock PASSPHRASE".into());
            }
            Command::Unlock(Passphrase::new(passphrase.to_string()))
        }
        "/status" => Command::Status,
        "/quit" => Command::Quit,
        "/ping" => parse_ping(rest)?,
        other => match NOT_YET.iter().find(|known| **known == other) {
            Some(known) => Command::NotYet(known),
            None if other.starts_with('/') => return Err(format!("unknown command {other}")),
            None => return Err("commands start with /; try /status".into()),
        },
    };
    Ok(Some(command))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_passphrase_keeps_its_inner_spaces() {
        assert_eq!(parse("/unlock correct horse  battery\n").unwrap(), Some(Command::Unlock(Passphrase::new("correct horse  battery".into()))));
    }

    #[test]
    fn contract_commands_not_yet_built_are_recognised() {
        assert_eq!(parse("/msg a@b c@d hi").unwrap(), Some(Command::NotYet("/msg")));
        assert_eq!(parse("/smp-answer a b c").unwrap(), Some(Command::NotYet("/smp-answer")));
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
    fn blank_lines_are_ignored() {
        assert_eq!(parse("   \n").unwrap(), None);
    }

    #[test]
    fn ping_has_defaults() {
        assert_eq!(parse("/ping").unwrap(), Some(Command::Ping { count: 100, size: 64 }));
        assert_eq!(parse("/ping 5 10").unwrap(), Some(Command::Ping { count: 5, size: 10 }));
    }
}
