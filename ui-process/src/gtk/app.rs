//! The window and what it knows: accounts, roster, conversations. Every
//! broker message arrives in [`App::handle`] on the main loop; every request
//! leaves through [`App::send`], which never blocks.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;
use std::time::Instant;

use gtk4 as gtk;
use gtk4::prelude::*;
use gtk4::{gio, glib};
use ipc::otr::{ConversationState, KeyChange, OtrEvent, OtrRequest};
use ipc::register::RegistrationEvent;
use ipc::ui::{FromUi, ToUi};
use ipc::xmpp::{AccountRequest, AccountStatus, ConnectionState, NetEvent, RosterEntry, SubscriptionKind};
use ipc::{ErrorCode, Role};
use tokio::sync::mpsc;

use super::account_form::AccountForm;
use super::bench::Marks;
use super::conversation::Conversation;
use super::store_dialogs::{ImportDialog, PassphraseDialog};
use super::register_form::RegisterForm;
use super::store_page::StorePage;
use super::trust::policy_drop_down;
use super::widgets::{button, clear, entry, horizontal, margins, named, plain_label, vertical};
use crate::i18n::{tr, tr_with};
use crate::rating::{rate, OtrView};

type Key = (String, String);

#[derive(Default)]
struct Known {
    accounts: Vec<String>,
    statuses: HashMap<String, AccountStatus>,
    roster: BTreeMap<Key, RosterEntry>,
    /// Peers who asked to see our presence and wait for an answer.
    requests: BTreeSet<Key>,
    otr: HashMap<Key, (OtrView, Option<String>)>,
    own_fingerprints: HashMap<String, String>,
    /// Peers whose key differs from one seen before, while it is unverified.
    key_changes: HashMap<Key, KeyChange>,
    /// (peer, new fingerprint) already warned about in a modal window.
    warned: BTreeSet<(Key, String)>,
    /// Policies as crypto confirmed them; before that, the default, require.
    account_policies: HashMap<String, String>,
    peer_policies: HashMap<Key, String>,
    unlocked: bool,
}

/// Crypto's default for an account it was told nothing else about.
const DEFAULT_POLICY: &str = "require";

pub struct App {
    window: gtk::Window,
    stack: gtk::Stack,
    store_page: Rc<StorePage>,
    accounts_list: gtk::ListBox,
    /// One item per row, drawn by a ListView: only the rows on screen
    /// exist as widgets, so a roster of thousands appears at once.
    roster: gio::ListStore,
    notebook: gtk::Notebook,
    status_line: gtk::Label,
    contact: gtk::Entry,
    outgoing: mpsc::Sender<FromUi>,
    known: RefCell<Known>,
    /// The roster rows' keys, in the order of the list's rows.
    roster_keys: RefCell<Vec<Key>>,
    form: RefCell<Option<Rc<AccountForm>>>,
    import_dialog: RefCell<Option<Rc<ImportDialog>>>,
    passphrase_dialog: RefCell<Option<Rc<PassphraseDialog>>>,
    register_form: RefCell<Option<Rc<RegisterForm>>>,
    larger_text: gtk::CheckButton,
    /// Set while the store's preferences are shown, so that showing them
    /// does not send them back.
    showing_preferences: Cell<bool>,
    conversations: RefCell<HashMap<Key, Rc<Conversation>>>,
    next_request: Rc<Cell<u64>>,
    quitting: Cell<bool>,
    /// The window itself, for controls made after it (the roster's rows).
    this: RefCell<std::rc::Weak<App>>,
    marks: RefCell<Rc<Marks>>,
}

