//! Creating an account on a server (XEP-0077 in-band registration): a
//! stream opened exactly as a login opens it (`login::secure`: the same
//! dialers and Tor, TLS, mandatory STARTTLS), the server's form fetched and
//! parsed here, shown to the user when it asks for more than a user name and
//! a password, and the submission crypto wrote sent once.
//!
//! The one place where net holds a password: XEP-0077 sends it inside the
//! stream, so the `<iq/>` crypto wrote carries it. Net writes it once on the
//! TLS stream and drops it at once (it is a zeroizing `SecretText`); it never
//! logs it nor keeps it. rustls copies it into its own record buffer to
//! encrypt it, which no one can avoid short of a registration without the
//! password, which XEP-0077 does not have.

use std::time::Duration;

use ipc::net::FromNet;
use ipc::register::{
    FieldKind, FormField, FormKind, RegistrationForm, LEGACY_FIELDS, MAX_FIELDS, MAX_INSTRUCTIONS, MAX_NAME_ATTEMPTS, MAX_OPTIONS, MAX_TEXT,
};
use ipc::secret::SecretText;
use ipc::xmpp::ConnectionSettings;
use ipc::{ErrorCode, Failure};
use tokio::sync::mpsc;

use crate::account::Shared;
use crate::dialer::BoxedStream;
use crate::login::{self, clean, LoginError, Stream};
use crate::names::{Route, Target};
use crate::stanza::{self, ns};
use crate::xml::{Element, STREAM_CLOSE};

pub const NS_REGISTER: &str = "jabber:iq:register";
const NS_DATA: &str = "jabber:x:data";
const NS_OOB: &str = "jabber:x:oob";
/// Where XEP-0221 puts a CAPTCHA's image or sound, and XEP-0231 its bytes.
const NS_MEDIA: &str = "urn:xmpp:media-element";
const NS_BOB: &str = "urn:xmpp:bob";
const CAPTCHA_FORM_TYPE: &str = "urn:xmpp:captcha";
/// XEP-0158's fields that need an image, a sound or a video.
const MEDIA_CHALLENGES: &[&str] = &["ocr", "picture_q", "picture_recog", "speech_q", "speech_recog", "video_q", "video_recog", "audio_recog"];

/// How long the user has to fill in the server's form.
const FORM_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// How long crypto has to write the submission.
const CRYPTO_TIMEOUT: Duration = Duration::from_secs(60);
/// Stanzas the server may send before it answers our iq (a stray one is
/// skipped; a flood is hostile).
const MAX_STRAY_STANZAS: usize = 16;

/// What the dispatcher hands a registration's task.
#[derive(Debug)]
pub enum RegisterCommand {
    Answers(Option<Vec<(String, String)>>),
    Submit(SecretText),
    Abandon,
}

enum Ending {
    Registered,
    Failed(Failure),
    /// Crypto gave up and has told the UI.
    Abandoned,
}

/// The registration's whole life; it always reports how it ended.
pub async fn run(registration: u64, settings: ConnectionSettings, shared: Shared, mut inbox: mpsc::Receiver<RegisterCommand>) {
    let domain = settings.jid.clone();
    eprintln!("burrow-net: a registration begins");
    let ending = register(registration, &settings, &shared, &mut inbox).await;
    let message = match ending {
        Ending::Registered => {
            eprintln!("burrow-net: a registration succeeded");
            FromNet::Registered { registration }
        }
        Ending::Failed(failure) => {
            eprintln!("burrow-net: a registration failed ({})", failure.code.name());
            FromNet::RegisterFailed { registration, domain, failure }
        }
        Ending::Abandoned => return,
    };
    let _ = shared.to_broker.send(message).await;
}

fn failure_of(error: LoginError) -> Failure {
    match error {
        LoginError::Transient(failure) | LoginError::Fatal(failure) => {
            Failure::new(failure.code, format!("No account was created: {}", lower_first(&failure.message)))
        }
        LoginError::Stopped | LoginError::Stop => Failure::new(ErrorCode::Offline, "No account was created: the registration was stopped."),
    }
}

