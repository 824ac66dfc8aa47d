//! "Create a new account": a known server (or another), then, if that
//! server asks for more than a user name and a password, its form. The user
//! name and password are never asked for: the key process makes them (a
//! random name, a strong random password) and keeps them in the encrypted
//! store. Every text from the server is shown as plain text.

use std::cell::RefCell;
use std::rc::Rc;

use gtk4 as gtk;
use gtk4::prelude::*;
use ipc::known_servers::KNOWN_SERVERS;
use ipc::register::{FieldKind, RegistrationForm};
use ipc::ui::FromUi;
use ipc::xmpp::NewAccount;

use super::widgets::{button, drop_down, entry, horizontal, margins, named, password_entry, plain_label, vertical};
use crate::command;
use crate::i18n::{tr, tr_with};

const TOR_MODES: [&str; 3] = ["auto", "system", "embedded"];

/// One answer's widget in the server's form.
enum Answer {
    Text(gtk::Entry),
    Secret(gtk::PasswordEntry),
    Check(gtk::CheckButton),
    Choice(gtk::DropDown, Vec<String>),
}

/// The server's form on screen: its number, the form, the answers' widgets.
struct Shown {
    registration: u64,
    form: RegistrationForm,
    answers: Vec<(String, Answer)>,
}

pub struct RegisterForm {
    pub window: gtk::Window,
    server: gtk::DropDown,
    other: gtk::Entry,
    address: gtk::Entry,
    certificate: gtk::Entry,
    tor: gtk::DropDown,
    choose: gtk::Box,
    form_area: gtk::Box,
    create: gtk::Button,
    submit: gtk::Button,
    message: gtk::Label,
    send: Rc<dyn Fn(FromUi)>,
    /// The form on screen; closing the window cancels it.
    shown: RefCell<Option<Shown>>,
}