impl App {
    pub fn build(outgoing: mpsc::Sender<FromUi>, first_run: bool) -> Rc<App> {
        let window = gtk::Window::new();
        window.set_title(Some("Burrow"));
        window.set_default_size(1000, 680);
        let stack = gtk::Stack::new();
        let root = vertical(0);
        root.append(&stack);
        let status_line = plain_label("");
        margins(&status_line, 6);
        status_line.set_visible(false);
        root.append(&status_line);
        window.set_child(Some(&root));

        // The store page needs a way to send before the App exists.
        let sender = outgoing.clone();
        let line = status_line.clone();
        let send: Rc<dyn Fn(FromUi)> = Rc::new(move |message| send_now(&sender, &line, message));
        let store_page = StorePage::build(first_run, &window, send);
        stack.add_named(&store_page.root, Some("store"));

        let main = horizontal(0);
        let side = vertical(8);
        margins(&side, 8);
        side.set_width_request(320);
        let accounts_heading = plain_label(&tr("Accounts"));
        accounts_heading.add_css_class("heading");
        let accounts_list: gtk::ListBox = named("GtkListBox", &tr("Accounts"));
        accounts_list.set_selection_mode(gtk::SelectionMode::None);
        let add_account = button(&tr("Add account…"), &tr("Add an existing account"));
        let import = button(&tr("Import from another client…"), &tr("Import accounts and OTR keys from Pidgin, Adium, Gajim, xmpp-client or CoyIM"));
        let change_passphrase = button(&tr("Change passphrase…"), &tr("Change the passphrase that protects the store"));
        let store_bar = horizontal(6);
        store_bar.append(&import);
        store_bar.append(&change_passphrase);
        let larger_text: gtk::CheckButton = named("GtkCheckButton", &tr("Show all text larger; kept in the encrypted store"));
        larger_text.set_label(Some(&tr("Larger text")));
        let create_account = button(&tr("Create a new account…"), &tr("Create a new account on a server, with a random name and a strong password"));
        let roster_heading = plain_label(&tr("Contacts"));
        roster_heading.add_css_class("heading");
        let roster = gio::ListStore::new::<glib::BoxedAnyObject>();
        let roster_list: gtk::ListView = named("GtkListView", &tr("Contacts; Enter opens a conversation"));
        roster_list.set_model(Some(&gtk::SingleSelection::new(Some(roster.clone()))));
        let roster_scroller = gtk::ScrolledWindow::new();
        roster_scroller.set_vexpand(true);
        roster_scroller.set_child(Some(&roster_list));
        let contact = entry(&tr("name@example.org"), &tr("A contact's address"));
        let contact_bar = horizontal(6);
        let add_contact = button(&tr("Add contact"), &tr("Ask this contact to share presence"));
        let write = button(&tr("Write"), &tr("Open a conversation with this address"));
        contact_bar.append(&add_contact);
        contact_bar.append(&write);
        for widget in [accounts_heading.upcast_ref::<gtk::Widget>(), accounts_list.upcast_ref(), add_account.upcast_ref(), store_bar.upcast_ref(), larger_text.upcast_ref(), create_account.upcast_ref(), roster_heading.upcast_ref(), roster_scroller.upcast_ref(), contact.upcast_ref(), contact_bar.upcast_ref()] {
            side.append(widget);
        }
        let notebook: gtk::Notebook = named("GtkNotebook", &tr("Conversations"));
        notebook.set_hexpand(true);
        notebook.set_scrollable(true);
        main.append(&side);
        main.append(&gtk::Separator::new(gtk::Orientation::Vertical));
        main.append(&notebook);
        stack.add_named(&main, Some("main"));
        stack.set_visible_child_name("store");

        let app = Rc::new(App {
            window,
            stack,
            store_page,
            accounts_list,
            roster,
            notebook,
            status_line,
            contact,
            outgoing,
            known: RefCell::new(Known::default()),
            roster_keys: RefCell::new(Vec::new()),
            form: RefCell::new(None),
            import_dialog: RefCell::new(None),
            passphrase_dialog: RefCell::new(None),
            register_form: RefCell::new(None),
            larger_text,
            showing_preferences: Cell::new(false),
            conversations: RefCell::new(HashMap::new()),
            next_request: Rc::new(Cell::new(0)),
            quitting: Cell::new(false),
            this: RefCell::new(std::rc::Weak::new()),
            marks: RefCell::new(Rc::new(Marks::default())),
        });
        *app.this.borrow_mut() = Rc::downgrade(&app);

        // One choice for every account at once; each account's row has its own.
        let weak = Rc::downgrade(&app);
        let global = policy_drop_down(DEFAULT_POLICY, &tr("Encryption for all accounts"), Box::new(move |policy| {
            let Some(app) = weak.upgrade() else { return };
            let accounts = app.known.borrow().accounts.clone();
            for account in accounts {
                app.send(FromUi::Otr { account, request: OtrRequest::Policy { peer: None, policy: policy.to_owned(), allow_v2: None } });
            }
        }));
        side.insert_child_after(&captioned(&tr("Encryption, all accounts:"), &global), Some(&accounts_heading));

        let weak = Rc::downgrade(&app);
        add_account.connect_clicked(move |_| {
            if let Some(app) = weak.upgrade() {
                app.open_account_form();
            }
        });
        let weak = Rc::downgrade(&app);
        roster_list.set_factory(Some(&roster_factory(Rc::new(move |key: Key| {
            if let Some(app) = weak.upgrade() {
                app.approve(&key);
            }
        }))));
        let larger = gtk::CssProvider::new();
        larger.load_from_data("window.burrow-larger-text { font-size: 14pt; }");
        gtk::style_context_add_provider_for_display(&gtk::prelude::WidgetExt::display(&app.window), &larger, gtk::STYLE_PROVIDER_PRIORITY_APPLICATION);
        let weak = Rc::downgrade(&app);
        app.larger_text.connect_toggled(move |check| {
            let Some(app) = weak.upgrade() else { return };
            app.apply_larger_text(check.is_active());
            if !app.showing_preferences.get() {
                app.send(FromUi::SetPreferences(ipc::ui::Preferences { larger_text: check.is_active() }));
            }
        });
        let weak = Rc::downgrade(&app);
        import.connect_clicked(move |_| {
            if let Some(app) = weak.upgrade() {
                app.open_import_dialog();
            }
        });
        let weak = Rc::downgrade(&app);
        change_passphrase.connect_clicked(move |_| {
            if let Some(app) = weak.upgrade() {
                app.open_passphrase_dialog();
            }
        });
        let weak = Rc::downgrade(&app);
        create_account.connect_clicked(move |_| {
            if let Some(app) = weak.upgrade() {
                app.open_register_form();
            }
        });
        let weak = Rc::downgrade(&app);
        roster_list.connect_activate(move |_, position| {
            let Some(app) = weak.upgrade() else { return };
            let key = app.roster_keys.borrow().get(position as usize).cloned();
            if let Some((account, peer)) = key {
                app.open_conversation(&account, &peer, true);
            }
        });
        let weak = Rc::downgrade(&app);
        add_contact.connect_clicked(move |_| {
            if let Some(app) = weak.upgrade() {
                app.with_contact(|app, account, peer| app.send(FromUi::Account { account, request: AccountRequest::Subscribe { peer } }));
            }
        });
        let weak = Rc::downgrade(&app);
        let open = move || {
            if let Some(app) = weak.upgrade() {
                app.with_contact(|app, account, peer| {
                    app.open_conversation(&account, &peer, true);
                });
            }
        };
        let open = Rc::new(open);
        let on_click = open.clone();
        write.connect_clicked(move |_| on_click());
        app.contact.connect_activate(move |_| open());
        let weak = Rc::downgrade(&app);
        app.notebook.connect_switch_page(move |_, page, _| {
            let Some(app) = weak.upgrade() else { return };
            let shown = app.conversations.borrow().values().find(|conversation| conversation.root.upcast_ref::<gtk::Widget>() == page).cloned();
            if let Some(conversation) = shown {
                conversation.mark_unread(false);
            }
        });
        let weak = Rc::downgrade(&app);
        app.window.connect_close_request(move |_| {
            if let Some(app) = weak.upgrade() {
                app.quit();
            }
            gtk::glib::Propagation::Proceed
        });
        // Ctrl+Q quits from anywhere in the window, as the close button does.
        let weak = Rc::downgrade(&app);
        let quit = gtk::CallbackAction::new(move |_, _| {
            if let Some(app) = weak.upgrade() {
                app.quit();
                app.window.set_visible(false);
            }
            gtk::glib::Propagation::Stop
        });
        let shortcuts = gtk::ShortcutController::new();
        shortcuts.set_scope(gtk::ShortcutScope::Global);
        shortcuts.add_shortcut(gtk::Shortcut::new(gtk::ShortcutTrigger::parse_string("<Control>q"), Some(quit)));
        app.window.add_controller(shortcuts);
        app.window.present();
        *app.marks.borrow_mut() = Marks::start(&app.window);
        app.store_page.focus();
        app
    }