fn lower_first(text: &str) -> String {
    let mut characters = text.chars();
    match characters.next() {
        Some(first) => first.to_lowercase().chain(characters).collect(),
        None => String::new(),
    }
}

async fn register(registration: u64, settings: &ConnectionSettings, shared: &Shared, inbox: &mut mpsc::Receiver<RegisterCommand>) -> Ending {
    let domain = settings.jid.clone();
    let mut stream = match open(settings, shared, &domain).await {
        Ok(stream) => stream,
        Err(error) => return Ending::Failed(failure_of(error)),
    };
    let ending = converse(registration, &mut stream, &domain, shared, inbox).await;
    // The registration stream is not for logging in: the account logs in
    // afresh, with SCRAM through crypto.
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.write(STREAM_CLOSE)).await;
    ending
}

async fn open(settings: &ConnectionSettings, shared: &Shared, domain: &str) -> Result<Stream, LoginError> {
    let route = Route::new(settings, domain, shared.dialers.clone(), shared.resolver.clone());
    let targets = route.targets().await.map_err(login::names_failure)?;
    let (transport, target) = dial(&route, targets).await?;
    let (stream, _features, _binding, _tls) = login::secure(transport, &target, settings, domain, &shared.roots).await?;
    Ok(stream)
}

/// The targets in order, as a login dials them.
async fn dial(route: &Route, targets: Vec<Target>) -> Result<(BoxedStream, Target), LoginError> {
    let mut last = None;
    for target in targets {
        let dialer = route.dialers.choose(route.tor, &target.host).await?;
        if !target.may_use(dialer.as_ref()) {
            last = Some(LoginError::Transient(Failure::new(ErrorCode::Connect, "The domain's SRV record points to this computer, which Burrow does not follow outside Tor; give server=HOST:PORT to connect to a server here.")));
            continue;
        }
        match dialer.dial(&target.host, target.port).await {
            Ok(dialed) => return Ok((dialed.stream, target)),
            Err(error) if error.needs_the_user() => return Err(error.into()),
            Err(error) => last = Some(error.into()),
        }
    }
    Err(last.unwrap_or_else(|| LoginError::Transient(Failure::new(ErrorCode::Connect, "There was no server to connect to."))))
}