impl RegisterForm {
    pub fn open(parent: &gtk::Window, send: Rc<dyn Fn(FromUi)>) -> Rc<RegisterForm> {
        let window = gtk::Window::new();
        window.set_title(Some(&tr("Create a new account")));
        window.set_transient_for(Some(parent));
        window.set_modal(true);
        window.set_default_width(500);
        let root = vertical(10);
        margins(&root, 16);
        let about = plain_label(&tr(
            "Burrow creates the account for you, in one step: a random user name and a strong random password, which are kept in your encrypted store. You do not need to remember or type them. The server learns the password, as with any account; the connection goes through Tor, unless the server is on this computer.",
        ));
        let choose = vertical(8);
        let grid = gtk::Grid::new();
        grid.set_row_spacing(8);
        grid.set_column_spacing(12);
        let mut names: Vec<String> = KNOWN_SERVERS.iter().map(|(domain, _)| (*domain).to_owned()).collect();
        names.push(tr("Another server…"));
        let server = drop_down(&names, &tr("The server on which to create the account"));
        let other = entry(&tr("example.org"), &tr("Another server's domain, instead of one from the list"));
        let address = entry(&tr("optional: HOST:PORT"), &tr("Server address and port, if not the domain's own"));
        let certificate = entry(&tr("optional: /path/to/ca.pem"), &tr("A certificate file to trust for this server only"));
        let tor_names = [tr("Tor: choose automatically"), tr("Tor: the system's Tor"), tr("Tor: Burrow's own Tor")];
        let tor = drop_down(&tor_names, &tr("Which Tor the connection goes through"));
        let rows: [(String, gtk::Widget); 5] = [
            (tr("Server"), server.clone().upcast()),
            (tr("Other server"), other.clone().upcast()),
            (tr("Address"), address.clone().upcast()),
            (tr("Certificate"), certificate.clone().upcast()),
            (tr("Tor"), tor.clone().upcast()),
        ];
        for (row, (caption, field)) in rows.iter().enumerate() {
            field.set_hexpand(true);
            grid.attach(&plain_label(caption), 0, row as i32, 1, 1);
            grid.attach(field, 1, row as i32, 1, 1);
        }
        choose.append(&grid);
        let form_area: gtk::Box = named("GtkBox", &tr("The server's questions"));
        form_area.set_orientation(gtk::Orientation::Vertical);
        form_area.set_spacing(8);
        form_area.set_visible(false);
        let message = plain_label("");
        message.set_visible(false);
        let buttons = horizontal(8);
        buttons.set_halign(gtk::Align::End);
        let cancel = button(&tr("Cancel"), &tr("Close this window; no account is created"));
        let create = button(&tr("Create account"), &tr("Create a new account on this server"));
        create.add_css_class("suggested-action");
        let submit = button(&tr("Send answers"), &tr("Send these answers to the server and create the account"));
        submit.add_css_class("suggested-action");
        submit.set_visible(false);
        buttons.append(&cancel);
        buttons.append(&create);
        buttons.append(&submit);
        root.append(&about);
        root.append(&choose);
        root.append(&form_area);
        root.append(&message);
        root.append(&buttons);
        window.set_child(Some(&root));
        window.set_default_widget(Some(&create));
        for field in [&other, &address, &certificate] {
            field.set_activates_default(true);
        }

        let form = Rc::new(RegisterForm {
            window,
            server,
            other,
            address,
            certificate,
            tor,
            choose,
            form_area,
            create,
            submit,
            message,
            send,
            shown: RefCell::new(None),
        });
        // Typing a domain chooses "Another server…": the list and the field
        // never disagree, and the keyboard needs no trip through the list.
        let weak = Rc::downgrade(&form);
        form.other.connect_changed(move |other| {
            if let Some(form) = weak.upgrade() {
                if !other.text().trim().is_empty() {
                    form.server.set_selected(KNOWN_SERVERS.len() as u32);
                }
            }
        });
        let weak = Rc::downgrade(&form);
        form.server.connect_selected_notify(move |server| {
            if let Some(form) = weak.upgrade() {
                if server.selected() as usize == KNOWN_SERVERS.len() {
                    form.other.grab_focus();
                } else {
                    form.other.set_text("");
                }
            }
        });
        let weak = Rc::downgrade(&form);
        form.create.connect_clicked(move |_| {
            let Some(form) = weak.upgrade() else { return };
            match form.registration() {
                Ok(account) => {
                    form.create.set_sensitive(false);
                    form.show(&tr_with("Creating the account on {server}…", &[("server", &account.jid)]));
                    (form.send)(FromUi::Register(account));
                }
                Err(problem) => form.show(&problem),
            }
        });
        let weak = Rc::downgrade(&form);
        form.submit.connect_clicked(move |_| {
            if let Some(form) = weak.upgrade() {
                form.send_answers();
            }
        });
        let window = form.window.clone();
        cancel.connect_clicked(move |_| window.close());
        let weak = Rc::downgrade(&form);
        form.window.connect_close_request(move |_| {
            if let Some(form) = weak.upgrade() {
                form.cancel_shown();
            }
            gtk::glib::Propagation::Proceed
        });
        form.window.present();
        form.server.grab_focus();
        form
    }

    fn registration(&self) -> Result<NewAccount, String> {
        let chosen = self.server.selected() as usize;
        let domain = match KNOWN_SERVERS.get(chosen) {
            Some((domain, _)) => (*domain).to_owned(),
            None => self.other.text().trim().to_owned(),
        };
        if domain.is_empty() {
            return Err(tr("Type the other server's domain, such as example.org."));
        }
        let mut account = command::new_registration(&domain)?;
        for (key, field) in [("server", &self.address), ("ca", &self.certificate)] {
            let value = field.text();
            let value = value.trim();
            if !value.is_empty() {
                command::account_option(&mut account, key, value)?;
            }
        }
        let tor = TOR_MODES.get(self.tor.selected() as usize).copied().unwrap_or("auto");
        command::account_option(&mut account, "tor", tor)?;
        command::finish_account(account)
    }