    /// Hands a request to the IPC thread without waiting.
    fn send(&self, message: FromUi) {
        send_now(&self.outgoing, &self.status_line, message);
    }

    fn quit(&self) {
        if !self.quitting.replace(true) {
            self.send(FromUi::Quit);
        }
    }

    /// The broker is gone: nothing more can happen in this window.
    pub fn close(&self) {
        self.quitting.set(true);
        self.window.destroy();
    }

    fn say(&self, text: &str) {
        self.status_line.set_text(text);
        self.status_line.set_visible(true);
    }

    pub fn handle(&self, message: ToUi) {
        let arrived = Instant::now();
        match message {
            ToUi::Unlocked { accounts } => {
                let empty = accounts.is_empty();
                {
                    let mut known = self.known.borrow_mut();
                    known.unlocked = true;
                    known.accounts = accounts.into_iter().map(|summary| summary.jid).collect();
                }
                self.store_page.done();
                self.stack.set_visible_child_name("main");
                self.refresh_accounts();
                // After a restart of this window net may hold sessions
                // already: each account's state is asked for, not assumed.
                let accounts = self.known.borrow().accounts.clone();
                for account in accounts {
                    self.send(FromUi::Account { account, request: AccountRequest::Status });
                }
                if empty {
                    self.open_account_form();
                }
            }
            ToUi::Unlocking => self.store_page.unlocking(),
            ToUi::PassphraseChanged(Ok(())) => {
                // Taken first: closing runs the close handler, which
                // empties the same cell.
                let dialog = self.passphrase_dialog.borrow_mut().take();
                if let Some(dialog) = dialog {
                    dialog.window.close();
                }
                self.say(&tr("The passphrase was changed."));
            }
            ToUi::PassphraseChanged(Err(failure)) if self.passphrase_dialog.borrow().is_some() => {
                if let Some(dialog) = self.passphrase_dialog.borrow().as_ref() {
                    dialog.refused(&failure.message);
                }
            }
            ToUi::PassphraseChanged(Err(failure)) | ToUi::Failed(failure) => {
                if !self.known.borrow().unlocked && failure.code != ErrorCode::ChildRestarted {
                    self.store_page.show_error(&failure.message);
                } else {
                    self.say(&failure.message);
                }
            }
            ToUi::Restarted { report, reason } => {
                self.say(&reason);
                if report.role == Role::Crypto && self.known.borrow().unlocked {
                    // A restarted crypto process starts locked.
                    self.known.borrow_mut().unlocked = false;
                    self.stack.set_visible_child_name("store");
                    self.store_page.show_error(&tr("The key process restarted; unlock the store again."));
                }
            }
            ToUi::Process(_) | ToUi::StatusComplete | ToUi::Pong(_) => {}
            ToUi::AccountAdded(summary) => {
                if let Some(form) = self.form.borrow_mut().take() {
                    form.window.close();
                }
                self.known.borrow_mut().accounts.push(summary.jid);
                self.refresh_accounts();
            }
            ToUi::AccountRefused(failure) => match self.form.borrow().as_ref() {
                Some(form) => form.refused(&failure.message),
                None => self.say(&failure.message),
            },
            ToUi::Net(event) => self.net_event(event, arrived),
            ToUi::Message { account, peer, text, encrypted } => {
                let conversation = self.open_conversation(&account, &peer, false);
                conversation.received(text.expose(), encrypted);
                self.marks.borrow().message_shown();
                if self.notebook.current_page() != self.notebook.page_num(&conversation.root) {
                    conversation.mark_unread(true);
                }
            }
            ToUi::SendFailed { account, peer, failure, .. } => {
                self.open_conversation(&account, &peer, false).note(&tr_with("Not sent: {reason}", &[("reason", &failure.message)]));
            }
            ToUi::Refused { account, peer, reason, .. } => {
                self.open_conversation(&account, &peer, false).note(&tr_with("Not sent: {reason}", &[("reason", &reason)]));
            }
            ToUi::Otr { account, event } => self.otr_event(&account, event),
            ToUi::Preferences(preferences) => {
                self.showing_preferences.set(true);
                self.larger_text.set_active(preferences.larger_text);
                self.showing_preferences.set(false);
                self.apply_larger_text(preferences.larger_text);
            }
            ToUi::Imported(Ok(report)) => {
                match self.import_dialog.borrow().as_ref() {
                    Some(dialog) => dialog.finished(Ok(&report)),
                    None => self.say(&tr_with("Imported {count} account(s).", &[("count", &report.accounts.to_string())])),
                }
                let new: Vec<String> = report.added.into_iter().filter(|account| !self.known.borrow().accounts.contains(account)).collect();
                self.known.borrow_mut().accounts.extend(new.iter().cloned());
                self.refresh_accounts();
                for account in new {
                    self.send(FromUi::Account { account, request: AccountRequest::Status });
                }
            }
            ToUi::Imported(Err(failure)) => match self.import_dialog.borrow().as_ref() {
                Some(dialog) => dialog.finished(Err(&failure.message)),
                None => self.say(&failure.message),
            },
            ToUi::Registration(event) => self.registration_event(event),
        }
    }