async fn converse(registration: u64, stream: &mut Stream, domain: &str, shared: &Shared, inbox: &mut mpsc::Receiver<RegisterCommand>) -> Ending {
    let get_id = stanza::random_id();
    let get = Element::new("iq", ns::CLIENT).with_attr("type", "get").with_attr("id", get_id.as_str()).with_attr("to", domain).with_child(Element::new("query", NS_REGISTER));
    if let Err(error) = stream.write(&get.to_xml(ns::CLIENT)).await {
        return Ending::Failed(failure_of(error));
    }
    let answer = match answer_to(stream, &get_id).await {
        Ok(answer) => answer,
        Err(error) => return Ending::Failed(failure_of(error)),
    };
    if answer.attr("type") == Some("error") {
        return Ending::Failed(form_refused(&answer));
    }
    let Some(query) = answer.find("query", NS_REGISTER) else {
        return Ending::Failed(Failure::new(ErrorCode::Unsupported, format!("No account was created: {domain} answered without a registration form, so it does not let clients create accounts.")));
    };
    let form = match parse_form(query) {
        Ok(form) => form,
        Err(refusal) => return Ending::Failed(Failure::new(ErrorCode::Unsupported, format!("No account was created on {domain}: {refusal}"))),
    };
    let answers = if form.asks_the_user() {
        let shown = FromNet::RegisterForm { registration, domain: domain.to_owned(), form: form.clone() };
        let _ = shared.to_broker.send(shown).await;
        match tokio::time::timeout(FORM_TIMEOUT, inbox.recv()).await {
            Ok(Some(RegisterCommand::Answers(Some(answers)))) => answers,
            Ok(Some(RegisterCommand::Answers(None))) => return Ending::Failed(Failure::new(ErrorCode::Cancelled, "You cancelled the new account; nothing was created.")),
            Ok(Some(_)) | Ok(None) => return Ending::Failed(Failure::new(ErrorCode::Protocol, "No account was created: the registration was interrupted.")),
            Err(_) => return Ending::Failed(Failure::new(ErrorCode::Timeout, "No account was created: the server's form waited too long for an answer. Try again.")),
        }
    } else {
        Vec::new()
    };
    if let Err(problem) = form.check_answers(&answers) {
        return Ending::Failed(Failure::new(ErrorCode::BadCommand, format!("No account was created: {problem}.")));
    }
    let mut conflict = false;
    // Crypto bounds the names it tries; this bounds net's loop whatever it says.
    for _ in 0..=MAX_NAME_ATTEMPTS {
        let iq_id = stanza::random_id();
        let ready = FromNet::RegisterReady { registration, iq_id: iq_id.clone(), domain: domain.to_owned(), form: form.clone(), answers: answers.clone(), conflict };
        let _ = shared.to_broker.send(ready).await;
        let submission = match tokio::time::timeout(CRYPTO_TIMEOUT, inbox.recv()).await {
            Ok(Some(RegisterCommand::Submit(submission))) => submission,
            Ok(Some(RegisterCommand::Abandon)) => return Ending::Abandoned,
            Ok(Some(RegisterCommand::Answers(_))) | Ok(None) => return Ending::Failed(Failure::new(ErrorCode::Protocol, "No account was created: the registration was interrupted.")),
            Err(_) => return Ending::Failed(Failure::new(ErrorCode::Timeout, "No account was created: the key process did not answer in time.")),
        };
        let written = stream.write(submission.expose()).await;
        // The password leaves net's memory now (zeroized on drop).
        drop(submission);
        if let Err(error) = written {
            return Ending::Failed(failure_of(error));
        }
        let answer = match answer_to(stream, &iq_id).await {
            Ok(answer) => answer,
            Err(error) => return Ending::Failed(failure_of(error)),
        };
        match answer.attr("type") {
            Some("result") => return Ending::Registered,
            Some("error") if condition(&answer).as_deref() == Some("conflict") => conflict = true,
            Some("error") => return Ending::Failed(submission_refused(&answer)),
            _ => return Ending::Failed(Failure::new(ErrorCode::Protocol, "No account was created: the server answered the registration with neither success nor an error.")),
        }
    }
    Ending::Failed(Failure::new(ErrorCode::AccountExists, "No account was created: the server kept saying the user name was taken."))
}

/// The server's answer to the iq `id`; stray stanzas are skipped, a few.
async fn answer_to(stream: &mut Stream, id: &str) -> Result<Element, LoginError> {
    for _ in 0..MAX_STRAY_STANZAS {
        let element = stream.element().await?;
        if element.is("iq", ns::CLIENT) && element.attr("id") == Some(id) {
            return Ok(element);
        }
    }
    Err(LoginError::Transient(Failure::new(ErrorCode::Protocol, "The server sent too many stanzas without answering the registration.")))
}

/// The stanza error's defined condition, as sent.
fn condition(stanza: &Element) -> Option<String> {
    stanza.find("error", ns::CLIENT).and_then(|error| error.elements().find(|child| child.namespace == ns::STANZAS && child.name != "text")).map(|condition| condition.name.clone())
}

/// The server's own words, bounded and without control characters.
fn server_words(stanza: &Element) -> String {
    let text = stanza.find("error", ns::CLIENT).and_then(|error| error.find("text", ns::STANZAS)).map(|text| clean(text.text().trim())).unwrap_or_default();
    if text.is_empty() {
        String::new()
    } else {
        format!(" The server said: \u{201c}{text}\u{201d}")
    }
}

