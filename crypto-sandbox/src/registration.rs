//! Crypto's side of creating an account (XEP-0077): it chooses the user
//! name and the password, writes the submission that carries them, and
//! stores the account once the server has created it.
//!
//! XEP-0077 has no way to register without sending the password to the
//! server inside the stream, so net must write it once. That is the whole
//! exposure: crypto writes the complete `<iq/>` into one zeroizing buffer,
//! net writes it on its TLS stream and drops it (zeroized); the password is
//! never in a message net could read back out later, and from then on the
//! account logs in with SCRAM through crypto like any other.

use std::collections::HashMap;

use ipc::crypto::FromCrypto;
use ipc::jid::BareJid;
use ipc::register::{FieldKind, FormKind, RegistrationForm, LEGACY_FIELDS, MAX_NAME_ATTEMPTS, MAX_REGISTRATIONS};
use ipc::secret::SecretText;
use ipc::xmpp::{ConnectionSettings, NewAccount};
use ipc::{ErrorCode, Failure};
use xmpp_xml::Element;
use zeroize::Zeroizing;

use crate::store::{Store, MAX_ACCOUNTS};

/// Characters of a generated user name: 12 of 36 symbols, about 62 bits,
/// enough that a name is not guessed or taken twice.
const NAME_LENGTH: usize = 12;
/// Characters of a generated password: 24 of 62 symbols, about 143 bits.
const PASSWORD_LENGTH: usize = 24;
const NAME_SYMBOLS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const PASSWORD_SYMBOLS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const NS_REGISTER: &str = "jabber:iq:register";
const NS_DATA: &str = "jabber:x:data";


struct Pending {
    template: NewAccount,
    domain: String,
    username: String,
    password: SecretText,
    names_tried: u32,
}

pub struct Registrations {
    next: u64,
    open: HashMap<u64, Pending>,
}

impl Default for Registrations {
    fn default() -> Self {
        // A random start: numbers of a crypto process that restarted do not
        // meet the broker's memory of its predecessor's.
        let mut bytes = [0u8; 8];
        let _ = getrandom::fill(&mut bytes);
        Self { next: u64::from_le_bytes(bytes) >> 1, open: HashMap::new() }
    }
}

/// `length` symbols drawn uniformly from `symbols` (rejection sampling, so
/// no symbol is likelier than another).
fn random_text(symbols: &[u8], length: usize) -> Result<Zeroizing<String>, getrandom::Error> {
    let limit = 256 - 256 % symbols.len();
    let mut text = Zeroizing::new(String::with_capacity(length));
    let mut bytes = Zeroizing::new([0u8; 64]);
    while text.len() < length {
        getrandom::fill(bytes.as_mut_slice())?;
        for &byte in bytes.iter() {
            if (byte as usize) < limit && text.len() < length {
                text.push(symbols[byte as usize % symbols.len()] as char);
            }
        }
    }
    Ok(text)
}

fn new_name() -> Result<String, Failure> {
    // A letter first: some servers refuse names that begin with a digit.
    let first = random_text(&NAME_SYMBOLS[..26], 1).map_err(no_random)?;
    let rest = random_text(NAME_SYMBOLS, NAME_LENGTH - 1).map_err(no_random)?;
    Ok(format!("{}{}", first.as_str(), rest.as_str()))
}

fn new_password() -> Result<SecretText, Failure> {
    let password = random_text(PASSWORD_SYMBOLS, PASSWORD_LENGTH).map_err(no_random)?;
    Ok(SecretText::new(password.as_str().to_owned()))
}

fn no_random(error: getrandom::Error) -> Failure {
    Failure::new(ErrorCode::Unsupported, format!("No account was created: the kernel gave no random numbers ({error})."))
}