    fn net_event(&self, event: NetEvent, arrived: Instant) {
        match event {
            NetEvent::Status(status) => {
                let account = status.account.clone();
                let came_online = status.state == ConnectionState::Online
                    && self.known.borrow().statuses.get(&account).is_none_or(|before| before.state != ConnectionState::Online);
                self.known.borrow_mut().statuses.insert(account.clone(), status);
                self.refresh_accounts();
                self.refresh_ratings(&account);
                if came_online {
                    self.send(FromUi::Account { account, request: AccountRequest::Roster });
                }
            }
            NetEvent::Connected { .. } | NetEvent::Sent { .. } => {}
            // Embedded Tor's bootstrap, shown where the window reports
            // progress; the summary is arti's, shown as plain text.
            NetEvent::TorBootstrap { percent, summary } => {
                let percent = percent.min(100).to_string();
                if percent == "100" {
                    self.say(&tr("Burrow's own Tor is ready."));
                } else {
                    self.say(&tr_with("Starting Burrow's own Tor: {percent}% ({summary})", &[("percent", &percent), ("summary", &summary)]));
                }
            }
            NetEvent::Disconnected { account, reason } => {
                self.say(&tr_with("{account} disconnected: {reason}", &[("account", &account), ("reason", &reason)]));
            }
            NetEvent::Roster { account, entries } => {
                {
                    let mut known = self.known.borrow_mut();
                    known.roster.retain(|(owner, _), _| *owner != account);
                    for entry in entries {
                        known.roster.insert((account.clone(), entry.peer.clone()), entry);
                    }
                }
                self.refresh_roster();
                self.marks.borrow().roster_changed(arrived, self.roster_keys.borrow().len());
            }
            // A server answers our probes with one presence per contact as
            // we log in, "unavailable" for every one offline: only a change
            // redraws, and only that contact's row.
            NetEvent::Presence { account, peer, show } => {
                self.marks.borrow().presence();
                let key = (account, peer);
                let changed = match self.known.borrow_mut().roster.get_mut(&key) {
                    Some(entry) if entry.presence != show => {
                        entry.presence = show;
                        true
                    }
                    _ => false,
                };
                if changed {
                    self.refresh_roster_row(&key);
                    self.marks.borrow().roster_changed(arrived, self.roster_keys.borrow().len());
                }
            }
            NetEvent::Subscription { account, peer, kind } => {
                {
                    let mut known = self.known.borrow_mut();
                    match kind {
                        SubscriptionKind::Request => known.requests.insert((account.clone(), peer)),
                        SubscriptionKind::Approved | SubscriptionKind::Revoked => known.requests.remove(&(account.clone(), peer)),
                    };
                }
                self.refresh_roster();
                self.send(FromUi::Account { account, request: AccountRequest::Roster });
            }
            NetEvent::Failed { account, peer, failure } => match peer {
                Some(peer) => self.open_conversation(&account, &peer, false).note(&failure.message),
                None => self.say(&tr_with("{account}: {problem}", &[("account", &account), ("problem", &failure.message)])),
            },
        }
    }