/// The form could not even be fetched.
fn form_refused(answer: &Element) -> Failure {
    let words = server_words(answer);
    match condition(answer).as_deref() {
        Some("service-unavailable" | "feature-not-implemented" | "not-allowed" | "forbidden" | "registration-required") | None => Failure::new(
            ErrorCode::Unsupported,
            format!("No account was created: this server does not let clients create accounts (in-band registration is off). Create one on the server's web page, or choose another server.{words}"),
        ),
        Some(other) => Failure::new(ErrorCode::Unsupported, format!("No account was created: the server refused to show its registration form ({}).{words}", other.replace('-', " "))),
    }
}

/// The submission was refused (a conflict is handled by the caller).
fn submission_refused(answer: &Element) -> Failure {
    let words = server_words(answer);
    let (code, message) = match condition(answer).as_deref() {
        Some("not-allowed" | "forbidden") => (ErrorCode::Unsupported, "the server does not allow new accounts from here".to_owned()),
        Some("not-acceptable") => (ErrorCode::BadCommand, "the server did not accept what was sent (a required answer missing or invalid)".to_owned()),
        Some("policy-violation") => (ErrorCode::Busy, "the server refused under its rules, often a limit on how many accounts may be made at a time; try again later".to_owned()),
        Some("resource-constraint") => (ErrorCode::Busy, "the server is too busy to create an account now; try again later".to_owned()),
        Some("service-unavailable" | "feature-not-implemented") => (ErrorCode::Unsupported, "this server does not let clients create accounts".to_owned()),
        Some("bad-request") => (ErrorCode::Protocol, "the server said the request was malformed".to_owned()),
        Some(other) => (ErrorCode::Protocol, format!("the server refused ({})", other.replace('-', " "))),
        None => (ErrorCode::Protocol, "the server refused and gave no reason".to_owned()),
    };
    Failure::new(code, format!("No account was created: {message}.{words}"))
}

/// Server text for a form: no control characters (a newline in
/// instructions is kept), bounded.
fn text_of(text: &str, what: &str) -> Result<String, String> {
    let text = text.trim();
    if text.chars().count() > MAX_TEXT {
        return Err(format!("its form has a {what} longer than {MAX_TEXT} characters, which Burrow refuses as hostile."));
    }
    Ok(text.chars().filter(|character| *character == '\n' || !character.is_control()).collect())
}

/// Any element in a namespace that carries media, at any depth.
fn carries_media(element: &Element) -> bool {
    element.namespace == NS_MEDIA || element.namespace == NS_BOB || element.elements().any(carries_media)
}

/// Reads the server's `<query xmlns='jabber:iq:register'/>`: the data form
/// if there is one (it replaces the legacy fields, XEP-0077 §6), else the
/// legacy fields. Refuses, in words for the user, what Burrow must not do:
/// a CAPTCHA with an image or a sound (no media from a server is shown),
/// a registration on a web page only, a form without a user name and a
/// password, and anything past the bounds.
pub fn parse_form(query: &Element) -> Result<RegistrationForm, String> {
    if carries_media(query) {
        return Err(captcha());
    }
    let oob = query.find("x", NS_OOB).and_then(|oob| oob.find("url", NS_OOB)).map(|url| clean(url.text().trim()));
    let form = match query.find("x", NS_DATA) {
        Some(data) => parse_data_form(data)?,
        None => parse_legacy(query)?,
    };
    match (form, oob) {
        (Some(form), _) => Ok(form),
        (None, Some(url)) if !url.is_empty() => Err(format!(
            "the server creates accounts only on its web page, {url} (Burrow opens no links; type it into a browser yourself, through Tor)."
        )),
        (None, _) => Err("its form has no user name and password to fill in, so Burrow cannot create the account.".into()),
    }
}

fn captcha() -> String {
    "the server asks you to solve a picture or sound puzzle (a CAPTCHA) first. Burrow never shows images or media sent from the network, because they are a classic way to attack a program. Create the account on the server's web page, or choose another server.".into()
}

