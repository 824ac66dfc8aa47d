//! The store as the crypto process uses it: the vault (the encrypted file
//! beneath this process's own directory, `crypto_sandbox::vault`) and what
//! it holds, opened by `/unlock` and saved after every change. Nothing but
//! the vault's ciphertext is ever written to disk.

use std::path::PathBuf;

use ipc::jid::BareJid;
use ipc::secret::{Passphrase, SecretText};
use ipc::ui::Preferences;
use ipc::xmpp::{ConnectionSettings, NewAccount, TorMode, Transport};
use ipc::{AccountSummary, ErrorCode, Failure};

use crypto_sandbox::vault::contents::{AccountRecord, BookmarkRecord, Contents, KeptImportRecord};
use crypto_sandbox::vault::file::{Vault, VaultError};
use crypto_sandbox::vault::format::FormatError;
use crypto_sandbox::vault::kdf::KdfParams;

use crate::conversations::Saved;

/// An account with its secrets, as only the crypto process holds it.
pub struct StoredAccount {
    pub jid: BareJid,
    pub password: SecretText,
    pub settings: ConnectionSettings,
    pub allow_plain: bool,
    /// The OTR policy's name, and whether it lets version 2 in.
    pub policy: String,
    pub allow_v2: bool,
}

/// The most accounts one store holds: each is a task and a connection in net.
pub const MAX_ACCOUNTS: usize = 64;
/// The most imported identities one store keeps waiting for their account.
pub const MAX_KEPT_IMPORTS: usize = 64;

pub struct Store {
    directory: PathBuf,
    open: Option<OpenStore>,
}

struct OpenStore {
    vault: Vault,
    contents: Contents,
    accounts: Vec<StoredAccount>,
}

fn transport_name(transport: Transport) -> &'static str {
    match transport {
        Transport::StartTls => "starttls",
        Transport::DirectTls => "direct",
    }
}

fn account_of(record: &AccountRecord) -> Option<StoredAccount> {
    let jid = BareJid::parse(&record.jid).ok()?;
    let transport = match record.transport.as_str() {
        "direct" => Transport::DirectTls,
        _ => Transport::StartTls,
    };
    let tor = match record.tor.as_str() {
        "system" => TorMode::System,
        "embedded" => TorMode::Embedded,
        _ => TorMode::Auto,
    };
    let settings = ConnectionSettings {
        jid: jid.as_string(),
        server: record.server.clone(),
        onion: record.onion.clone(),
        transport,
        extra_anchors_pem: record.extra_anchors_pem.clone(),
        spki_pin: record.spki_pin.clone(),
        tor,
    };
    Some(StoredAccount {
        jid,
        password: SecretText::new(record.password.clone()),
        settings,
        allow_plain: record.allow_plain,
        policy: record.otr_policy.clone(),
        allow_v2: record.otr_allow_v2,
    })
}

/// A vault error in the user's words, with the code the UI shows.
fn failure(error: VaultError) -> Failure {
    let code = match &error {
        // AES-GCM cannot tell a wrong passphrase from damage; with no backup
        // that opens, a wrong passphrase is by far the likelier.
        VaultError::CannotOpen { problem: FormatError::WrongPassphraseOrDamaged, backup_available: false } => ErrorCode::WrongPassphrase,
        VaultError::NoSpace { .. } | VaultError::Io { .. } | VaultError::Random(_) => ErrorCode::StoreWrite,
        VaultError::HasNoPassphrase | VaultError::NeedsPassphrase | VaultError::EmptyPassphrase => ErrorCode::BadCommand,
        _ => ErrorCode::StoreDamaged,
    };
    let hint = if error.backup_available() { " Type /unlock-backup PASSPHRASE to open the backup; the damaged file is kept aside, not overwritten." } else { "" };
    let text = error.to_string();
    let mut message = text[..1].to_uppercase() + &text[1..];
    message.push('.');
    message.push_str(hint);
    Failure::new(code, message)
}