    fn otr_event(&self, account: &str, event: OtrEvent) {
        match event {
            OtrEvent::State { peer, state, fingerprint, verified, key_change } => {
                let key = (account.to_owned(), peer.clone());
                let view = OtrView {
                    state,
                    verified,
                    key_changed: key_change.is_some(),
                    earlier_verified: key_change.as_ref().is_some_and(KeyChange::earlier_verified),
                };
                let before = self.known.borrow_mut().otr.insert(key.clone(), (view, fingerprint.clone()));
                // The modal warning comes once per new key while Burrow runs;
                // the banner stays until the key is verified.
                let warn = match (&key_change, &fingerprint) {
                    (Some(_), Some(fingerprint)) if state == ConversationState::Private => self.known.borrow_mut().warned.insert((key.clone(), fingerprint.clone())),
                    _ => false,
                };
                match &key_change {
                    Some(change) => self.known.borrow_mut().key_changes.insert(key.clone(), change.clone()),
                    None => self.known.borrow_mut().key_changes.remove(&key),
                };
                if warn {
                    self.open_conversation(account, &peer, false);
                }
                if let Some(conversation) = self.conversation(&key) {
                    if let Some(fingerprint) = &fingerprint {
                        conversation.their_fingerprint(fingerprint, verified);
                    }
                    // Crypto also reports an unchanged state (after SMP, or
                    // when asked); only a change is news.
                    if before.map(|(view, _)| view.state) != Some(state) {
                        let note = match state {
                            ConversationState::Private => tr("The conversation is now encrypted with OTR."),
                            ConversationState::Finished => tr("The contact ended the private conversation."),
                            ConversationState::Plaintext => tr("The conversation is not encrypted."),
                        };
                        conversation.note(&note);
                    }
                    conversation.show_key_change(fingerprint.as_deref(), key_change.as_ref(), warn);
                }
                self.refresh_ratings(account);
                self.refresh_roster_row(&key);
            }
            OtrEvent::Smp { peer, result, question, reason } => {
                let conversation = self.open_conversation(account, &peer, false);
                conversation.smp(result, question.as_deref(), reason.as_deref());
            }
            OtrEvent::Fingerprint { peer: None, fingerprint } => {
                self.known.borrow_mut().own_fingerprints.insert(account.to_owned(), fingerprint.clone());
                for conversation in self.conversations.borrow().values().filter(|conversation| conversation.account == account) {
                    conversation.our_fingerprint(&fingerprint);
                }
            }
            OtrEvent::Fingerprint { peer: Some(peer), fingerprint } => {
                let key = (account.to_owned(), peer);
                let verified = self.known.borrow().otr.get(&key).is_some_and(|(view, known)| view.verified && known.as_deref() == Some(fingerprint.as_str()));
                if let Some(conversation) = self.conversation(&key) {
                    conversation.their_fingerprint(&fingerprint, verified);
                }
            }
            OtrEvent::Trusted { peer, fingerprint } => {
                let key = (account.to_owned(), peer);
                if let Some((view, known)) = self.known.borrow_mut().otr.get_mut(&key) {
                    if known.as_deref() == Some(fingerprint.as_str()) {
                        view.verified = true;
                        view.key_changed = false;
                    }
                }
                if let Some(conversation) = self.conversation(&key) {
                    conversation.their_fingerprint(&fingerprint, true);
                }
                self.refresh_ratings(account);
                self.refresh_roster_row(&key);
            }
            OtrEvent::KeyGeneration { done: false, .. } => self.say(&tr("Making your OTR key; this takes a few seconds…")),
            OtrEvent::KeyGeneration { done: true, fingerprint } => {
                self.say(&tr("Your OTR key is ready."));
                if let Some(fingerprint) = fingerprint {
                    self.otr_event(account, OtrEvent::Fingerprint { peer: None, fingerprint });
                }
            }
            OtrEvent::Policy { peer: Some(peer), policy, .. } => {
                let key = (account.to_owned(), peer);
                self.known.borrow_mut().peer_policies.insert(key.clone(), policy.clone());
                if let Some(conversation) = self.conversation(&key) {
                    conversation.show_policy(&policy, true);
                }
            }
            OtrEvent::Policy { peer: None, policy, .. } => {
                self.known.borrow_mut().account_policies.insert(account.to_owned(), policy.clone());
                let shown: Vec<_> = self.conversations.borrow().values().filter(|conversation| conversation.account == account).cloned().collect();
                for conversation in shown {
                    let own = self.known.borrow().peer_policies.contains_key(&(account.to_owned(), conversation.peer.clone()));
                    if !own {
                        conversation.show_policy(&policy, false);
                    }
                }
                self.say(&tr_with("{account}: the encryption setting is now “{policy}”.", &[("account", account), ("policy", &super::trust::policy_title(&policy))]));
                self.refresh_accounts();
            }
            OtrEvent::Notice { peer, message } => self.open_conversation(account, &peer, false).note(&message),
            OtrEvent::Failed { peer: Some(peer), failure } => self.open_conversation(account, &peer, false).note(&failure.message),
            OtrEvent::Failed { peer: None, failure } => self.say(&failure.message),
        }
    }

    fn conversation(&self, key: &Key) -> Option<Rc<Conversation>> {
        self.conversations.borrow().get(key).cloned()
    }

