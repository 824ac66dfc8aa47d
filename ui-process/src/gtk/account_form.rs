//! "Add an existing account": a modal form whose fields go through the same
//! checks as the text front end's `/account add`.

use std::rc::Rc;

use gtk4 as gtk;
use gtk4::prelude::*;
use ipc::secret::SecretText;
use ipc::ui::FromUi;
use ipc::xmpp::NewAccount;

use super::widgets::{button, close_on_escape, drop_down, entry, horizontal, margins, password_entry, plain_label, vertical};
use crate::command;
use crate::i18n::tr;

/// The Tor choices, in the order the drop-down shows them.
const TOR_MODES: [&str; 3] = ["auto", "system", "embedded"];
const TLS_MODES: [&str; 2] = ["starttls", "direct"];

pub struct AccountForm {
    pub window: gtk::Window,
    jid: gtk::Entry,
    password: gtk::PasswordEntry,
    server: gtk::Entry,
    certificate: gtk::Entry,
    tor: gtk::DropDown,
    tls: gtk::DropDown,
    add: gtk::Button,
    message: gtk::Label,
}

impl AccountForm {
    /// `create_instead` opens "Create a new account" in its place.
    pub fn open(parent: &gtk::Window, send: Rc<dyn Fn(FromUi)>, create_instead: Rc<dyn Fn()>) -> Rc<AccountForm> {
        let window = gtk::Window::new();
        window.set_title(Some(&tr("Add an account")));
        window.set_transient_for(Some(parent));
        window.set_modal(true);
        window.set_default_width(460);
        close_on_escape(&window);
        let root = vertical(8);
        margins(&root, 16);
        let grid = gtk::Grid::new();
        grid.set_row_spacing(8);
        grid.set_column_spacing(12);
        let jid = entry(&tr("name@example.org"), &tr("Your address (JID)"));
        let password = password_entry(&tr("Your password"));
        let server = entry(&tr("optional: HOST:PORT"), &tr("Server address and port, if not the domain's own"));
        let certificate = entry(&tr("optional: /path/to/ca.pem"), &tr("A certificate file to trust for this server only"));
        let tor_names = [tr("Tor: choose automatically"), tr("Tor: the system's Tor"), tr("Tor: Burrow's own Tor")];
        let tor = drop_down(&tor_names, &tr("Which Tor the connection goes through"));
        let tls_names = [tr("STARTTLS (usual)"), tr("TLS from the start (XEP-0368)")];
        let tls = drop_down(&tls_names, &tr("How the connection is encrypted"));
        let rows: [(String, gtk::Widget); 6] = [
            (tr("Address"), jid.clone().upcast()),
            (tr("Password"), password.clone().upcast()),
            (tr("Server"), server.clone().upcast()),
            (tr("Certificate"), certificate.clone().upcast()),
            (tr("Tor"), tor.clone().upcast()),
            (tr("Encryption"), tls.clone().upcast()),
        ];
        for (row, (caption, field)) in rows.iter().enumerate() {
            let label = plain_label(caption);
            field.set_hexpand(true);
            grid.attach(&label, 0, row as i32, 1, 1);
            grid.attach(field, 1, row as i32, 1, 1);
        }
        let message = plain_label("");
        message.set_visible(false);
        let buttons = horizontal(8);
        buttons.set_halign(gtk::Align::End);
        let create = button(&tr("Create a new account instead…"), &tr("Create a new account on a server, with a random name and a strong password"));
        create.connect_clicked(move |_| create_instead());
        let cancel = button(&tr("Cancel"), &tr("Close this form without adding an account"));
        let add = button(&tr("Add account"), &tr("Add this account"));
        add.add_css_class("suggested-action");
        buttons.append(&create);
        buttons.append(&cancel);
        buttons.append(&add);
        root.append(&grid);
        root.append(&message);
        root.append(&buttons);
        window.set_child(Some(&root));
        window.set_default_widget(Some(&add));
        for field in [&jid, &server, &certificate] {
            field.set_activates_default(true);
        }
        password.set_activates_default(true);

        let form = Rc::new(AccountForm { window, jid, password, server, certificate, tor, tls, add, message });
        let weak = Rc::downgrade(&form);
        form.add.connect_clicked(move |_| {
            let Some(form) = weak.upgrade() else { return };
            match form.account() {
                Ok(account) => {
                    form.password.set_text("");
                    form.add.set_sensitive(false);
                    form.show(&tr("Adding the account…"));
                    send(FromUi::AddAccount(account));
                }
                Err(problem) => form.show(&problem),
            }
        });
        let window = form.window.clone();
        cancel.connect_clicked(move |_| window.close());
        form.window.present();
        form.jid.grab_focus();
        form
    }

    fn account(&self) -> Result<NewAccount, String> {
        let mut account = command::new_account(&self.jid.text(), SecretText::new(self.password.text().to_string()))?;
        for (key, field) in [("server", &self.server), ("ca", &self.certificate)] {
            let value = field.text();
            let value = value.trim();
            if !value.is_empty() {
                command::account_option(&mut account, key, value)?;
            }
        }
        let tor = TOR_MODES.get(self.tor.selected() as usize).copied().unwrap_or("auto");
        command::account_option(&mut account, "tor", tor)?;
        let tls = TLS_MODES.get(self.tls.selected() as usize).copied().unwrap_or("starttls");
        command::account_option(&mut account, "tls", tls)?;
        command::finish_account(account)
    }

    /// The store refused the account: say why and let the user fix it.
    pub fn refused(&self, problem: &str) {
        self.add.set_sensitive(true);
        self.show(problem);
    }

    fn show(&self, text: &str) {
        self.message.set_text(text);
        self.message.set_visible(true);
    }
}