fn parse_legacy(query: &Element) -> Result<Option<RegistrationForm>, String> {
    let mut instructions = Vec::new();
    let mut fields = Vec::new();
    let (mut username, mut password) = (false, false);
    for child in query.elements().filter(|child| child.namespace == NS_REGISTER) {
        match child.name.as_str() {
            "instructions" => instructions.push(text_of(&child.text(), "instruction")?),
            "username" => username = true,
            "password" => password = true,
            // Already registered, or removal: nothing to fill in.
            "registered" | "remove" => {}
            name if LEGACY_FIELDS.contains(&name) => {
                if fields.len() >= MAX_FIELDS {
                    return Err(format!("its form has more than {MAX_FIELDS} fields, which Burrow refuses as hostile."));
                }
                let value = text_of(&child.text(), "value")?;
                // The legacy `key` is a token to send back, not a question.
                let kind = if name == "key" { FieldKind::Hidden } else { FieldKind::Text };
                let values = if value.is_empty() { Vec::new() } else { vec![value] };
                fields.push(FormField { var: name.to_owned(), kind, label: None, description: None, required: kind == FieldKind::Text, values, options: Vec::new() });
            }
            // Another field name Burrow does not know is not sent back.
            _ => {}
        }
    }
    check_instructions(&instructions)?;
    if !(username && password) {
        return Ok(None);
    }
    Ok(Some(RegistrationForm { kind: FormKind::Legacy, instructions, fields, username_var: "username".into(), password_var: "password".into() }))
}

fn check_instructions(instructions: &[String]) -> Result<(), String> {
    if instructions.iter().map(|text| text.chars().count()).sum::<usize>() > MAX_INSTRUCTIONS {
        return Err(format!("its instructions are longer than {MAX_INSTRUCTIONS} characters, which Burrow refuses as hostile."));
    }
    Ok(())
}

