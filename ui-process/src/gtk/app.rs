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
use ipc::otr::{ConversationState, OtrEvent};
use ipc::ui::{FromUi, ToUi};
use ipc::xmpp::{AccountRequest, AccountStatus, ConnectionState, NetEvent, RosterEntry, SubscriptionKind};
use ipc::{ErrorCode, Role};
use tokio::sync::mpsc;

use super::account_form::AccountForm;
use super::bench::Marks;
use super::conversation::Conversation;
use super::store_page::StorePage;
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
    unlocked: bool,
}

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
    conversations: RefCell<HashMap<Key, Rc<Conversation>>>,
    next_request: Rc<Cell<u64>>,
    quitting: Cell<bool>,
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
        for widget in [accounts_heading.upcast_ref::<gtk::Widget>(), accounts_list.upcast_ref(), add_account.upcast_ref(), roster_heading.upcast_ref(), roster_scroller.upcast_ref(), contact.upcast_ref(), contact_bar.upcast_ref()] {
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
            conversations: RefCell::new(HashMap::new()),
            next_request: Rc::new(Cell::new(0)),
            quitting: Cell::new(false),
            marks: RefCell::new(Rc::new(Marks::default())),
        });

        let weak = Rc::downgrade(&app);
        add_account.connect_clicked(move |_| {
            if let Some(app) = weak.upgrade() {
                app.open_account_form();
            }
        });
        roster_list.set_factory(Some(&roster_factory(app.outgoing.clone(), app.status_line.clone())));
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
                if empty {
                    self.open_account_form();
                }
            }
            ToUi::Unlocking => self.store_page.unlocking(),
            ToUi::PassphraseChanged(Ok(())) => self.say(&tr("The passphrase was changed.")),
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
            ToUi::Imported(Ok(report)) => {
                self.known.borrow_mut().accounts.extend(report.added);
                self.refresh_accounts();
            }
            ToUi::Imported(Err(failure)) => self.say(&failure.message),
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
            OtrEvent::State { peer, state, fingerprint, verified } => {
                let key = (account.to_owned(), peer.clone());
                let before = self.known.borrow_mut().otr.insert(key.clone(), (OtrView { state, verified }, fingerprint.clone()));
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
            OtrEvent::Policy { .. } => {}
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
        let sender = self.outgoing.clone();
        let line = self.status_line.clone();
        let send: Rc<dyn Fn(FromUi)> = Rc::new(move |message| send_now(&sender, &line, message));
        let form = AccountForm::open(&self.window, send);
        *self.form.borrow_mut() = Some(form);
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
            self.accounts_list.append(&row);
        }
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
    let subscription = entry.map(|entry| entry.subscription.clone()).unwrap_or_default();
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
fn roster_factory(outgoing: mpsc::Sender<FromUi>, status_line: gtk::Label) -> gtk::SignalListItemFactory {
    let factory = gtk::SignalListItemFactory::new();
    factory.connect_setup(move |_, item| {
        let Some(item) = item.downcast_ref::<gtk::ListItem>() else { return };
        let row = vertical(2);
        margins(&row, 6);
        let peer = plain_label("");
        let line = plain_label("");
        line.add_css_class("dim-label");
        let asks = plain_label(&tr("asks to see your presence"));
        let approve = button(&tr("Approve"), &tr("Let this contact see your presence"));
        approve.set_halign(gtk::Align::Start);
        for widget in [peer.upcast_ref::<gtk::Widget>(), line.upcast_ref(), asks.upcast_ref(), approve.upcast_ref()] {
            row.append(widget);
        }
        let sender = outgoing.clone();
        let status_line = status_line.clone();
        let shown = item.downgrade();
        approve.connect_clicked(move |_| {
            let Some(key) = shown.upgrade().and_then(|item| item.item()).and_then(|object| object.downcast::<glib::BoxedAnyObject>().ok()).map(|row| row.borrow::<RosterRow>().key.clone()) else {
                return;
            };
            let (account, peer) = key;
            send_now(&sender, &status_line, FromUi::Account { account, request: AccountRequest::Approve { peer } });
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

fn otr_name(view: OtrView) -> String {
    match (view.state, view.verified) {
        (ConversationState::Private, true) => tr("private, verified"),
        (ConversationState::Private, false) => tr("private, not verified"),
        (ConversationState::Finished, _) => tr("ended by contact"),
        (ConversationState::Plaintext, _) => tr("not private"),
    }
}