    /// The conversation with `peer`, made on first use; `focus` brings it
    /// to the front (the user asked), otherwise a new one waits in its tab.
    fn open_conversation(&self, account: &str, peer: &str, focus: bool) -> Rc<Conversation> {
        let key = (account.to_owned(), peer.to_owned());
        let conversation = match self.conversation(&key) {
            Some(conversation) => conversation,
            None => {
                let sender = self.outgoing.clone();
                let line = self.status_line.clone();
                let send: Rc<dyn Fn(FromUi)> = Rc::new(move |message| send_now(&sender, &line, message));
                let conversation = Conversation::build(account, peer, send, self.next_request.clone());
                self.notebook.append_page(&conversation.root, Some(&conversation.tab));
                self.conversations.borrow_mut().insert(key.clone(), conversation.clone());
                if let Some(fingerprint) = self.known.borrow().own_fingerprints.get(account) {
                    conversation.our_fingerprint(fingerprint);
                }
                if let Some((view, Some(fingerprint))) = self.known.borrow().otr.get(&key) {
                    conversation.their_fingerprint(fingerprint, view.verified);
                }
                let policy = self.policy_of(account, Some(peer));
                conversation.show_policy(&policy, false);
                let change = self.known.borrow().key_changes.get(&key).cloned();
                let fingerprint = self.known.borrow().otr.get(&key).and_then(|(_, fingerprint)| fingerprint.clone());
                conversation.show_key_change(fingerprint.as_deref(), change.as_ref(), false);
                if !self.known.borrow().own_fingerprints.contains_key(account) {
                    conversation.ask_our_fingerprint();
                }
                self.rate(&conversation);
                conversation
            }
        };
        if focus {
            if let Some(page) = self.notebook.page_num(&conversation.root) {
                self.notebook.set_current_page(Some(page));
            }
            conversation.entry.grab_focus();
        }
        conversation
    }

    /// The policy crypto last confirmed for `peer` (or the account), else
    /// crypto's default; the UI cannot ask crypto for it, only set it.
    fn policy_of(&self, account: &str, peer: Option<&str>) -> String {
        let known = self.known.borrow();
        peer.and_then(|peer| known.peer_policies.get(&(account.to_owned(), peer.to_owned())))
            .or_else(|| known.account_policies.get(account))
            .cloned()
            .unwrap_or_else(|| DEFAULT_POLICY.to_owned())
    }

    fn rate(&self, conversation: &Conversation) {
        let known = self.known.borrow();
        let key = (conversation.account.clone(), conversation.peer.clone());
        let rating = rate(known.statuses.get(&conversation.account), known.otr.get(&key).map(|(view, _)| *view));
        drop(known);
        conversation.show_rating(&rating);
    }

    fn refresh_ratings(&self, account: &str) {
        let conversations: Vec<_> = self.conversations.borrow().values().filter(|conversation| conversation.account == account).cloned().collect();
        for conversation in conversations {
            self.rate(&conversation);
        }
    }

    fn open_account_form(&self) {
        if let Some(form) = self.form.borrow().as_ref() {
            form.window.present();
            return;
        }
        let weak = self.this.borrow().clone();
        let create_instead: Rc<dyn Fn()> = Rc::new(move || {
            if let Some(app) = weak.upgrade() {
                if let Some(form) = app.form.borrow_mut().take() {
                    form.window.close();
                }
                app.open_register_form();
            }
        });
        let form = AccountForm::open(&self.window, self.sender(), create_instead);
        *self.form.borrow_mut() = Some(form);
    }

    /// A sender for a window of its own, which reports on the status line.
    fn sender(&self) -> Rc<dyn Fn(FromUi)> {
        let sender = self.outgoing.clone();
        let line = self.status_line.clone();
        Rc::new(move |message| send_now(&sender, &line, message))
    }

    fn open_register_form(&self) {
        if let Some(form) = self.register_form.borrow().as_ref() {
            if form.window.is_visible() {
                form.window.present();
                return;
            }
        }
        let form = RegisterForm::open(&self.window, self.sender());
        *self.register_form.borrow_mut() = Some(form);
    }

    fn registration_event(&self, event: RegistrationEvent) {
        let open = self.register_form.borrow().as_ref().filter(|form| form.window.is_visible()).cloned();
        match event {
            RegistrationEvent::Form { registration, domain, form } => match open {
                Some(window) => window.show_form(registration, &domain, form),
                // The window was closed: nobody will answer.
                None => self.send(FromUi::RegisterAnswers { registration, answers: None }),
            },
            RegistrationEvent::Registered { account, .. } => {
                if let Some(window) = self.register_form.borrow_mut().take() {
                    window.window.close();
                }
                self.say(&tr_with("Created {account}, with a strong random password kept in the encrypted store. It logs in now.", &[("account", &account.jid)]));
                self.known.borrow_mut().accounts.push(account.jid);
                self.refresh_accounts();
            }
            RegistrationEvent::Failed { failure, .. } => match open {
                Some(window) => window.failed(&failure.message),
                None => self.say(&failure.message),
            },
        }
    }

    fn open_import_dialog(self: &Rc<Self>) {
        if let Some(dialog) = self.import_dialog.borrow().as_ref() {
            dialog.window.present();
            return;
        }
        let dialog = ImportDialog::open(&self.window, self.sender());
        let weak = Rc::downgrade(self);
        dialog.window.connect_close_request(move |_| {
            if let Some(app) = weak.upgrade() {
                app.import_dialog.borrow_mut().take();
            }
            gtk::glib::Propagation::Proceed
        });
        *self.import_dialog.borrow_mut() = Some(dialog);
    }

