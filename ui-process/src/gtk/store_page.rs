//! The first page: create a passphrase on first run (or, warned, none), or
//! unlock the store, with progress while crypto derives the key.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use gtk4 as gtk;
use gtk4::glib;
use gtk4::prelude::*;
use ipc::secret::Passphrase;
use ipc::ui::FromUi;
use ipc::UnlockMode;

use super::widgets::{button, named, password_entry, plain_label, vertical};
use crate::i18n::tr;

pub struct StorePage {
    pub root: gtk::Box,
    passphrase: gtk::PasswordEntry,
    repeat: gtk::PasswordEntry,
    go: gtk::Button,
    without: gtk::Button,
    progress: gtk::ProgressBar,
    message: gtk::Label,
    first_run: bool,
    pulse: RefCell<Option<glib::SourceId>>,
}

impl StorePage {
    pub fn build(first_run: bool, window: &gtk::Window, send: Rc<dyn Fn(FromUi)>) -> Rc<StorePage> {
        let root = vertical(12);
        root.set_valign(gtk::Align::Center);
        root.set_halign(gtk::Align::Center);
        root.set_width_request(420);
        super::widgets::margins(&root, 24);
        let (heading, explanation) = if first_run {
            (tr("Welcome to Burrow"), tr("Choose a passphrase. It protects your accounts, passwords and OTR keys on this computer. Nothing you read or write is kept."))
        } else {
            (tr("Unlock Burrow"), tr("Type your passphrase to open your accounts."))
        };
        let heading = plain_label(&heading);
        heading.add_css_class("title-1");
        let explanation = plain_label(&explanation);
        let passphrase = password_entry(&tr("Passphrase"));
        passphrase.set_placeholder_text(Some(&tr("Passphrase")));
        let repeat = password_entry(&tr("Repeat the passphrase"));
        repeat.set_placeholder_text(Some(&tr("Repeat the passphrase")));
        repeat.set_visible(first_run);
        let go = if first_run {
            button(&tr("Create"), &tr("Create the store with this passphrase"))
        } else {
            button(&tr("Unlock"), &tr("Unlock the store with this passphrase"))
        };
        go.add_css_class("suggested-action");
        let without = if first_run {
            button(&tr("Continue without a passphrase…"), &tr("Create the store with no passphrase (not recommended)"))
        } else {
            button(&tr("Open without a passphrase"), &tr("Open a store that was made with no passphrase"))
        };
        let progress: gtk::ProgressBar = named("GtkProgressBar", &tr("Deriving the key from your passphrase"));
        progress.set_text(Some(&tr("Deriving the key from your passphrase…")));
        progress.set_show_text(true);
        progress.set_visible(false);
        let message = plain_label("");
        message.set_visible(false);
        // Long sentences wrap at a reading width instead of widening the page.
        for label in [&explanation, &message] {
            label.set_max_width_chars(60);
        }
        for widget in [heading.upcast_ref::<gtk::Widget>(), explanation.upcast_ref(), passphrase.upcast_ref(), repeat.upcast_ref(), go.upcast_ref(), without.upcast_ref(), progress.upcast_ref(), message.upcast_ref()] {
            root.append(widget);
        }
        let page = Rc::new(StorePage { root, passphrase, repeat, go, without, progress, message, first_run, pulse: RefCell::new(None) });

        let weak = Rc::downgrade(&page);
        let submit_send = send.clone();
        let submit = move || {
            if let Some(page) = weak.upgrade() {
                page.submit(&*submit_send);
            }
        };
        let submit = Rc::new(submit);
        for entry in [&page.passphrase, &page.repeat] {
            let submit = submit.clone();
            entry.connect_activate(move |_| submit());
        }
        let on_click = submit.clone();
        page.go.connect_clicked(move |_| on_click());

        let weak = Rc::downgrade(&page);
        let window = window.clone();
        page.without.connect_clicked(move |_| {
            let Some(page) = weak.upgrade() else { return };
            if !page.first_run {
                page.start(&*send, Passphrase::new(String::new()), UnlockMode::NoPassphrase);
                return;
            }
            let dialog = gtk::MessageDialog::new(
                Some(&window),
                gtk::DialogFlags::MODAL | gtk::DialogFlags::DESTROY_WITH_PARENT,
                gtk::MessageType::Warning,
                gtk::ButtonsType::None,
                tr("Use no passphrase?"),
            );
            dialog.set_secondary_text(Some(&tr("Without a passphrase, anyone who can read this computer's files can read your accounts, passwords and OTR keys. You can set a passphrase later.")));
            dialog.add_button(&tr("Cancel"), gtk::ResponseType::Cancel);
            dialog.add_button(&tr("Use no passphrase"), gtk::ResponseType::Accept);
            dialog.set_default_response(gtk::ResponseType::Cancel);
            let send = send.clone();
            let weak = Rc::downgrade(&page);
            dialog.connect_response(move |dialog, response| {
                dialog.close();
                if response == gtk::ResponseType::Accept {
                    if let Some(page) = weak.upgrade() {
                        page.start(&*send, Passphrase::new(String::new()), UnlockMode::NoPassphrase);
                    }
                }
            });
            dialog.present();
        });
        page
    }

    pub fn focus(&self) {
        self.passphrase.grab_focus();
    }

    fn submit(&self, send: &dyn Fn(FromUi)) {
        if !self.go.is_sensitive() {
            return;
        }
        let passphrase = self.passphrase.text().to_string();
        if passphrase.is_empty() {
            return self.show_error(&tr("Type a passphrase first."));
        }
        if self.first_run && passphrase != self.repeat.text().as_str() {
            self.repeat.set_text("");
            return self.show_error(&tr("The two passphrases differ. Type them again."));
        }
        self.start(send, Passphrase::new(passphrase), UnlockMode::Store);
    }

    fn start(&self, send: &dyn Fn(FromUi), passphrase: Passphrase, mode: UnlockMode) {
        // GTK keeps its own copy of what was typed until the entry is
        // cleared; clear it now rather than after the unlock.
        self.passphrase.set_text("");
        self.repeat.set_text("");
        self.message.set_visible(false);
        self.set_busy(true);
        send(FromUi::Unlock { passphrase, mode });
    }

    /// Crypto has started deriving the key.
    pub fn unlocking(&self) {
        self.set_busy(true);
    }

    pub fn show_error(&self, text: &str) {
        self.set_busy(false);
        self.message.set_text(text);
        self.message.set_visible(true);
        self.passphrase.grab_focus();
    }

    pub fn done(&self) {
        self.set_busy(false);
    }

    fn set_busy(&self, busy: bool) {
        for widget in [self.go.upcast_ref::<gtk::Widget>(), self.without.upcast_ref(), self.passphrase.upcast_ref(), self.repeat.upcast_ref()] {
            widget.set_sensitive(!busy);
        }
        self.progress.set_visible(busy);
        let mut pulse = self.pulse.borrow_mut();
        match (busy, pulse.is_some()) {
            (true, false) => {
                let progress = self.progress.clone();
                *pulse = Some(glib::timeout_add_local(Duration::from_millis(120), move || {
                    progress.pulse();
                    glib::ControlFlow::Continue
                }));
            }
            (false, true) => {
                if let Some(source) = pulse.take() {
                    source.remove();
                }
            }
            _ => {}
        }
    }
}