fn settings_for(template: &NewAccount, domain: &str) -> ConnectionSettings {
    ConnectionSettings {
        jid: domain.to_owned(),
        server: template.server.clone(),
        onion: template.onion.clone(),
        transport: template.transport,
        extra_anchors_pem: template.ca_pem.clone(),
        spki_pin: template.spki_pin.clone(),
        tor: template.tor,
    }
}

impl Registrations {
    /// The UI asks for a new account on `template.jid` (a domain).
    pub fn begin(&mut self, store: &Store, template: NewAccount) -> FromCrypto {
        let domain = template.jid.trim().trim_end_matches('.').to_lowercase();
        let refuse = |failure| FromCrypto::RegisterRefused { domain: domain.clone(), failure };
        if !store.is_open() {
            return refuse(Failure::new(ErrorCode::Locked, "The store is locked; unlock it first, so that the new account can be kept in it."));
        }
        match BareJid::parse_full(&domain) {
            Ok((jid, None)) if jid.local.is_empty() && !jid.domain.is_empty() => {}
            _ => return refuse(Failure::new(ErrorCode::BadCommand, format!("{domain} is not a server's name; give a domain such as example.org."))),
        }
        if store.summaries().len() >= MAX_ACCOUNTS {
            return refuse(Failure::new(ErrorCode::BadCommand, format!("A store holds at most {MAX_ACCOUNTS} accounts.")));
        }
        if self.open.len() >= MAX_REGISTRATIONS {
            return refuse(Failure::new(ErrorCode::Busy, "Too many accounts are being created at once; wait for one to finish."));
        }
        if template.ca_path.is_some() && template.ca_pem.is_none() {
            return refuse(Failure::new(ErrorCode::BadFile, "The ca= file was not read."));
        }
        let (username, password) = match (new_name(), new_password()) {
            (Ok(username), Ok(password)) => (username, password),
            (Err(failure), _) | (_, Err(failure)) => return refuse(failure),
        };
        let registration = self.next;
        self.next = self.next.wrapping_add(1);
        let settings = settings_for(&template, &domain);
        self.open.insert(registration, Pending { template, domain, username, password, names_tried: 1 });
        FromCrypto::RegisterStart { registration, settings }
    }

    /// Net is ready to submit: write the stanza (with a new name after a
    /// conflict, up to `MAX_NAME_ATTEMPTS` names).
    pub fn ready(&mut self, registration: u64, iq_id: &str, form: &RegistrationForm, answers: &[(String, String)], conflict: bool) -> Option<FromCrypto> {
        let pending = self.open.get_mut(&registration)?;
        let outcome = next_submission(pending, iq_id, form, answers, conflict);
        match outcome {
            Ok(stanza) => Some(FromCrypto::RegisterSubmit { registration, stanza }),
            Err(failure) => {
                let pending = self.open.remove(&registration)?;
                Some(FromCrypto::RegisterAbandon { registration, domain: pending.domain, failure })
            }
        }
    }

    /// The server created the account: keep it like any other, which then
    /// logs in with SCRAM. Returns the answer and the account's name.
    pub fn registered(&mut self, store: &mut Store, registration: u64) -> Option<(FromCrypto, Option<String>)> {
        let pending = self.open.remove(&registration)?;
        let jid = format!("{}@{}", pending.username, pending.domain);
        let account = NewAccount { jid: jid.clone(), password: pending.password.clone(), ..pending.template };
        let result = store.add_account(account).map_err(|failure| {
            // The server has the account; the user must be able to reach it.
            Failure::new(
                failure.code,
                format!(
                    "The server created {jid}, but Burrow could not keep it in the store: {} Its password was not saved; the account cannot be used.",
                    failure.message
                ),
            )
        });
        let added = result.as_ref().ok().map(|(summary, _)| summary.jid.clone());
        Some((FromCrypto::RegisterDone { registration, domain: pending.domain, result }, added))
    }

    pub fn failed(&mut self, registration: u64) {
        self.open.remove(&registration);
    }
}

