//! The in-memory stand-in for the encrypted store, until the store issue
//! brings the real one. It keeps nothing on disk and forgets everything when
//! the process ends; it exists so that the unlock flow runs through every
//! process exactly as it will with the real store.

use ipc::secret::Passphrase;
use ipc::{AccountSummary, ErrorCode, Failure};

#[derive(Default)]
pub struct MemoryStore {
    open: Option<OpenStore>,
}

struct OpenStore {
    accounts: Vec<AccountSummary>,
}

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
        let store = OpenStore { accounts: Vec::new() };
        let accounts = store.accounts.clone();
        self.open = Some(store);
        Ok(accounts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
