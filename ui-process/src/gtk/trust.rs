//! Trust in a contact's key, in words for someone who has never heard of
//! OTR: the warning when a contact's key changed, the dialog that compares
//! both keys by hand, and the four OTR policies explained. Nothing here
//! talks to the broker: the caller is handed what the user decided.

use gtk4 as gtk;
use gtk4::prelude::*;
use ipc::otr::KeyChange;

use super::widgets::{horizontal, margins, plain_label, vertical};
use crate::i18n::{tr, tr_with};

/// What a dialog calls back on the main loop (written without a lifetime,
/// which scripts/update-pot.sh's xgettext would read as a C character).
pub type Action = Box<dyn Fn()>;
/// Called with the name of the policy the user chose.
pub type PolicyAction = Box<dyn Fn(&str)>;

/// The OTR policies, strongest first, by the names crypto takes.
pub const POLICIES: [&str; 4] = ["require", "opportunistic", "manual", "never"];

/// A policy's short title, as the choices show it.
pub fn policy_title(policy: &str) -> String {
    match policy {
        "require" => tr("Always encrypt (recommended)"),
        "opportunistic" => tr("Encrypt when possible"),
        "manual" => tr("Encrypt only when I start it"),
        _ => tr("Never encrypt"),
    }
}

/// What a policy means for the user's messages, in plain words.
pub fn policy_explanation(policy: &str) -> String {
    match policy {
        "require" => tr("Nothing is sent unencrypted. Messages wait until the private conversation is ready; if it cannot be set up, they are not sent."),
        "opportunistic" => tr("Burrow offers encryption and uses it when the contact's app answers. Until then, and with apps that cannot encrypt, messages go unencrypted and the server can read them."),
        "manual" => tr("Messages go unencrypted, and the server can read them, until you press “Start private conversation”."),
        _ => tr("Messages always go unencrypted: the server, and anyone who controls it, can read them."),
    }
}

/// A key as a label: monospace, selectable, never markup.
fn key_label(fingerprint: &str) -> gtk::Label {
    let label = plain_label(fingerprint);
    label.add_css_class("monospace");
    label.set_selectable(true);
    // Selectable by mouse, but not where the dialog's focus lands first.
    label.set_focusable(false);
    label.set_margin_start(12);
    label
}

fn dialog(parent: Option<&gtk::Window>, title: &str) -> (gtk::Window, gtk::Box) {
    let window = gtk::Window::new();
    window.set_title(Some(title));
    window.set_transient_for(parent);
    window.set_modal(true);
    window.set_default_width(560);
    window.set_resizable(true);
    let root = vertical(10);
    margins(&root, 18);
    window.set_child(Some(&root));
    // Escape closes, as it does any dialog.
    let close = gtk::CallbackAction::new(|widget, _| {
        if let Some(window) = widget.downcast_ref::<gtk::Window>() {
            window.close();
        }
        gtk::glib::Propagation::Stop
    });
    let shortcuts = gtk::ShortcutController::new();
    shortcuts.add_shortcut(gtk::Shortcut::new(gtk::ShortcutTrigger::parse_string("Escape"), Some(close)));
    window.add_controller(shortcuts);
    (window, root)
}

/// A button with a mnemonic (`_` before its access key, Alt with it
/// presses the button), named by its text alone; `description` is its
/// tooltip. GTK 4.8 names a button by an accessible label given to it *and*
/// its label's text together ("_Cancel Cancel" with `use-underline`), which
/// a screen reader would read out, so neither is used here.
fn mnemonic_button(text: &str, description: &str) -> gtk::Button {
    let button = gtk::Button::new();
    button.set_tooltip_text(Some(description));
    let label = gtk::Label::with_mnemonic(text);
    label.set_mnemonic_widget(Some(&button));
    button.set_child(Some(&label));
    button
}

