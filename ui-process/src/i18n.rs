//! Every string the user reads goes through [`tr`] or [`tr_with`], so that
//! `scripts/update-pot.sh` (`xgettext --keyword=tr --keyword=tr_with`) finds
//! them all and the catalogs in `po/` translate them.
//!
//! The catalogs are compiled into the binary (`include_str!` of each
//! `po/LL.po`) and looked up here, in Rust, rather than installed as `.mo`
//! files for glibc's gettext: the confined UI then needs no locale directory
//! beside its binaries in its Landlock rules, a `cargo build` runs translated
//! with no install step, and Burrow's own strings do not depend on the system
//! having generated the user's locale (glibc's gettext translates nothing
//! when `setlocale` fails). GTK's own strings still come from the system's
//! `gtk40` catalogs under /usr/share/locale, through the locale gtk::init
//! sets.
//!
//! Only the GTK front end chooses a language ([`follow_environment`]); the
//! text front end's events are a contract in English, so there [`tr`] gives
//! back the English text.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Every translation, by language code as in `po/LINGUAS`.
pub const CATALOGS: &[(&str, &str)] = &[("es", include_str!("../../po/es.po")), ("sv", include_str!("../../po/sv.po"))];

/// The language of the msgids themselves: a request for it needs no catalog
/// and ends the search, so `LANGUAGE=en:es` means English, not Spanish.
const SOURCE_LANGUAGE: &str = "en";

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("the built-in catalog {language}.po cannot be read: {problem}")]
    Unreadable { language: String, problem: String },
}

/// One language's translations: msgid to msgstr, the translated and not
/// fuzzy ones only, so that anything else shows in English.
#[derive(Debug, Default)]
pub struct Translations(HashMap<String, String>);

impl Translations {
    pub fn parse(language: &str, po: &str) -> Result<Translations, CatalogError> {
        let catalog = polib::po_file::parse_from_reader(po.as_bytes())
            .map_err(|problem| CatalogError::Unreadable { language: language.to_owned(), problem: problem.to_string() })?;
        let translated = catalog
            .messages()
            .filter(|message| message.is_singular() && message.is_translated() && !message.is_fuzzy())
            .filter_map(|message| Some((message.msgid().to_owned(), message.msgstr().ok()?.to_owned())));
        Ok(Translations(translated.collect()))
    }

    pub fn for_language(language: &str) -> Result<Option<Translations>, CatalogError> {
        CATALOGS.iter().find(|(code, _)| *code == language).map(|(code, po)| Translations::parse(code, po)).transpose()
    }

    pub fn lookup<'a>(&'a self, msgid: &'a str) -> &'a str {
        self.0.get(msgid).map_or(msgid, String::as_str)
    }
}

static CHOSEN: OnceLock<Translations> = OnceLock::new();

/// Chooses the language from the environment as gettext does, for the rest
/// of the process. The GTK front end calls it once, before its first string.
/// Gives the language chosen, or `None` for English.
pub fn follow_environment() -> Result<Option<&'static str>, CatalogError> {
    let Some(language) = choose_language(|name| std::env::var(name).ok()) else {
        return Ok(None);
    };
    if let Some(translations) = Translations::for_language(language)? {
        let _ = CHOSEN.set(translations);
    }
    Ok(Some(language))
}

/// The catalog's language for these locale variables, as GNU gettext picks
/// one: the first set of LC_ALL, LC_MESSAGES and LANG is the locale; in the C
/// (or POSIX) locale nothing is translated and LANGUAGE is ignored; otherwise
/// LANGUAGE, when set, is a list of languages by preference, separated by
/// colons. Each entry is tried from the most to the least precise
/// (`sv_SE.UTF-8@mod`: sv_SE@mod, sv_SE, sv@mod, sv); the first with a
/// catalog wins. `None`: English.
pub fn choose_language(variable: impl Fn(&str) -> Option<String>) -> Option<&'static str> {
    let set = |name: &str| variable(name).filter(|value| !value.is_empty());
    let locale = set("LC_ALL").or_else(|| set("LC_MESSAGES")).or_else(|| set("LANG"))?;
    if is_c_locale(&locale) {
        return None;
    }
    let preferences = set("LANGUAGE").unwrap_or(locale);
    for entry in preferences.split(':').filter(|entry| !entry.is_empty()) {
        for candidate in variants(entry) {
            if let Some((code, _)) = CATALOGS.iter().find(|(code, _)| *code == candidate) {
                return Some(code);
            }
            if candidate == SOURCE_LANGUAGE {
                return None;
            }
        }
    }
    None
}

fn is_c_locale(locale: &str) -> bool {
    let name = locale.split(['.', '@']).next().unwrap_or(locale);
    name == "C" || name == "POSIX"
}

/// `ll_CC.codeset@modifier` from the most precise form to the language
/// alone; the codeset never matters, every catalog is UTF-8.
fn variants(entry: &str) -> Vec<String> {
    let (base, modifier) = match entry.split_once('@') {
        Some((base, modifier)) => (base, Some(modifier)),
        None => (entry, None),
    };
    let territorial = base.split('.').next().unwrap_or(base);
    let language = territorial.split('_').next().unwrap_or(territorial);
    let mut variants = Vec::new();
    for name in [territorial, language] {
        if let Some(modifier) = modifier {
            variants.push(format!("{name}@{modifier}"));
        }
        variants.push(name.to_owned());
    }
    variants.dedup();
    variants
}

pub fn tr(msgid: &str) -> String {
    CHOSEN.get().map_or(msgid, |translations| translations.lookup(msgid)).to_owned()
}