fn next_submission(pending: &mut Pending, iq_id: &str, form: &RegistrationForm, answers: &[(String, String)], conflict: bool) -> Result<SecretText, Failure> {
    if conflict {
        if pending.names_tried >= MAX_NAME_ATTEMPTS {
            let tried = pending.names_tried;
            return Err(Failure::new(
                ErrorCode::AccountExists,
                format!("No account was created: the server said each of the {tried} random user names Burrow tried was taken, which random names almost never are; the server may be refusing every name."),
            ));
        }
        pending.username = new_name()?;
        pending.names_tried += 1;
    }
    submission(iq_id, &pending.domain, form, answers, &pending.username, &pending.password)
        .map_err(|problem| Failure::new(ErrorCode::Protocol, format!("No account was created: {problem}.")))
}

/// The whole `<iq type='set'>`: the form's hidden values as they came, the
/// user's answers, and crypto's user name and password. The password is
/// put into one buffer of the final size, so that no growing string leaves
/// a copy behind.
pub fn submission(iq_id: &str, domain: &str, form: &RegistrationForm, answers: &[(String, String)], username: &str, password: &SecretText) -> Result<SecretText, String> {
    form.check_answers(answers)?;
    if !password.expose().bytes().all(|byte| byte.is_ascii_alphanumeric()) {
        return Err("the password must be letters and digits".into());
    }
    // Random, so that no text of the server's can contain it.
    let marker = random_text(NAME_SYMBOLS, 32).map_err(|error| error.to_string())?.as_str().to_owned();
    let answer = |var: &str| answers.iter().find(|(answered, _)| answered == var).map(|(_, value)| value.clone());
    let mut query = Element::new("query", NS_REGISTER);
    match form.kind {
        FormKind::Legacy => {
            if form.username_var != "username" || form.password_var != "password" {
                return Err("the server's form names its fields strangely".into());
            }
            query = query.with_child(Element::new("username", NS_REGISTER).with_text(username));
            query = query.with_child(Element::new("password", NS_REGISTER).with_text(marker.as_str()));
            for field in &form.fields {
                if !LEGACY_FIELDS.contains(&field.var.as_str()) || field.var == "username" || field.var == "password" {
                    return Err(format!("the server's form has a field Burrow does not write ({})", field.var));
                }
                let value = answer(&field.var).or_else(|| field.values.first().cloned()).unwrap_or_default();
                query = query.with_child(Element::new(field.var.as_str(), NS_REGISTER).with_text(value));
            }
        }
        FormKind::DataForm => {
            let field = |var: &str, values: Vec<String>| {
                values.into_iter().fold(Element::new("field", NS_DATA).with_attr("var", var), |field, value| field.with_child(Element::new("value", NS_DATA).with_text(value)))
            };
            let mut form_element = Element::new("x", NS_DATA).with_attr("type", "submit");
            for server_field in &form.fields {
                let values = match server_field.kind {
                    FieldKind::Fixed => continue,
                    FieldKind::Hidden => server_field.values.clone(),
                    _ => match answer(&server_field.var) {
                        Some(value) if server_field.kind == FieldKind::Multi => value.lines().map(str::to_owned).collect(),
                        Some(value) => vec![value],
                        None => server_field.values.clone(),
                    },
                };
                form_element = form_element.with_child(field(&server_field.var, values));
            }
            form_element = form_element.with_child(field(&form.username_var, vec![username.to_owned()]));
            form_element = form_element.with_child(field(&form.password_var, vec![marker.clone()]));
            query = query.with_child(form_element);
        }
    }
    let iq = Element::new("iq", "jabber:client").with_attr("type", "set").with_attr("id", iq_id).with_attr("to", domain).with_child(query);
    let xml = iq.to_xml("jabber:client");
    let (before, after) = xml.split_once(marker.as_str()).ok_or("the submission could not be written")?;
    let mut stanza = String::with_capacity(before.len() + password.expose().len() + after.len());
    stanza.push_str(before);
    stanza.push_str(password.expose());
    stanza.push_str(after);
    Ok(SecretText::new(stanza))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipc::register::FormField;

    fn legacy() -> RegistrationForm {
        RegistrationForm { kind: FormKind::Legacy, instructions: vec![], fields: vec![], username_var: "username".into(), password_var: "password".into() }
    }

    #[test]
    fn names_and_passwords_are_random_and_of_the_promised_kind() {
        let (a, b) = (new_name().unwrap(), new_name().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), NAME_LENGTH);
        assert!(a.bytes().all(|byte| NAME_SYMBOLS.contains(&byte)) && a.as_bytes()[0].is_ascii_lowercase(), "{a}");
        let password = new_password().unwrap();
        assert_eq!(password.expose().len(), PASSWORD_LENGTH);
        assert!(password.expose().bytes().all(|byte| byte.is_ascii_alphanumeric()));
        // 24 symbols of 62: more than 128 bits.
        assert!(PASSWORD_LENGTH as f64 * (PASSWORD_SYMBOLS.len() as f64).log2() >= 128.0);
        assert_ne!(password, new_password().unwrap());
    }

    #[test]
    fn a_legacy_submission_carries_name_password_and_answers_escaped() {
        let mut form = legacy();
        form.fields.push(FormField { var: "email".into(), kind: FieldKind::Text, label: None, description: None, required: true, values: vec![], options: vec![] });
        let password = SecretText::new("Secret123".into());
        let stanza = submission("id1", "example.org", &form, &[("email".into(), "a<b@example.org".into())], "abc", &password).unwrap();
        let xml = stanza.expose();
        assert!(xml.starts_with("<iq type='set' id='id1' to='example.org'>"), "{xml}");
        assert!(xml.contains("<username>abc</username><password>Secret123</password><email>a&lt;b@example.org</email>"), "{xml}");
        // A required answer missing is refused before anything is written.
        assert!(submission("id1", "example.org", &form, &[], "abc", &password).is_err());
    }

    #[test]
    fn a_data_form_submission_returns_hidden_fields_and_fills_the_rest() {
        let hidden = FormField { var: "FORM_TYPE".into(), kind: FieldKind::Hidden, label: None, description: None, required: false, values: vec!["jabber:iq:register".into()], options: vec![] };
        let fixed = FormField { var: "".into(), kind: FieldKind::Fixed, label: None, description: None, required: false, values: vec!["Read this".into()], options: vec![] };
        let nick = FormField { var: "nick".into(), kind: FieldKind::Text, label: Some("Nickname".into()), description: None, required: false, values: vec![], options: vec![] };
        let form = RegistrationForm { kind: FormKind::DataForm, instructions: vec![], fields: vec![hidden, fixed, nick], username_var: "username".into(), password_var: "password".into() };
        let stanza = submission("i", "d.example", &form, &[("nick".into(), "Ann".into())], "name1", &SecretText::new("Pw1".into())).unwrap();
        let xml = stanza.expose();
        assert!(xml.contains("<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>jabber:iq:register</value></field><field var='nick'><value>Ann</value></field><field var='username'><value>name1</value></field><field var='password'><value>Pw1</value></field></x>"), "{xml}");
        assert!(!xml.contains("Read this"));
        // An answer to a field the form does not have is refused.
        assert!(submission("i", "d.example", &form, &[("other".into(), "x".into())], "name1", &SecretText::new("Pw1".into())).is_err());
    }

    #[test]
    fn a_legacy_field_outside_the_standard_list_is_not_written() {
        let mut form = legacy();
        form.fields.push(FormField { var: "evil".into(), kind: FieldKind::Text, label: None, description: None, required: false, values: vec![], options: vec![] });
        assert!(submission("i", "d", &form, &[], "n", &SecretText::new("p".into())).is_err());
    }
}
