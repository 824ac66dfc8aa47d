//! The in-memory stand-in for the encrypted store, until the store issue
//! brings the real one. It keeps nothing on disk and forgets everything when
//! the process ends; it exists so that the unlock and account flows run
//! through every process exactly as they will with the real store.

use ipc::jid::BareJid;
use ipc::secret::{Passphrase, SecretText};
use ipc::xmpp::{ConnectionSettings, NewAccount};
use ipc::{AccountSummary, ErrorCode, Failure};

/// An account with its secrets, as only the crypto process holds it.
pub struct StoredAccount {
    pub jid: BareJid,
    pub password: SecretText,
    pub settings: ConnectionSettings,
    pub allow_plain: bool,
    /// The OTR policy's name, for the account's conversations.
    pub policy: String,
}

#[derive(Default)]
pub struct MemoryStore {
    open: Option<OpenStore>,
}

struct OpenStore {
    accounts: Vec<StoredAccount>,
}

/// The most accounts one store holds: each is a task and a connection in net.
pub const MAX_ACCOUNTS: usize = 64;

impl MemoryStore {
    /// Opens the store, creating it on first use.
    pub fn unlock(&mut self, passphrase: &Passphrase) -> Result<Vec<AccountSummary>, Failure> {
        if self.open.is_some() {
            return Err(Failure::new(ErrorCode::AlreadyUnlocked, "The store is already unlocked."));
        }
        if passphrase.expose().is_empty() {
            return Err(Failure::new(
                ErrorCode::BadCommand,
                "An empty passphrase is not accepted.",
            ));
        }
        self.open = Some(OpenStore { accounts: Vec::new() });
        Ok(self.summaries())
    }

    pub fn summaries(&self) -> Vec<AccountSummary> {
        self.accounts().map(|account| AccountSummary { jid: account.jid.as_string() }).collect()
    }

    pub fn connection_settings(&self) -> Vec<ConnectionSettings> {
        self.accounts().map(|account| account.settings.clone()).collect()
    }

    fn accounts(&self) -> impl Iterator<Item = &StoredAccount> {
        self.open.iter().flat_map(|store| store.accounts.iter())
    }

    pub fn add_account(&mut self, new: NewAccount) -> Result<(AccountSummary, ConnectionSettings), Failure> {
        let store = self.open.as_mut().ok_or_else(locked)?;
        let jid = BareJid::parse(&new.jid).map_err(|problem| Failure::new(ErrorCode::BadCommand, problem))?;
        if store.accounts.iter().any(|account| account.jid == jid) {
            return Err(Failure::new(ErrorCode::AccountExists, format!("{jid} is already in the store.")));
        }
        if store.accounts.len() >= MAX_ACCOUNTS {
            return Err(Failure::new(ErrorCode::BadCommand, format!("A store holds at most {MAX_ACCOUNTS} accounts.")));
        }
        if new.password.expose().is_empty() {
            return Err(Failure::new(ErrorCode::BadCommand, "The account needs its password."));
        }
        if new.ca_path.is_some() && new.ca_pem.is_none() {
            return Err(Failure::new(ErrorCode::BadFile, "The ca= file was not read."));
        }
        let settings = ConnectionSettings {
            jid: jid.as_string(),
            server: new.server,
            transport: new.transport,
            extra_anchors_pem: new.ca_pem,
            spki_pin: new.spki_pin,
            tor: new.tor,
        };
        let summary = AccountSummary { jid: jid.as_string() };
        store.accounts.push(StoredAccount {
            jid,
            password: new.password,
            settings: settings.clone(),
            allow_plain: new.allow_plain,
            policy: new.policy.unwrap_or_else(|| "require".into()),
        });
        Ok((summary, settings))
    }

    pub fn account(&self, jid: &str) -> Result<&StoredAccount, Failure> {
        let store = self.open.as_ref().ok_or_else(locked)?;
        store.accounts.iter().find(|account| account.jid.as_string() == jid).ok_or_else(|| {
            Failure::new(ErrorCode::UnknownAccount, format!("There is no account {jid} in the store."))
        })
    }
}

fn locked() -> Failure {
    Failure::new(ErrorCode::Locked, "The store is locked; unlock it first.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipc::xmpp::{TorMode, Transport};

    fn new_account(jid: &str) -> NewAccount {
        NewAccount {
            jid: jid.into(),
            password: SecretText::new("pencil".into()),
            server: Some(("127.0.0.1".into(), 5222)),
            transport: Transport::StartTls,
            ca_path: None,
            ca_pem: None,
            spki_pin: None,
            tor: TorMode::Auto,
            policy: None,
            allow_plain: false,
        }
    }

    #[test]
    fn opens_once_then_reports_already_unlocked() {
        let mut store = MemoryStore::default();
        assert_eq!(store.unlock(&Passphrase::new("correct horse".into())).unwrap(), vec![]);
        let again = store.unlock(&Passphrase::new("correct horse".into())).unwrap_err();
        assert_eq!(again.code, ErrorCode::AlreadyUnlocked);
    }

    #[test]
    fn refuses_an_empty_passphrase() {
        let mut store = MemoryStore::default();
        assert_eq!(store.unlock(&Passphrase::new(String::new())).unwrap_err().code, ErrorCode::BadCommand);
    }

    #[test]
    fn accounts_are_added_once_and_settings_carry_no_password() {
        let mut store = MemoryStore::default();
        assert_eq!(store.add_account(new_account("a@b.org")).unwrap_err().code, ErrorCode::Locked);
        store.unlock(&Passphrase::new("x".into())).unwrap();
        let (summary, settings) = store.add_account(new_account("A@B.org")).unwrap();
        assert_eq!(summary.jid, "a@b.org");
        assert!(!format!("{settings:?}").contains("pencil"));
        assert_eq!(store.add_account(new_account("a@b.org")).unwrap_err().code, ErrorCode::AccountExists);
        assert_eq!(store.account("a@b.org").unwrap().policy, "require");
        assert_eq!(store.account("c@b.org").err().unwrap().code, ErrorCode::UnknownAccount);
        assert_eq!(store.summaries().len(), 1);
        let mut unread = new_account("c@b.org");
        unread.ca_path = Some("/tmp/ca.pem".into());
        assert_eq!(store.add_account(unread).unwrap_err().code, ErrorCode::BadFile);
    }
}