/// `tr`, then `{name}` replaced by each value: the translator sees one
/// whole sentence with its placeholders, never pieces glued together.
pub fn tr_with(msgid: &str, values: &[(&str, &str)]) -> String {
    values.iter().fold(tr(msgid), |text, (name, value)| text.replace(&format!("{{{name}}}"), value))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn environment<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())
    }

    /// Some locale variables, and the catalog they must choose.
    type Case = (&'static [(&'static str, &'static str)], Option<&'static str>);

    #[test]
    fn the_language_follows_the_locale_variables_as_gettext_does() {
        let cases: &[Case] = &[
            (&[("LANG", "es_ES.UTF-8")], Some("es")),
            (&[("LANG", "sv_SE")], Some("sv")),
            (&[("LANG", "sv_FI.UTF-8@euro")], Some("sv")),
            (&[("LANG", "es_MX.utf8")], Some("es")),
            (&[("LANG", "de_DE.UTF-8")], None),
            (&[("LANG", "C.UTF-8")], None),
            (&[("LANG", "C")], None),
            (&[("LANG", "POSIX")], None),
            (&[], None),
            // LC_ALL, then LC_MESSAGES, then LANG; an empty one counts as unset.
            (&[("LANG", "es_ES.UTF-8"), ("LC_MESSAGES", "sv_SE.UTF-8")], Some("sv")),
            (&[("LANG", "sv_SE.UTF-8"), ("LC_MESSAGES", "sv_SE.UTF-8"), ("LC_ALL", "es_ES.UTF-8")], Some("es")),
            (&[("LANG", "es_ES.UTF-8"), ("LC_ALL", "")], Some("es")),
            (&[("LANG", "es_ES.UTF-8"), ("LC_ALL", "C")], None),
            // LANGUAGE: by preference, the first with a catalog; English ends it.
            (&[("LANG", "es_ES.UTF-8"), ("LANGUAGE", "sv")], Some("sv")),
            (&[("LANG", "en_US.UTF-8"), ("LANGUAGE", "de:fr_FR:es")], Some("es")),
            (&[("LANG", "sv_SE.UTF-8"), ("LANGUAGE", "en_GB:sv")], None),
            (&[("LANG", "sv_SE.UTF-8"), ("LANGUAGE", "de")], None),
            (&[("LANG", "sv_SE.UTF-8"), ("LANGUAGE", "")], Some("sv")),
            // In the C locale gettext ignores LANGUAGE.
            (&[("LANG", "C.UTF-8"), ("LANGUAGE", "es")], None),
        ];
        for (pairs, expected) in cases {
            assert_eq!(choose_language(environment(pairs)), *expected, "{pairs:?}");
        }
    }

    fn pot_msgids() -> Vec<String> {
        let pot = polib::po_file::parse_from_reader(include_str!("../../po/burrow.pot").as_bytes()).expect("po/burrow.pot parses");
        let msgids: Vec<String> = pot.messages().map(|message| message.msgid().to_owned()).collect();
        assert!(msgids.len() > 100, "po/burrow.pot holds only {} strings", msgids.len());
        msgids
    }

    fn placeholders(text: &str) -> BTreeSet<&str> {
        text.match_indices('{').filter_map(|(start, _)| text[start..].find('}').map(|end| &text[start..start + end + 1])).collect()
    }

    #[test]
    fn every_string_is_translated_in_every_catalog_with_the_same_placeholders() {
        let msgids = pot_msgids();
        for (language, po) in CATALOGS {
            let translations = Translations::parse(language, po).expect("the catalog parses");
            let untranslated: Vec<&String> = msgids.iter().filter(|msgid| !translations.0.contains_key(msgid.as_str())).collect();
            assert!(untranslated.is_empty(), "{language}.po lacks a translation (or has a fuzzy one) of: {untranslated:#?}");
            for msgid in &msgids {
                let msgstr = translations.lookup(msgid);
                assert_eq!(placeholders(msgid), placeholders(msgstr), "{language}.po: the placeholders of {msgid:?} differ in {msgstr:?}");
                assert_ne!(msgstr.trim(), "", "{language}.po: {msgid:?}");
                assert_eq!(msgid.ends_with('…'), msgstr.ends_with('…'), "{language}.po: {msgid:?} and {msgstr:?} end differently");
            }
        }
    }

    #[test]
    fn linguas_lists_exactly_the_built_in_catalogs_and_their_headers_say_so() {
        let linguas: BTreeSet<&str> = include_str!("../../po/LINGUAS").lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).collect();
        let built_in: BTreeSet<&str> = CATALOGS.iter().map(|(code, _)| *code).collect();
        assert_eq!(linguas, built_in);
        for (language, po) in CATALOGS {
            let catalog = polib::po_file::parse_from_reader(po.as_bytes()).expect("the catalog parses");
            assert_eq!(catalog.metadata.language, *language);
            assert_eq!(catalog.metadata.plural_rules.nplurals, 2, "{language}.po: Plural-Forms");
            assert_eq!(catalog.metadata.plural_rules.expr.replace(' ', ""), "(n!=1)", "{language}.po: Plural-Forms");
        }
    }

    #[test]
    fn a_lookup_gives_the_translation_or_the_english_text() {
        let spanish = Translations::for_language("es").expect("es.po parses").expect("a Spanish catalog");
        assert_eq!(spanish.lookup("Welcome to Burrow"), "Te damos la bienvenida a Burrow");
        assert_eq!(spanish.lookup("a string no catalog has"), "a string no catalog has");
        let swedish = Translations::for_language("sv").expect("sv.po parses").expect("a Swedish catalog");
        assert_eq!(swedish.lookup("Private and verified"), "Privat och verifierad");
        assert!(Translations::for_language("de").expect("no German catalog is no error").is_none());
    }
}
