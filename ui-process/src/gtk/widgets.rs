//! Small helpers every view uses, so that each control gets its accessible
//! name and tooltip, and no peer text is ever read as markup.

use gtk4 as gtk;
use gtk4::glib;
use gtk4::prelude::*;

/// A new widget of GTK class `class` whose accessible name, the name a
/// screen reader says, is `accessible`; it is its tooltip too. gtk4-rs
/// exposes `gtk_accessible_update_property` only from GTK 4.10 on, so the
/// name is given the way GTK 4.8 itself offers without unsafe code: in
/// GtkBuilder's `<accessibility>` element.
pub fn named<T: IsA<gtk::Widget> + IsA<glib::Object>>(class: &str, accessible: &str) -> T {
    let xml = format!(
        r#"<interface><object class="{class}" id="widget"><accessibility><property name="label">{}</property></accessibility></object></interface>"#,
        glib::markup_escape_text(accessible)
    );
    let widget: T = gtk::Builder::from_string(&xml)
        .object("widget")
        .unwrap_or_else(|| panic!("GTK has no class {class} of the expected type"));
    widget.set_tooltip_text(Some(accessible));
    widget
}

/// A label for text that may come from a peer or a server: plain text only
/// (GTK labels parse no markup unless asked), selectable, wrapped.
pub fn plain_label(text: &str) -> gtk::Label {
    let label = gtk::Label::new(None);
    label.set_use_markup(false);
    label.set_text(text);
    label.set_wrap(true);
    label.set_wrap_mode(gtk::pango::WrapMode::WordChar);
    label.set_xalign(0.0);
    label
}

pub fn button(text: &str, accessible: &str) -> gtk::Button {
    let button: gtk::Button = named("GtkButton", accessible);
    button.set_label(text);
    button
}

pub fn entry(placeholder: &str, accessible: &str) -> gtk::Entry {
    let entry: gtk::Entry = named("GtkEntry", accessible);
    entry.set_placeholder_text(Some(placeholder));
    entry
}

pub fn password_entry(accessible: &str) -> gtk::PasswordEntry {
    let entry: gtk::PasswordEntry = named("GtkPasswordEntry", accessible);
    entry.set_show_peek_icon(true);
    entry
}

pub fn drop_down(choices: &[String], accessible: &str) -> gtk::DropDown {
    let drop_down: gtk::DropDown = named("GtkDropDown", accessible);
    let choices: Vec<&str> = choices.iter().map(String::as_str).collect();
    drop_down.set_model(Some(&gtk::StringList::new(&choices)));
    drop_down.set_selected(0);
    drop_down
}

/// GTK 4.8 has no `ListBox::remove_all` (4.12).
pub fn clear(list: &gtk::ListBox) {
    while let Some(child) = list.first_child() {
        list.remove(&child);
    }
}

pub fn vertical(spacing: i32) -> gtk::Box {
    gtk::Box::new(gtk::Orientation::Vertical, spacing)
}

pub fn horizontal(spacing: i32) -> gtk::Box {
    gtk::Box::new(gtk::Orientation::Horizontal, spacing)
}

pub fn margins(widget: &impl IsA<gtk::Widget>, margin: i32) {
    widget.set_margin_top(margin);
    widget.set_margin_bottom(margin);
    widget.set_margin_start(margin);
    widget.set_margin_end(margin);
}

/// Escape closes `window`, as it closes a dialog: a modal window must be
/// left from the keyboard too.
pub fn close_on_escape(window: &gtk::Window) {
    let target = window.downgrade();
    let close = gtk::CallbackAction::new(move |_, _| {
        if let Some(window) = target.upgrade() {
            window.close();
        }
        glib::Propagation::Stop
    });
    let shortcuts = gtk::ShortcutController::new();
    shortcuts.add_shortcut(gtk::Shortcut::new(gtk::ShortcutTrigger::parse_string("Escape"), Some(close)));
    window.add_controller(shortcuts);
}