fn parse_data_form(data: &Element) -> Result<Option<RegistrationForm>, String> {
    let mut instructions = Vec::new();
    if let Some(title) = data.find("title", NS_DATA) {
        instructions.push(text_of(&title.text(), "title")?);
    }
    for text in data.find_all("instructions", NS_DATA) {
        instructions.push(text_of(&text.text(), "instruction")?);
    }
    instructions.retain(|text| !text.is_empty());
    check_instructions(&instructions)?;
    let mut fields = Vec::new();
    let (mut username, mut password) = (None, None);
    for field in data.find_all("field", NS_DATA) {
        if fields.len() >= MAX_FIELDS {
            return Err(format!("its form has more than {MAX_FIELDS} fields, which Burrow refuses as hostile."));
        }
        let var = field.attr("var").unwrap_or("").to_owned();
        let kind_name = field.attr("type").unwrap_or("text-single");
        if MEDIA_CHALLENGES.contains(&var.as_str()) {
            return Err(captcha());
        }
        let mut values = Vec::new();
        for value in field.find_all("value", NS_DATA) {
            if values.len() >= MAX_OPTIONS {
                return Err(format!("a field of its form has more than {MAX_OPTIONS} values, which Burrow refuses as hostile."));
            }
            values.push(text_of(&value.text(), "value")?);
        }
        if var == "FORM_TYPE" && values.iter().any(|value| value == CAPTCHA_FORM_TYPE) {
            return Err(captcha());
        }
        let kind = match kind_name {
            "hidden" => FieldKind::Hidden,
            "fixed" => FieldKind::Fixed,
            "text-private" => FieldKind::Private,
            "text-multi" | "jid-multi" => FieldKind::Multi,
            "boolean" => FieldKind::Boolean,
            "list-single" | "list-multi" => FieldKind::List,
            _ => FieldKind::Text,
        };
        if var.is_empty() && kind != FieldKind::Fixed {
            return Err("its form has a field without a name, which cannot be answered.".into());
        }
        if var.chars().count() > 256 {
            return Err("its form has a field name longer than 256 characters, which Burrow refuses as hostile.".into());
        }
        // XEP-0077 §6: these two are the account's, which crypto fills in.
        if var == "username" && kind != FieldKind::Fixed {
            username = Some(var);
            continue;
        }
        if var == "password" && kind != FieldKind::Fixed {
            password = Some(var);
            continue;
        }
        let mut options = Vec::new();
        for option in field.find_all("option", NS_DATA) {
            if options.len() >= MAX_OPTIONS {
                return Err(format!("a field of its form has more than {MAX_OPTIONS} choices, which Burrow refuses as hostile."));
            }
            let value = option.find("value", NS_DATA).map(|value| value.text()).unwrap_or_default();
            let value = text_of(&value, "choice")?;
            let label = option.attr("label").map(|label| text_of(label, "choice")).transpose()?.unwrap_or_else(|| value.clone());
            options.push((label, value));
        }
        let label = field.attr("label").map(|label| text_of(label, "label")).transpose()?.filter(|label| !label.is_empty());
        let description = field.find("desc", NS_DATA).map(|desc| text_of(&desc.text(), "description")).transpose()?.filter(|desc| !desc.is_empty());
        let required = field.find("required", NS_DATA).is_some();
        fields.push(FormField { var, kind, label, description, required, values, options });
    }
    let (Some(username_var), Some(password_var)) = (username, password) else { return Ok(None) };
    Ok(Some(RegistrationForm { kind: FormKind::DataForm, instructions, fields, username_var, password_var }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Limits, StreamEvent, StreamReader};

    /// Parses `query` as it would come inside an iq on a stream.
    fn query(xml: &str) -> Element {
        let stream = format!("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><iq type='result' id='1'>{xml}</iq>");
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let mut reader = StreamReader::new(stream.as_bytes(), Limits::default());
            assert!(matches!(reader.next().await.unwrap(), StreamEvent::StreamOpen { .. }));
            match reader.next().await.unwrap() {
                StreamEvent::Stanza(iq) => iq.elements().next().unwrap().clone(),
                other => panic!("{other:?}"),
            }
        })
    }

    #[test]
    fn prosody_legacy_form_asks_nothing_of_the_user() {
        let form = parse_form(&query("<query xmlns='jabber:iq:register'><instructions>Choose a username and password for use with this service.</instructions><username/><password/></query>")).unwrap();
        assert_eq!(form.kind, FormKind::Legacy);
        assert_eq!(form.instructions, vec!["Choose a username and password for use with this service."]);
        assert!(form.fields.is_empty());
        assert!(!form.asks_the_user());
    }

    #[test]
    fn legacy_extra_fields_are_shown_and_key_is_kept_hidden() {
        let form = parse_form(&query("<query xmlns='jabber:iq:register'><username/><password/><email/><key>abc</key><evil/></query>")).unwrap();
        let vars: Vec<(&str, FieldKind)> = form.fields.iter().map(|field| (field.var.as_str(), field.kind)).collect();
        assert_eq!(vars, vec![("email", FieldKind::Text), ("key", FieldKind::Hidden)]);
        assert_eq!(form.fields[1].values, vec!["abc"]);
        assert!(form.asks_the_user());
    }

    #[test]
    fn a_data_form_replaces_the_legacy_fields() {
        let form = parse_form(&query(
            "<query xmlns='jabber:iq:register'><instructions>old</instructions><username/><password/>\
             <x xmlns='jabber:x:data' type='form'><title>Creating a new account</title><instructions>Choose well</instructions>\
             <field var='FORM_TYPE' type='hidden'><value>jabber:iq:register</value></field>\
             <field var='username' type='text-single' label='Username'><required/></field>\
             <field var='password' type='text-private' label='Password'><required/></field>\
             <field var='email' type='text-single' label='Email'><desc>For resets</desc><required/></field>\
             <field var='lang' type='list-single' label='Language'><option label='English'><value>en</value></option><option label='Svenska'><value>sv</value></option></field>\
             </x></query>",
        ))
        .unwrap();
        assert_eq!(form.kind, FormKind::DataForm);
        assert_eq!(form.instructions, vec!["Creating a new account", "Choose well"]);
        assert_eq!(form.fields.len(), 3);
        assert_eq!(form.fields[0].kind, FieldKind::Hidden);
        assert_eq!(form.fields[1].label.as_deref(), Some("Email"));
        assert_eq!(form.fields[1].description.as_deref(), Some("For resets"));
        assert!(form.fields[1].required);
        assert_eq!(form.fields[2].options, vec![("English".to_owned(), "en".to_owned()), ("Svenska".to_owned(), "sv".to_owned())]);
        assert!(form.check_answers(&[("email".into(), "a@b".into()), ("lang".into(), "sv".into())]).is_ok());
        assert!(form.check_answers(&[("lang".into(), "sv".into())]).is_err(), "the required email is missing");
        assert!(form.check_answers(&[("email".into(), "a@b".into()), ("lang".into(), "xx".into())]).is_err());
        assert!(form.check_answers(&[("email".into(), "a@b".into()), ("FORM_TYPE".into(), "x".into())]).is_err(), "hidden fields are not the user's");
    }

    #[test]
    fn an_image_captcha_is_refused_in_plain_words() {
        let bob = "<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='form'>\
            <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:captcha</value></field>\
            <field var='username'/><field var='password' type='text-private'/>\
            <field var='ocr' label='Enter the text you see'><media xmlns='urn:xmpp:media-element' height='80' width='290'><uri type='image/jpeg'>cid:sha1+abc@bob.xmpp.org</uri></media></field>\
            </x><data xmlns='urn:xmpp:bob' cid='sha1+abc@bob.xmpp.org' type='image/jpeg'>AAAA</data></query>";
        let refusal = parse_form(&query(bob)).unwrap_err();
        assert!(refusal.contains("CAPTCHA") && refusal.contains("images"), "{refusal}");
        // Even without the media element, the field itself needs an image.
        let ocr = "<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='form'><field var='username'/><field var='password'/><field var='ocr'/></x></query>";
        assert!(parse_form(&query(ocr)).unwrap_err().contains("CAPTCHA"));
    }

    #[test]
    fn a_web_page_only_registration_names_the_page_without_a_link() {
        let refusal = parse_form(&query("<query xmlns='jabber:iq:register'><instructions>Go to the web</instructions><x xmlns='jabber:x:oob'><url>https://example.org/register</url></x></query>")).unwrap_err();
        assert!(refusal.contains("https://example.org/register") && refusal.contains("web page"), "{refusal}");
        let nothing = parse_form(&query("<query xmlns='jabber:iq:register'><instructions>no</instructions></query>")).unwrap_err();
        assert!(nothing.contains("no user name and password"), "{nothing}");
    }

    #[test]
    fn hostile_forms_are_bounded() {
        let many: String = (0..=MAX_FIELDS).map(|n| format!("<field var='f{n}'/>")).collect();
        let xml = format!("<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data'><field var='username'/><field var='password'/>{many}</x></query>");
        assert!(parse_form(&query(&xml)).unwrap_err().contains("hostile"));
        let long = "x".repeat(MAX_TEXT + 1);
        let xml = format!("<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data'><field var='username'/><field var='password'/><field var='a' label='{long}'/></x></query>");
        assert!(parse_form(&query(&xml)).unwrap_err().contains("hostile"));
        let options: String = (0..=MAX_OPTIONS).map(|n| format!("<option><value>{n}</value></option>")).collect();
        let xml = format!("<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data'><field var='username'/><field var='password'/><field var='a' type='list-single'>{options}</field></x></query>");
        assert!(parse_form(&query(&xml)).unwrap_err().contains("hostile"));
        let instructions: String = (0..5).map(|_| format!("<instructions>{}</instructions>", "y".repeat(MAX_TEXT))).collect();
        let xml = format!("<query xmlns='jabber:iq:register'>{instructions}<username/><password/></query>");
        assert!(parse_form(&query(&xml)).unwrap_err().contains("hostile"));
        // Control characters from the server never reach the user.
        let form = parse_form(&query("<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data'><field var='username'/><field var='password'/><field var='a' label='bad&#x85;[31m'/></x></query>")).unwrap();
        assert_eq!(form.fields[0].label.as_deref(), Some("bad[31m"));
    }
}
