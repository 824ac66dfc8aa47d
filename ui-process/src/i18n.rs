//! Every string the user reads goes through [`tr`], so the gettext catalogs
//! (issue 7, part 3) need no change to the code: `xgettext --keyword=tr`
//! finds them all.
//!
//! With the GTK front end built in, [`tr`] asks gettext (GLib's `g_dgettext`,
//! glibc's catalogs under /usr/share/locale, which the UI may read) for the
//! text in the language of LANG; gtk::init sets the locale. Without a
//! catalog for that language gettext gives back the English text.

/// The gettext domain of Burrow's catalogs.
pub const DOMAIN: &str = "burrow";

#[cfg(feature = "gtk")]
pub fn tr(msgid: &str) -> String {
    gtk4::glib::dgettext(Some(DOMAIN), msgid).to_string()
}

/// The text front end's events are a contract in English, so without GTK
/// nothing is translated.
#[cfg(not(feature = "gtk"))]
pub fn tr(msgid: &str) -> String {
    msgid.to_owned()
}

/// `tr`, then `{name}` replaced by each value: the translator sees one
/// whole sentence with its placeholders, never pieces glued together.
pub fn tr_with(msgid: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(tr(msgid), |text, (name, value)| text.replace(&format!("{{{name}}}"), value))
}