/// The warning that cannot be missed: a modal window naming the contact,
/// both keys, what it may mean and what to do. `verify` opens the
/// comparison; "Later" only closes (the conversation keeps its banner).
pub fn key_change_warning(parent: Option<&gtk::Window>, peer: &str, new_fingerprint: &str, change: &KeyChange, verify: Action) -> gtk::Window {
    let (window, root) = dialog(parent, &tr_with("Warning: {peer} has a new security key", &[("peer", peer)]));
    let heading = plain_label(&if change.earlier_verified() {
        tr_with("The security key of {peer} is not the one you verified", &[("peer", peer)])
    } else {
        tr_with("The security key of {peer} is not the one seen before", &[("peer", peer)])
    });
    heading.add_css_class("title-2");
    heading.add_css_class("error");
    root.append(&heading);
    root.append(&plain_label(&tr_with(
        "Burrow checks a security key to make sure that you are writing to {peer} and nobody else. The key in use now is different.",
        &[("peer", peer)],
    )));
    root.append(&plain_label(&tr_with(
        "This can have an ordinary reason: {peer} uses a new phone or computer, or reinstalled their chat app. But it can also mean that someone has put themselves between you, to read or change what you write.",
        &[("peer", peer)],
    )));
    let previous: Vec<_> = change.earlier.iter().filter(|earlier| earlier.verified).collect();
    if previous.is_empty() {
        root.append(&plain_label(&tr("Key seen before:")));
        for earlier in &change.earlier {
            root.append(&key_label(&earlier.fingerprint));
        }
    } else {
        root.append(&plain_label(&tr("Key you verified before:")));
        for earlier in previous {
            root.append(&key_label(&earlier.fingerprint));
        }
    }
    root.append(&plain_label(&tr("New key, not verified:")));
    root.append(&key_label(new_fingerprint));
    let todo = plain_label(&tr_with(
        "What to do: do not write anything sensitive yet. Reach {peer} another way, in person or by a call where you recognise their voice, and compare the new key, or ask them a question only they can answer.",
        &[("peer", peer)],
    ));
    todo.add_css_class("heading");
    root.append(&todo);
    let buttons = horizontal(8);
    buttons.set_halign(gtk::Align::End);
    let later = mnemonic_button(&tr("_Later"), &tr("Close this warning; the conversation stays marked as not verified"));
    let check = mnemonic_button(&tr("_Verify the new key…"), &tr_with("Compare the new key with {peer}", &[("peer", peer)]));
    check.add_css_class("suggested-action");
    buttons.append(&later);
    buttons.append(&check);
    root.append(&buttons);
    let shown = window.clone();
    later.connect_clicked(move |_| shown.close());
    let shown = window.clone();
    check.connect_clicked(move |_| {
        shown.close();
        verify();
    });
    window.set_default_widget(Some(&check));
    GtkWindowExt::set_focus(&window, Some(&check));
    window.present();
    window
}

/// Manual verification: both keys, grouped as libotr shows them, how to
/// compare them, and an explicit "they match". `matched` is called only on
/// that button.
pub fn verification_dialog(parent: Option<&gtk::Window>, peer: &str, ours: Option<&str>, theirs: &str, matched: Action) -> gtk::Window {
    let (window, root) = dialog(parent, &tr_with("Verify the key of {peer}", &[("peer", peer)]));
    root.append(&plain_label(&tr_with(
        "Compare these keys with {peer} over another channel you trust: in person, or in a phone or video call where you recognise them. Do not compare them in this chat: someone in the middle could change what it shows.",
        &[("peer", peer)],
    )));
    root.append(&plain_label(&tr("Read your key to them and have them read theirs to you. Every group of eight characters must be the same.")));
    root.append(&plain_label(&tr("Your key (read it to them):")));
    root.append(&key_label(ours.unwrap_or(&tr("not known yet"))));
    root.append(&plain_label(&tr_with("Key of {peer}, as Burrow receives it:", &[("peer", peer)])));
    root.append(&key_label(theirs));
    let warning = plain_label(&tr("If even one character differs, do not mark the key as verified: you may be writing to someone else."));
    warning.add_css_class("heading");
    root.append(&warning);
    let buttons = horizontal(8);
    buttons.set_halign(gtk::Align::End);
    let cancel = mnemonic_button(&tr("_Cancel"), &tr("Close without marking the key as verified"));
    let matches = mnemonic_button(&tr("I have compared them and they _match"), &tr("I have compared them and they match"));
    matches.add_css_class("suggested-action");
    buttons.append(&cancel);
    buttons.append(&matches);
    root.append(&buttons);
    let shown = window.clone();
    cancel.connect_clicked(move |_| shown.close());
    let shown = window.clone();
    matches.connect_clicked(move |_| {
        matched();
        shown.close();
    });
    // The safe choice has the focus: Enter alone never marks a key verified.
    GtkWindowExt::set_focus(&window, Some(&cancel));
    window.present();
    window
}