    fn open_passphrase_dialog(self: &Rc<Self>) {
        if let Some(dialog) = self.passphrase_dialog.borrow().as_ref() {
            dialog.window.present();
            return;
        }
        let dialog = PassphraseDialog::open(&self.window, self.sender());
        let weak = Rc::downgrade(self);
        dialog.window.connect_close_request(move |_| {
            if let Some(app) = weak.upgrade() {
                app.passphrase_dialog.borrow_mut().take();
            }
            gtk::glib::Propagation::Proceed
        });
        *self.passphrase_dialog.borrow_mut() = Some(dialog);
    }

    /// The address typed in the contact field, for the first account.
    fn with_contact(&self, act: impl FnOnce(&App, String, String)) {
        let typed = self.contact.text().trim().to_owned();
        let peer = match ipc::jid::BareJid::parse(&typed) {
            Ok(peer) => peer.as_string(),
            Err(problem) => return self.say(&problem),
        };
        let Some(account) = self.known.borrow().accounts.first().cloned() else {
            return self.say(&tr("Add an account first."));
        };
        self.contact.set_text("");
        act(self, account, peer);
    }

    fn refresh_accounts(&self) {
        clear(&self.accounts_list);
        let accounts = self.known.borrow().accounts.clone();
        for account in accounts {
            let status = self.known.borrow().statuses.get(&account).cloned();
            let row = vertical(4);
            margins(&row, 6);
            row.append(&plain_label(&account));
            let summary = plain_label(&account_summary(status.as_ref()));
            summary.add_css_class("dim-label");
            row.append(&summary);
            let state = status.as_ref().map(|status| status.state).unwrap_or(ConnectionState::Offline);
            let (text, accessible, request) = match state {
                ConnectionState::Offline => (tr("Connect"), tr_with("Connect {account}", &[("account", &account)]), AccountRequest::Connect),
                ConnectionState::Connecting | ConnectionState::Online => (tr("Disconnect"), tr_with("Disconnect {account}", &[("account", &account)]), AccountRequest::Disconnect),
            };
            let toggle = button(&text, &accessible);
            toggle.set_halign(gtk::Align::Start);
            let sender = self.outgoing.clone();
            let line = self.status_line.clone();
            let owner = account.clone();
            toggle.connect_clicked(move |_| send_now(&sender, &line, FromUi::Account { account: owner.clone(), request: request.clone() }));
            row.append(&toggle);
            let sender = self.outgoing.clone();
            let line = self.status_line.clone();
            let owner = account.clone();
            let policy = policy_drop_down(&self.policy_of(&account, None), &tr_with("Encryption for {account}", &[("account", &account)]), Box::new(move |policy| {
                send_now(&sender, &line, FromUi::Otr { account: owner.clone(), request: OtrRequest::Policy { peer: None, policy: policy.to_owned(), allow_v2: None } })
            }));
            row.append(&captioned(&tr("Encryption:"), &policy));
            self.accounts_list.append(&row);
        }
    }

    fn apply_larger_text(&self, larger: bool) {
        if larger {
            self.window.add_css_class("burrow-larger-text");
        } else {
            self.window.remove_css_class("burrow-larger-text");
        }
    }

    /// The user let `peer` see their presence: the request is answered.
    fn approve(&self, (account, peer): &Key) {
        self.send(FromUi::Account { account: account.clone(), request: AccountRequest::Approve { peer: peer.clone() } });
        self.known.borrow_mut().requests.remove(&(account.clone(), peer.clone()));
        // Rebuilt when idle: this runs inside the clicked row's button.
        let weak = self.this.borrow().clone();
        gtk::glib::idle_add_local_once(move || {
            if let Some(app) = weak.upgrade() {
                app.refresh_roster();
            }
        });
    }

    /// Every row made again, in one change of the model (a new roster).
    fn refresh_roster(&self) {
        let known = self.known.borrow();
        let mut keys = Vec::with_capacity(known.roster.len() + known.requests.len());
        let requests_only = known.requests.iter().filter(|key| !known.roster.contains_key(*key));
        let rows: Vec<glib::BoxedAnyObject> = known
            .roster
            .iter()
            .map(|(key, entry)| (key, Some(entry)))
            .chain(requests_only.map(|key| (key, None)))
            .map(|(key, entry)| {
                keys.push(key.clone());
                glib::BoxedAnyObject::new(roster_row(&known, key, entry))
            })
            .collect();
        self.roster.splice(0, self.roster.n_items(), &rows);
        *self.roster_keys.borrow_mut() = keys;
    }

    /// One contact's row made again (a presence or OTR change), in its place.
    fn refresh_roster_row(&self, key: &Key) {
        let Some(index) = self.roster_keys.borrow().iter().position(|shown| shown == key) else {
            return;
        };
        let known = self.known.borrow();
        let row = glib::BoxedAnyObject::new(roster_row(&known, key, known.roster.get(key)));
        self.roster.splice(index as u32, 1, &[row]);
    }
}

/// What one roster row shows.
struct RosterRow {
    key: Key,
    status: String,
    /// What a screen reader says for the row.
    accessible: String,
    asks: bool,
}

fn roster_row(known: &Known, key: &Key, entry: Option<&RosterEntry>) -> RosterRow {
    let presence = entry.map(|entry| presence_name(&entry.presence)).unwrap_or_else(|| tr("unknown"));
    let subscription = subscription_name(entry.map_or("none", |entry| entry.subscription.as_str()));
    let otr = known.otr.get(key).map(|(view, _)| otr_name(*view)).unwrap_or_else(|| tr("not private"));
    RosterRow {
        key: key.clone(),
        status: tr_with("{presence} · sharing: {subscription} · OTR: {otr}", &[("presence", &presence), ("subscription", &subscription), ("otr", &otr)]),
        accessible: tr_with("{peer}, {presence}, OTR {otr}", &[("peer", &key.1), ("presence", &presence), ("otr", &otr)]),
        asks: known.requests.contains(key),
    }
}