impl Store {
    /// The store of the profile whose crypto directory is `directory`.
    pub fn new(directory: PathBuf) -> Self {
        Self { directory, open: None }
    }

    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Opens the store, creating it on first use.
    pub fn unlock(&mut self, passphrase: &Passphrase) -> Result<Vec<AccountSummary>, Failure> {
        self.check_can_unlock(passphrase)?;
        let (vault, contents) = if Vault::exists(&self.directory) {
            Vault::open(&self.directory, passphrase.expose()).map_err(failure)?
        } else {
            let contents = Contents::default();
            let vault = Vault::create(&self.directory, passphrase.expose(), KdfParams::default(), &contents).map_err(failure)?;
            (vault, contents)
        };
        Ok(self.opened(vault, contents))
    }

    /// Opens the previous generation, which the user chose after being told
    /// the store is damaged.
    pub fn unlock_backup(&mut self, passphrase: &Passphrase) -> Result<Vec<AccountSummary>, Failure> {
        self.check_can_unlock(passphrase)?;
        let (vault, contents) = if Vault::has_passphrase(&self.directory).unwrap_or(true) {
            Vault::open_backup(&self.directory, passphrase.expose()).map_err(failure)?
        } else {
            Vault::open_backup_without_passphrase(&self.directory).map_err(failure)?
        };
        Ok(self.opened(vault, contents))
    }

    /// Opens or creates a store with no passphrase, which the user chose
    /// explicitly and was warned about.
    pub fn unlock_without_passphrase(&mut self) -> Result<Vec<AccountSummary>, Failure> {
        if self.open.is_some() {
            return Err(Failure::new(ErrorCode::AlreadyUnlocked, "The store is already unlocked."));
        }
        let (vault, contents) = if Vault::exists(&self.directory) {
            Vault::open_without_passphrase(&self.directory).map_err(failure)?
        } else {
            let contents = Contents::default();
            let vault = Vault::create_without_passphrase(&self.directory, &contents).map_err(failure)?;
            (vault, contents)
        };
        Ok(self.opened(vault, contents))
    }

    fn check_can_unlock(&self, passphrase: &Passphrase) -> Result<(), Failure> {
        if self.open.is_some() {
            return Err(Failure::new(ErrorCode::AlreadyUnlocked, "The store is already unlocked."));
        }
        if passphrase.expose().is_empty() {
            return Err(Failure::new(ErrorCode::BadCommand, "An empty passphrase is not accepted."));
        }
        Ok(())
    }

    fn opened(&mut self, vault: Vault, contents: Contents) -> Vec<AccountSummary> {
        let accounts = contents.accounts.iter().filter_map(account_of).collect();
        self.open = Some(OpenStore { vault, contents, accounts });
        self.summaries()
    }

    /// A new passphrase for the open store (a fresh salt, the file rewritten).
    pub fn change_passphrase(&mut self, new: &Passphrase) -> Result<(), Failure> {
        let store = self.open.as_mut().ok_or_else(locked)?;
        if new.expose().is_empty() {
            return Err(Failure::new(ErrorCode::BadCommand, "An empty passphrase is not accepted."));
        }
        store.vault.change_passphrase(new.expose(), &store.contents).map_err(failure)?;
        // The previous generation is kept as the backup, and it was sealed
        // with the old passphrase, which the user may be retiring because
        // someone learned it: save once more, so both are under the new one.
        store.vault.save(&store.contents).map_err(failure)
    }

    pub fn contents(&self) -> Option<&Contents> {
        self.open.as_ref().map(|store| &store.contents)
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

    /// Adds an account and saves; on a failed save nothing is added.
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
        let record = AccountRecord {
            jid: jid.as_string(),
            password: new.password.expose().to_owned(),
            server: new.server.clone(),
            onion: new.onion.clone(),
            transport: transport_name(new.transport).into(),
            tor: new.tor.name().into(),
            spki_pin: new.spki_pin.clone(),
            extra_anchors_pem: new.ca_pem.clone(),
            otr_policy: new.policy.clone().unwrap_or_else(|| "require".into()),
            otr_allow_v2: true,
            allow_plain: new.allow_plain,
        };
        store.contents.accounts.push(record.clone());
        if let Err(error) = store.vault.save(&store.contents) {
            store.contents.accounts.pop();
            return Err(failure(error));
        }
        let account = account_of(&record).ok_or_else(|| Failure::new(ErrorCode::BadCommand, "The account's address is not valid."))?;
        let summary = AccountSummary { jid: account.jid.as_string() };
        let settings = account.settings.clone();
        store.accounts.push(account);
        Ok((summary, settings))
    }