/// A check button that screen readers know as a radio button: GTK 4.8
/// reports a grouped check button as a check box unless its role is given
/// when it is made, which only GtkBuilder can do without unsafe code.
fn radio_button(label: &str) -> gtk::CheckButton {
    let xml = format!(
        r#"<interface><object class="GtkCheckButton" id="radio"><property name="accessible-role">radio</property><property name="label">{}</property></object></interface>"#,
        gtk::glib::markup_escape_text(label)
    );
    gtk::Builder::from_string(&xml).object("radio").expect("GtkCheckButton is a GTK class")
}

/// The four policies as radio buttons, each with its explanation; `chosen`
/// is called with the policy's name when the user picks one.
pub struct PolicyChoice {
    pub root: gtk::Box,
    radios: Vec<(String, gtk::CheckButton)>,
    /// Set while the choice is shown from what crypto said, so that showing
    /// it sends nothing.
    updating: std::rc::Rc<std::cell::Cell<bool>>,
}

impl PolicyChoice {
    pub fn build(heading: &str, chosen: PolicyAction) -> PolicyChoice {
        let root = vertical(4);
        let caption = plain_label(heading);
        caption.add_css_class("heading");
        root.append(&caption);
        let updating = std::rc::Rc::new(std::cell::Cell::new(false));
        let chosen = std::rc::Rc::new(chosen);
        let mut radios: Vec<(String, gtk::CheckButton)> = Vec::new();
        for policy in POLICIES {
            let radio = radio_button(&policy_title(policy));
            radio.set_tooltip_text(Some(&policy_explanation(policy)));
            if let Some((_, first)) = radios.first() {
                radio.set_group(Some(first));
            }
            let explanation = plain_label(&policy_explanation(policy));
            explanation.add_css_class("dim-label");
            explanation.set_margin_start(28);
            root.append(&radio);
            root.append(&explanation);
            let updating = updating.clone();
            let chosen = chosen.clone();
            radio.connect_toggled(move |radio| {
                if radio.is_active() && !updating.get() {
                    chosen(policy);
                }
            });
            radios.push((policy.to_owned(), radio));
        }
        PolicyChoice { root, radios, updating }
    }

    /// Shows `policy` as chosen without asking for it again.
    pub fn show(&self, policy: &str) {
        self.updating.set(true);
        for (name, radio) in &self.radios {
            if *name == policy {
                radio.set_active(true);
            }
        }
        self.updating.set(false);
    }
}

/// A drop-down of the four policies (for an account's row, where radio
/// buttons would take too much room); `chosen` as for [`PolicyChoice`].
pub fn policy_drop_down(current: &str, accessible: &str, chosen: PolicyAction) -> gtk::DropDown {
    let titles: Vec<String> = POLICIES.iter().map(|policy| policy_title(policy)).collect();
    let drop_down = super::widgets::drop_down(&titles, accessible);
    let index = POLICIES.iter().position(|policy| *policy == current).unwrap_or(0);
    drop_down.set_selected(index as u32);
    drop_down.set_tooltip_text(Some(&format!("{accessible}: {}", policy_explanation(POLICIES[index]))));
    let label = accessible.to_owned();
    drop_down.connect_selected_notify(move |drop_down| {
        if let Some(policy) = POLICIES.get(drop_down.selected() as usize) {
            drop_down.set_tooltip_text(Some(&format!("{label}: {}", policy_explanation(policy))));
            chosen(policy);
        }
    });
    drop_down
}