    /// The server asks for more: its instructions and fields, as plain text.
    pub fn show_form(&self, registration: u64, domain: &str, form: RegistrationForm) {
        clear_box(&self.form_area);
        let heading = plain_label(&tr_with("{server} asks for this before it creates the account:", &[("server", domain)]));
        heading.add_css_class("heading");
        self.form_area.append(&heading);
        for text in &form.instructions {
            self.form_area.append(&plain_label(text));
        }
        let mut answers = Vec::new();
        let mut first: Option<gtk::Widget> = None;
        for field in &form.fields {
            let caption = if field.required { tr_with("{label} (required)", &[("label", field.shown_label())]) } else { field.shown_label().to_owned() };
            let default = field.values.first().cloned().unwrap_or_default();
            let answer = match field.kind {
                FieldKind::Hidden => continue,
                FieldKind::Fixed => {
                    self.form_area.append(&plain_label(&field.values.join("\n")));
                    continue;
                }
                FieldKind::Private => {
                    let widget = password_entry(&caption);
                    widget.set_activates_default(true);
                    Answer::Secret(widget)
                }
                FieldKind::Boolean => {
                    let widget: gtk::CheckButton = named("GtkCheckButton", &caption);
                    widget.set_label(Some(&caption));
                    widget.set_active(matches!(default.as_str(), "1" | "true"));
                    Answer::Check(widget)
                }
                FieldKind::List => {
                    let labels: Vec<String> = field.options.iter().map(|(label, _)| label.clone()).collect();
                    let widget = drop_down(&labels, &caption);
                    if let Some(index) = field.options.iter().position(|(_, value)| *value == default) {
                        widget.set_selected(index as u32);
                    }
                    Answer::Choice(widget, field.options.iter().map(|(_, value)| value.clone()).collect())
                }
                FieldKind::Text | FieldKind::Multi => {
                    let widget = entry("", &caption);
                    widget.set_text(&default);
                    widget.set_activates_default(true);
                    Answer::Text(widget)
                }
            };
            let widget: gtk::Widget = match &answer {
                Answer::Text(widget) => widget.clone().upcast(),
                Answer::Secret(widget) => widget.clone().upcast(),
                Answer::Check(widget) => widget.clone().upcast(),
                Answer::Choice(widget, _) => widget.clone().upcast(),
            };
            if !matches!(answer, Answer::Check(_)) {
                self.form_area.append(&plain_label(&caption));
            }
            if let Some(description) = &field.description {
                let note = plain_label(description);
                note.add_css_class("dim-label");
                self.form_area.append(&note);
            }
            self.form_area.append(&widget);
            first.get_or_insert(widget);
            answers.push((field.var.clone(), answer));
        }
        self.choose.set_visible(false);
        self.create.set_visible(false);
        self.form_area.set_visible(true);
        self.submit.set_visible(true);
        self.submit.set_sensitive(true);
        self.window.set_default_widget(Some(&self.submit));
        self.message.set_visible(false);
        *self.shown.borrow_mut() = Some(Shown { registration, form, answers });
        match first {
            Some(widget) => {
                widget.grab_focus();
            }
            None => {
                self.submit.grab_focus();
            }
        }
    }

    fn send_answers(&self) {
        let answers = {
            let shown = self.shown.borrow();
            let Some(Shown { registration, form, answers: widgets }) = shown.as_ref() else { return };
            let answers: Vec<(String, String)> = widgets
                .iter()
                .map(|(var, answer)| {
                    let value = match answer {
                        Answer::Text(widget) => widget.text().to_string(),
                        Answer::Secret(widget) => widget.text().to_string(),
                        Answer::Check(widget) => if widget.is_active() { "true" } else { "false" }.to_owned(),
                        Answer::Choice(widget, values) => values.get(widget.selected() as usize).cloned().unwrap_or_default(),
                    };
                    (var.clone(), value)
                })
                .collect();
            if let Err(problem) = form.check_answers(&answers) {
                return self.show(&problem);
            }
            (*registration, answers)
        };
        let (registration, answers) = answers;
        *self.shown.borrow_mut() = None;
        self.submit.set_sensitive(false);
        self.show(&tr("Creating the account…"));
        (self.send)(FromUi::RegisterAnswers { registration, answers: Some(answers) });
    }

    /// Closing the window while the server's form is shown cancels it.
    fn cancel_shown(&self) {
        if let Some(Shown { registration, .. }) = self.shown.borrow_mut().take() {
            (self.send)(FromUi::RegisterAnswers { registration, answers: None });
        }
    }

    /// Nothing was created: say why, and let the user try again.
    pub fn failed(&self, problem: &str) {
        *self.shown.borrow_mut() = None;
        clear_box(&self.form_area);
        self.form_area.set_visible(false);
        self.submit.set_visible(false);
        self.choose.set_visible(true);
        self.create.set_visible(true);
        self.create.set_sensitive(true);
        self.window.set_default_widget(Some(&self.create));
        self.show(problem);
    }

    fn show(&self, text: &str) {
        self.message.set_text(text);
        self.message.set_visible(true);
    }
}

fn clear_box(area: &gtk::Box) {
    while let Some(child) = area.first_child() {
        area.remove(&child);
    }
}