    /// Keeps what OTR changed (keys, trust, policies) and saves.
    pub fn save_otr(&mut self, saved: Saved) -> Result<(), Failure> {
        let store = self.open.as_mut().ok_or_else(locked)?;
        store.contents.otr_keys = saved.keys;
        store.contents.fingerprints = saved.fingerprints;
        store.contents.peer_policies = saved.peer_policies;
        for (account, policy, allow_v2) in saved.account_policies {
            if let Some(record) = store.contents.accounts.iter_mut().find(|record| record.jid == account) {
                record.otr_policy = policy;
                record.otr_allow_v2 = allow_v2;
            }
        }
        store.vault.save(&store.contents).map_err(failure)
    }

    /// The front end's preferences; the defaults while locked.
    pub fn preferences(&self) -> Preferences {
        self.contents().map(|contents| Preferences::from_pairs(&contents.preferences)).unwrap_or_default()
    }

    /// Keeps the front end's preferences; on a failed save nothing changes.
    pub fn set_preferences(&mut self, preferences: Preferences) -> Result<(), Failure> {
        let store = self.open.as_mut().ok_or_else(locked)?;
        let before = std::mem::replace(&mut store.contents.preferences, preferences.to_pairs());
        store.vault.save(&store.contents).map_err(failure).inspect_err(|_| store.contents.preferences = before)
    }

    /// What an import kept for `jid`, which is not an account (yet).
    pub fn kept_import(&self, jid: &str) -> Option<&KeptImportRecord> {
        self.open.as_ref()?.contents.kept_imports.iter().find(|kept| kept.jid == jid)
    }

    /// Keeps imported identities for addresses that are not accounts, each
    /// replacing what was kept for its address before, and saves; on a failed
    /// save nothing is kept.
    pub fn keep_imports(&mut self, records: Vec<KeptImportRecord>) -> Result<(), Failure> {
        let store = self.open.as_mut().ok_or_else(locked)?;
        let before = store.contents.kept_imports.clone();
        for record in records {
            if store.accounts.iter().any(|account| account.jid.as_string() == record.jid) {
                continue;
            }
            let count = store.contents.kept_imports.len();
            match store.contents.kept_imports.iter_mut().find(|kept| kept.jid == record.jid) {
                Some(slot) => *slot = record,
                None if count < MAX_KEPT_IMPORTS => store.contents.kept_imports.push(record),
                None => {
                    store.contents.kept_imports = before;
                    return Err(Failure::new(ErrorCode::BadCommand, format!("The store keeps at most {MAX_KEPT_IMPORTS} imported identities without an account.")));
                }
            }
        }
        if let Err(error) = store.vault.save(&store.contents) {
            store.contents.kept_imports = before;
            return Err(failure(error));
        }
        Ok(())
    }

    /// Adds saved rooms of the store's accounts, each (account, room) once;
    /// the number new. Saved unless `save` is false (the caller saves next).
    pub fn add_bookmarks(&mut self, records: Vec<BookmarkRecord>, save: bool) -> Result<u32, Failure> {
        let store = self.open.as_mut().ok_or_else(locked)?;
        let before = store.contents.bookmarks.len();
        for record in records {
            let known = store.contents.bookmarks.iter().any(|bookmark| bookmark.account == record.account && bookmark.room == record.room);
            if !known && store.accounts.iter().any(|account| account.jid.as_string() == record.account) {
                store.contents.bookmarks.push(record);
            }
        }
        let added = store.contents.bookmarks.len() - before;
        if save && added > 0 {
            if let Err(error) = store.vault.save(&store.contents) {
                store.contents.bookmarks.truncate(before);
                return Err(failure(error));
            }
        }
        Ok(added as u32)
    }

    /// Takes what an import kept for `jid`, now an account. Not saved here:
    /// the OTR state it becomes is saved with it, in one write.
    pub fn take_kept_import(&mut self, jid: &str) -> Option<KeptImportRecord> {
        let store = self.open.as_mut()?;
        let at = store.contents.kept_imports.iter().position(|kept| kept.jid == jid)?;
        Some(store.contents.kept_imports.remove(at))
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
