//! Two things done to the store once it is open: importing another
//! client's accounts and OTR keys, and changing the passphrase. Both are
//! modal windows that send one request and show its answer; the files are
//! read by the launcher and parsed by the crypto process, never here.

use std::rc::Rc;

use gtk4 as gtk;
use gtk4::prelude::*;
use ipc::import::{ImportReport, ImportRequest, ImportSource};
use ipc::secret::{Passphrase, SecretText};
use ipc::ui::FromUi;

use super::widgets::{button, close_on_escape, drop_down, entry, horizontal, margins, password_entry, plain_label, vertical};
use crate::i18n::{tr, tr_with};

fn client_name(source: ImportSource) -> String {
    match source {
        ImportSource::Pidgin => tr("Pidgin"),
        ImportSource::Adium => tr("Adium"),
        ImportSource::Gajim => tr("Gajim"),
        ImportSource::XmppClient => tr("xmpp-client"),
        ImportSource::Coyim => tr("CoyIM"),
    }
}

fn modal(parent: &gtk::Window, title: &str) -> (gtk::Window, gtk::Box) {
    let window = gtk::Window::new();
    window.set_title(Some(title));
    window.set_transient_for(Some(parent));
    window.set_modal(true);
    window.set_default_width(480);
    close_on_escape(&window);
    let root = vertical(10);
    margins(&root, 16);
    window.set_child(Some(&root));
    (window, root)
}

pub struct ImportDialog {
    pub window: gtk::Window,
    source: gtk::DropDown,
    folder: gtk::Entry,
    passphrase: gtk::PasswordEntry,
    passphrase_row: gtk::Box,
    import: gtk::Button,
    message: gtk::Label,
}

impl ImportDialog {
    pub fn open(parent: &gtk::Window, send: Rc<dyn Fn(FromUi)>) -> Rc<ImportDialog> {
        let (window, root) = modal(parent, &tr("Import from another client"));
        let explanation = plain_label(&tr("Burrow reads the other client's account list and OTR keys, and copies them into its encrypted store. The other client's files are not changed. Accounts whose password the client did not save are listed as skipped."));
        explanation.set_max_width_chars(60);
        let names: Vec<String> = ImportSource::ALL.iter().map(|source| client_name(*source)).collect();
        let source = drop_down(&names, &tr("The client to import from"));
        let folder = entry("", &tr("The client's folder; empty for its usual place"));
        let passphrase_row = vertical(4);
        let passphrase_caption = plain_label(&tr("CoyIM's passphrase, if its accounts file is encrypted:"));
        let passphrase = password_entry(&tr("CoyIM's passphrase"));
        passphrase_row.append(&passphrase_caption);
        passphrase_row.append(&passphrase);
        let message = plain_label("");
        message.set_visible(false);
        message.set_selectable(true);
        message.set_valign(gtk::Align::Start);
        message.set_max_width_chars(60);
        let buttons = horizontal(8);
        buttons.set_halign(gtk::Align::End);
        let close = button(&tr("Close"), &tr("Close this window"));
        let import = button(&tr("Import"), &tr("Import from the chosen client"));
        import.add_css_class("suggested-action");
        buttons.append(&close);
        buttons.append(&import);
        // The report may list many skipped items: it scrolls, and the
        // window keeps its size and its buttons in view.
        let report = gtk::ScrolledWindow::new();
        report.set_min_content_height(160);
        report.set_vexpand(true);
        report.set_child(Some(&message));
        window.set_default_height(520);
        for widget in [explanation.upcast_ref::<gtk::Widget>(), plain_label(&tr("Client")).upcast_ref(), source.upcast_ref(), plain_label(&tr("Folder")).upcast_ref(), folder.upcast_ref(), passphrase_row.upcast_ref(), report.upcast_ref(), buttons.upcast_ref()] {
            root.append(widget);
        }
        window.set_default_widget(Some(&import));
        folder.set_activates_default(true);
        passphrase.set_activates_default(true);

        let dialog = Rc::new(ImportDialog { window, source, folder, passphrase, passphrase_row, import, message });
        dialog.source_changed();
        let weak = Rc::downgrade(&dialog);
        dialog.source.connect_selected_notify(move |_| {
            if let Some(dialog) = weak.upgrade() {
                dialog.source_changed();
            }
        });
        let weak = Rc::downgrade(&dialog);
        dialog.import.connect_clicked(move |_| {
            let Some(dialog) = weak.upgrade() else { return };
            match dialog.request() {
                Ok(request) => {
                    dialog.passphrase.set_text("");
                    dialog.import.set_sensitive(false);
                    dialog.show(&tr("Importing…"));
                    send(FromUi::Import(request));
                }
                Err(problem) => dialog.show(&problem),
            }
        });
        let window = dialog.window.clone();
        close.connect_clicked(move |_| window.close());
        dialog.window.present();
        dialog.source.grab_focus();
        dialog
    }

    fn selected(&self) -> ImportSource {
        ImportSource::ALL.get(self.source.selected() as usize).copied().unwrap_or(ImportSource::Pidgin)
    }

    /// The folder's placeholder names the client's usual place, and only
    /// CoyIM asks for a passphrase.
    fn source_changed(&self) {
        let source = self.selected();
        let usual = source.default_directories().iter().map(|directory| format!("~/{directory}")).collect::<Vec<_>>().join(" · ");
        self.folder.set_placeholder_text(Some(&tr_with("usual place: {folder}", &[("folder", &usual)])));
        self.passphrase_row.set_visible(source == ImportSource::Coyim);
    }

