//! Creating an account on a server (XEP-0077 in-band registration).
//!
//! Net fetches the server's form and parses it into a [`RegistrationForm`]
//! (the server's words, bounded); the UI shows what the user must fill in;
//! crypto chooses the user name and the password and writes the submission,
//! which net sends once. The user name and password are never form fields
//! here: they are crypto's, and only the submission stanza carries them.

use bincode::{Decode, Encode};

use crate::types::{AccountSummary, Failure};

/// Fields one form may carry; more is a hostile server.
pub const MAX_FIELDS: usize = 32;
/// Characters of one label, description, value or option.
pub const MAX_TEXT: usize = 1024;
/// Characters of the instructions and title together.
pub const MAX_INSTRUCTIONS: usize = 4096;
/// Options of one list field, and values of one field.
pub const MAX_OPTIONS: usize = 64;
/// User names crypto tries on one server before giving up (each taken one
/// is a `conflict`).
pub const MAX_NAME_ATTEMPTS: u32 = 5;
/// Registrations open at once.
pub const MAX_REGISTRATIONS: usize = 4;
/// The fields of a legacy form (XEP-0077 §14.1): the only element names a
/// legacy form is read with, and written back with.
pub const LEGACY_FIELDS: &[&str] = &[
    "username", "nick", "password", "name", "first", "last", "email", "address", "city", "state", "zip", "phone", "url", "date", "misc", "text", "key",
];

/// What the server sent: the old fixed fields of XEP-0077 §3, or a data form
/// (XEP-0004) that replaces them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum FormKind {
    Legacy,
    DataForm,
}

/// XEP-0004's field types that Burrow shows. `jid-*` fields are shown as
/// text; media (a CAPTCHA image) is refused before a form is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum FieldKind {
    Text,
    /// A secret the user types (shown masked).
    Private,
    Multi,
    Boolean,
    /// One choice among `options`.
    List,
    /// Text to show, nothing to fill.
    Fixed,
    /// Sent back as it came; never shown.
    Hidden,
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct FormField {
    /// The data form's `var`, or the legacy element's name.
    pub var: String,
    pub kind: FieldKind,
    pub label: Option<String>,
    pub description: Option<String>,
    pub required: bool,
    /// The server's default (or, for hidden and fixed fields, the value).
    pub values: Vec<String>,
    /// `(label, value)` of a list field.
    pub options: Vec<(String, String)>,
}

impl FormField {
    /// Whether the user has something to fill in.
    pub fn asks_the_user(&self) -> bool {
        !matches!(self.kind, FieldKind::Hidden | FieldKind::Fixed)
    }

    /// The label to show: the server's, else the field's name.
    pub fn shown_label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.var)
    }
}

/// A registration form with the user name and password taken out (crypto
/// fills them in), and what the user must be shown.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct RegistrationForm {
    pub kind: FormKind,
    /// The title and instructions, in the server's words.
    pub instructions: Vec<String>,
    /// Every other field, in the server's order.
    pub fields: Vec<FormField>,
    /// The name of the user-name field (`username`) and of the password field.
    pub username_var: String,
    pub password_var: String,
}

impl RegistrationForm {
    /// Whether the user must see the form: a field to fill in. Instructions
    /// alone ("choose a user name and password") are crypto's to follow.
    pub fn asks_the_user(&self) -> bool {
        self.fields.iter().any(FormField::asks_the_user)
    }

    /// Checks the user's answers against the form: known fields only,
    /// bounded, required ones filled in, list answers among the options.
    pub fn check_answers(&self, answers: &[(String, String)]) -> Result<(), String> {
        if answers.len() > MAX_FIELDS {
            return Err("too many answers".into());
        }
        for (var, value) in answers {
            let Some(field) = self.fields.iter().find(|field| &field.var == var && field.asks_the_user()) else {
                return Err(format!("the form has no field {var}"));
            };
            if value.chars().count() > MAX_TEXT {
                return Err(format!("the answer to {} is too long (at most {MAX_TEXT} characters)", field.shown_label()));
            }
            if field.kind == FieldKind::List && !value.is_empty() && !field.options.iter().any(|(_, option)| option == value) {
                return Err(format!("{value} is not one of the choices for {}", field.shown_label()));
            }
            if field.kind == FieldKind::Boolean && !["", "0", "1", "true", "false"].contains(&value.as_str()) {
                return Err(format!("{} takes true or false", field.shown_label()));
            }
        }
        for field in self.fields.iter().filter(|field| field.required && field.asks_the_user()) {
            let answered = answers.iter().any(|(var, value)| var == &field.var && !value.trim().is_empty());
            if !answered && field.values.iter().all(|value| value.trim().is_empty()) {
                return Err(format!("the server requires {}", field.shown_label()));
            }
        }
        Ok(())
    }
}

/// What the UI hears of a registration.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum RegistrationEvent {
    /// The server wants more than a user name and password: show the form
    /// and send the answers (or nothing, to cancel) with this number.
    Form { registration: u64, domain: String, form: RegistrationForm },
    /// The account exists on the server and in the store; it logs in next.
    Registered { registration: u64, account: AccountSummary },
    /// Nothing was created (or, if `message` says so, created but not
    /// saved). `registration` is none when it never began.
    Failed { registration: Option<u64>, domain: String, failure: Failure },
}