/// The widgets of the roster rows on screen, reused as it scrolls: the
/// address, the status line, and for a contact who asks to see our
/// presence, that request and an Approve button.
fn roster_factory(approve: Rc<dyn Fn(Key)>) -> gtk::SignalListItemFactory {
    let factory = gtk::SignalListItemFactory::new();
    factory.connect_setup(move |_, item| {
        let Some(item) = item.downcast_ref::<gtk::ListItem>() else { return };
        let row = vertical(2);
        margins(&row, 6);
        let peer = plain_label("");
        let line = plain_label("");
        line.add_css_class("dim-label");
        let asks = plain_label(&tr("asks to see your presence"));
        let approve_button = button(&tr("Approve"), &tr("Let this contact see your presence"));
        approve_button.set_halign(gtk::Align::Start);
        for widget in [peer.upcast_ref::<gtk::Widget>(), line.upcast_ref(), asks.upcast_ref(), approve_button.upcast_ref()] {
            row.append(widget);
        }
        let answer = approve.clone();
        let shown = item.downgrade();
        approve_button.connect_clicked(move |_| {
            let key = shown.upgrade().and_then(|item| item.item()).and_then(|object| object.downcast::<glib::BoxedAnyObject>().ok()).map(|row| row.borrow::<RosterRow>().key.clone());
            if let Some(key) = key {
                answer(key);
            }
        });
        item.set_child(Some(&row));
    });
    factory.connect_bind(|_, item| {
        let Some(item) = item.downcast_ref::<gtk::ListItem>() else { return };
        let (Some(object), Some(child)) = (item.item().and_then(|object| object.downcast::<glib::BoxedAnyObject>().ok()), item.child()) else { return };
        let row = object.borrow::<RosterRow>();
        let widgets: Vec<gtk::Widget> = std::iter::successors(child.first_child(), |widget| widget.next_sibling()).collect();
        if let [peer, line, asks, approve] = widgets.as_slice() {
            if let (Some(peer), Some(line)) = (peer.downcast_ref::<gtk::Label>(), line.downcast_ref::<gtk::Label>()) {
                peer.set_text(&row.key.1);
                line.set_text(&row.status);
            }
            asks.set_visible(row.asks);
            approve.set_visible(row.asks);
        }
        // GTK 4.8 cannot rename a widget for screen readers without unsafe
        // code; the tooltip carries the row's summary, and the labels say it.
        child.set_tooltip_text(Some(&row.accessible));
    });
    factory
}

/// `try_send`: the main loop never waits for the IPC thread. A full queue
/// means the broker has stopped reading; the request is dropped, and said so.
fn send_now(outgoing: &mpsc::Sender<FromUi>, status_line: &gtk::Label, message: FromUi) {
    if outgoing.try_send(message).is_err() {
        status_line.set_text(&tr("Burrow is busy or shutting down; that request was not sent."));
        status_line.set_visible(true);
    }
}

/// A control with its visible caption before it.
fn captioned(caption: &str, control: &impl IsA<gtk::Widget>) -> gtk::Box {
    let row = horizontal(6);
    let label = plain_label(caption);
    label.set_wrap(false);
    row.append(&label);
    row.append(control);
    row
}

fn account_summary(status: Option<&AccountStatus>) -> String {
    let Some(status) = status else { return tr("offline") };
    let state = match status.state {
        ConnectionState::Offline => tr("offline"),
        ConnectionState::Connecting => tr("connecting"),
        ConnectionState::Online => tr("online"),
    };
    let tor = match status.tor.as_str() {
        "system" => tr("through the system's Tor"),
        "embedded" => tr("through Burrow's Tor"),
        "none" => tr("no Tor (server on this computer)"),
        other => other.to_owned(),
    };
    match &status.tls {
        Some(tls) => tr_with("{state} · {tor} · {tls}", &[("state", &state), ("tor", &tor), ("tls", tls)]),
        None => tr_with("{state} · {tor}", &[("state", &state), ("tor", &tor)]),
    }
}

fn presence_name(show: &str) -> String {
    match show {
        "available" | "chat" => tr("available"),
        "away" | "xa" => tr("away"),
        "dnd" => tr("busy"),
        "unavailable" => tr("offline"),
        _ => tr("unknown"),
    }
}

/// The roster's subscription (RFC 6121: whose presence each side sees), in
/// words; a value the server invents is shown as it came.
fn subscription_name(subscription: &str) -> String {
    match subscription {
        "both" => tr("both ways"),
        "to" => tr("you see theirs"),
        "from" => tr("they see yours"),
        "none" | "" => tr("not yet"),
        other => other.to_owned(),
    }
}

fn otr_name(view: OtrView) -> String {
    match (view.state, view.verified) {
        (ConversationState::Private, true) => tr("private, verified"),
        (ConversationState::Private, false) => tr("private, not verified"),
        (ConversationState::Finished, _) => tr("ended by contact"),
        (ConversationState::Plaintext, _) => tr("not private"),
    }
}
