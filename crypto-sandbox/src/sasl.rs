//! The crypto process's side of SASL: it chooses the mechanism from what net
//! saw the server offer, computes every message from the password it alone
//! holds, and checks the server's signature. Net relays bytes and never
//! learns the password or anything derived from it that would let it log
//! in again.

use std::collections::HashMap;

use ipc::secret::SecretText;
use ipc::xmpp::{SaslOffer, SaslServer, SaslStep};
use ipc::{ErrorCode, Failure};
use zeroize::Zeroizing;

use crypto_sandbox::scram::{self, ScramClient, ScramError};
use crate::store::StoredAccount;

/// The largest server message taken (SCRAM's are a few hundred bytes).
const MAX_SERVER_MESSAGE: usize = 16 * 1024;
/// Exchanges open at once: one per account is the rule.
const MAX_EXCHANGES: usize = 256;

enum Exchange {
    Scram { client: ScramClient, stage: Stage },
    /// PLAIN proves nothing about the server; only TLS does.
    Plain,
}

#[derive(PartialEq, Eq)]
enum Stage {
    AwaitingServerFirst,
    AwaitingServerFinal,
    /// The server's signature was checked (it came in a challenge); only an
    /// empty success may follow.
    Verified,
}

#[derive(Default)]
pub struct Sasl {
    exchanges: HashMap<(String, u64), Exchange>,
}

fn failure(code: ErrorCode, message: impl Into<String>) -> SaslStep {
    SaslStep::Abandon(Failure::new(code, message))
}

fn scram_failure(error: &ScramError) -> SaslStep {
    let message = match error {
        ScramError::ServerSignatureMismatch => {
            "The server could not prove that it knows this account's password: it may not be the real server. Burrow stopped the login.".to_owned()
        }
        ScramError::ServerRejected(_) => format!("The server refused the login: {error}. Check the password."),
        _ => format!("The login failed: {error}."),
    };
    failure(ErrorCode::Authentication, message)
}

impl Sasl {
    /// Net opened an exchange: choose a mechanism and begin it.
    pub fn start(&mut self, account: Result<&StoredAccount, Failure>, name: &str, attempt: u64, offer: SaslOffer) -> SaslStep {
        let account = match account {
            Ok(account) => account,
            Err(failure) => return SaslStep::Abandon(failure),
        };
        // Net opens a new exchange only when the last one is over.
        self.exchanges.retain(|(owner, _), _| owner != name);
        if self.exchanges.len() >= MAX_EXCHANGES {
            return failure(ErrorCode::Busy, "Too many logins at once.");
        }
        let binding = offer.binding.clone();
        let username = account.jid.local.as_str();
        let password = account.password.expose();
        let Some(choice) = scram::choose(&offer.mechanisms, offer.binding_types.as_deref(), binding.as_ref(), offer.binding_refused) else {
            return self.plain(account, name, attempt, &offer);
        };
        let mut client = match ScramClient::new(choice.mechanism, choice.flag, username, Zeroizing::new(password.to_owned()), binding.as_ref()) {
            Ok(client) => client,
            Err(error) => return scram_failure(&error),
        };
        let first = match client.client_first() {
            Ok(first) => first,
            Err(error) => return scram_failure(&error),
        };
        self.exchanges.insert((name.to_owned(), attempt), Exchange::Scram { client, stage: Stage::AwaitingServerFirst });
        SaslStep::Begin {
            mechanism: choice.mechanism.name().to_owned(),
            initial: SecretText::new(String::from_utf8_lossy(&first).into_owned()),
            note: choice.fallback_reason.map(str::to_owned),
        }
    }

    /// PLAIN sends the password itself (inside TLS): only where the server
    /// offers no SCRAM at all and the user allowed it for this account.
    fn plain(&mut self, account: &StoredAccount, name: &str, attempt: u64, offer: &SaslOffer) -> SaslStep {
        let offers_plain = offer.mechanisms.iter().any(|mechanism| mechanism == "PLAIN");
        if !offers_plain || !account.allow_plain {
            let offered = offer.mechanisms.iter().filter(|name| !name.eq_ignore_ascii_case("DIGEST-MD5")).cloned().collect::<Vec<_>>();
            let hint = if offers_plain { " The server offers only PLAIN, which sends the password itself; add the account with plain=allow to accept that." } else { "" };
            return failure(ErrorCode::NoMechanism, format!("The server offers no login method Burrow accepts (it offers: {}).{hint}", offered.join(", ")));
        }
        let response = match scram::plain_initial_response("", account.jid.local.as_str(), account.password.expose()) {
            Ok(response) => response,
            Err(error) => return scram_failure(&error),
        };
        self.exchanges.insert((name.to_owned(), attempt), Exchange::Plain);
        SaslStep::Begin {
            mechanism: "PLAIN".into(),
            initial: SecretText::new(String::from_utf8_lossy(&response).into_owned()),
            note: Some("the password was sent inside TLS, as this account allows".into()),
        }
    }

    /// The server's next message.
    pub fn server(&mut self, name: &str, attempt: u64, message: SaslServer) -> SaslStep {
        let key = (name.to_owned(), attempt);
        let Some(exchange) = self.exchanges.get_mut(&key) else {
            return failure(ErrorCode::Authentication, "The login was not in progress.");
        };
        let (is_success, data) = match &message {
            SaslServer::Challenge(data) => (false, data),
            SaslServer::Success(data) => (true, data),
        };
        if data.len() > MAX_SERVER_MESSAGE {
            self.exchanges.remove(&key);
            return failure(ErrorCode::Protocol, "The server sent an oversized login message.");
        }
        let step = match exchange {
            Exchange::Plain if is_success => SaslStep::Verified,
            Exchange::Plain => failure(ErrorCode::Protocol, "The server sent a challenge to PLAIN."),
            Exchange::Scram { client, stage } => match (&*stage, is_success) {
                (Stage::AwaitingServerFirst, false) => match client.handle_server_first(data) {
                    Ok(last) => {
                        *stage = Stage::AwaitingServerFinal;
                        SaslStep::Respond(SecretText::new(String::from_utf8_lossy(&last).into_owned()))
                    }
                    Err(error) => scram_failure(&error),
                },
                // Some servers send the final message as a challenge and
                // then an empty success (RFC 6120 §6.3.10 allows both).
                (Stage::AwaitingServerFinal, false) => match client.handle_server_final(data) {
                    Ok(()) => {
                        *stage = Stage::Verified;
                        SaslStep::Respond(SecretText::new(String::new()))
                    }
                    Err(error) => scram_failure(&error),
                },
                (Stage::AwaitingServerFinal, true) => match client.handle_server_final(data) {
                    Ok(()) => SaslStep::Verified,
                    Err(error) => scram_failure(&error),
                },
                (Stage::Verified, true) if data.is_empty() => SaslStep::Verified,
                // A success before our proof was checked, or a success that
                // skips the server's signature: the server proved nothing.
                _ => failure(
                    ErrorCode::Authentication,
                    "The server claimed success without proving that it knows the password. Burrow stopped the login.",
                ),
            },
        };
        if !matches!(step, SaslStep::Respond(_)) {
            self.exchanges.remove(&key);
        }
        step
    }

    pub fn end(&mut self, name: &str, attempt: u64) {
        self.exchanges.remove(&(name.to_owned(), attempt));
    }

    pub fn forget_all(&mut self) {
        self.exchanges.clear();
    }
}