    fn request(&self) -> Result<ImportRequest, String> {
        let source = self.selected();
        let folder = self.folder.text().trim().to_owned();
        let directory = match folder.as_str() {
            "" => None,
            folder if folder.starts_with('/') => Some(folder.to_owned()),
            _ => return Err(tr("Type the folder's full path, starting with /, or leave it empty.")),
        };
        let typed = self.passphrase.text();
        let passphrase = (source == ImportSource::Coyim && !typed.is_empty()).then(|| SecretText::new(typed.to_string()));
        Ok(ImportRequest { source, directory, passphrase })
    }

    /// The crypto process's report, in full: what came in and what did not.
    pub fn finished(&self, report: Result<&ImportReport, &str>) {
        self.import.set_sensitive(true);
        match report {
            Ok(report) => {
                let counts = [("client", client_name(report.source)), ("accounts", report.accounts.to_string()), ("keys", report.keys.to_string()), ("fingerprints", report.fingerprints.to_string())];
                let counts: Vec<(&str, &str)> = counts.iter().map(|(name, value)| (*name, value.as_str())).collect();
                let mut text = tr_with("From {client}: {accounts} account(s), {keys} OTR key(s) and {fingerprints} contact fingerprint(s) came in.", &counts);
                if report.bookmarks > 0 {
                    text.push(' ');
                    text.push_str(&tr_with("{rooms} saved room(s) were kept too.", &[("rooms", &report.bookmarks.to_string())]));
                }
                if !report.kept.is_empty() {
                    text.push_str("\n\n");
                    text.push_str(&tr("Kept for an account you add later with the same address:"));
                    for kept in &report.kept {
                        text.push_str("\n• ");
                        text.push_str(kept);
                    }
                }
                if !report.skipped.is_empty() {
                    text.push_str("\n\n");
                    text.push_str(&tr("Left out:"));
                    for skipped in &report.skipped {
                        text.push_str("\n• ");
                        text.push_str(skipped);
                    }
                }
                self.show(&text);
            }
            Err(problem) => self.show(problem),
        }
    }

    fn show(&self, text: &str) {
        self.message.set_text(text);
        self.message.set_visible(true);
    }
}

pub struct PassphraseDialog {
    pub window: gtk::Window,
    new: gtk::PasswordEntry,
    repeat: gtk::PasswordEntry,
    change: gtk::Button,
    message: gtk::Label,
}

impl PassphraseDialog {
    pub fn open(parent: &gtk::Window, send: Rc<dyn Fn(FromUi)>) -> Rc<PassphraseDialog> {
        let (window, root) = modal(parent, &tr("Change the passphrase"));
        let explanation = plain_label(&tr("The store is encrypted again under the new passphrase, and so is its backup copy. The old passphrase stops working."));
        explanation.set_max_width_chars(60);
        let new = password_entry(&tr("New passphrase"));
        new.set_placeholder_text(Some(&tr("New passphrase")));
        let repeat = password_entry(&tr("Repeat the new passphrase"));
        repeat.set_placeholder_text(Some(&tr("Repeat the new passphrase")));
        let message = plain_label("");
        message.set_visible(false);
        let buttons = horizontal(8);
        buttons.set_halign(gtk::Align::End);
        let cancel = button(&tr("Cancel"), &tr("Keep the passphrase as it is"));
        let change = button(&tr("Change"), &tr("Change the passphrase"));
        change.add_css_class("suggested-action");
        buttons.append(&cancel);
        buttons.append(&change);
        for widget in [explanation.upcast_ref::<gtk::Widget>(), new.upcast_ref(), repeat.upcast_ref(), message.upcast_ref(), buttons.upcast_ref()] {
            root.append(widget);
        }
        window.set_default_widget(Some(&change));
        new.set_activates_default(true);
        repeat.set_activates_default(true);

        let dialog = Rc::new(PassphraseDialog { window, new, repeat, change, message });
        let weak = Rc::downgrade(&dialog);
        dialog.change.connect_clicked(move |_| {
            let Some(dialog) = weak.upgrade() else { return };
            let typed = Passphrase::new(dialog.new.text().to_string());
            let same = dialog.repeat.text().as_str() == typed.expose();
            // GTK's own copies are dropped as soon as they are read.
            dialog.new.set_text("");
            dialog.repeat.set_text("");
            if typed.expose().is_empty() {
                return dialog.show(&tr("Type a passphrase first."));
            }
            if !same {
                return dialog.show(&tr("The two passphrases differ. Type them again."));
            }
            dialog.change.set_sensitive(false);
            dialog.show(&tr("Encrypting the store under the new passphrase…"));
            send(FromUi::ChangePassphrase { passphrase: typed });
        });
        let window = dialog.window.clone();
        cancel.connect_clicked(move |_| window.close());
        dialog.window.present();
        dialog.new.grab_focus();
        dialog
    }

    /// Crypto refused or failed: the store is unchanged; say why.
    pub fn refused(&self, problem: &str) {
        self.change.set_sensitive(true);
        self.show(problem);
        self.new.grab_focus();
    }

    fn show(&self, text: &str) {
        self.message.set_text(text);
        self.message.set_visible(true);
    }
}
