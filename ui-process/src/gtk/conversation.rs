//! One conversation: its security rating and reasons, OTR start and end,
//! both fingerprints, SMP (ask and answer), manual verification, the
//! warning banner while a changed key is not verified, the contact's OTR
//! policy, the messages and the entry.
//! Messages live in this view's memory only; closing Burrow forgets them.
//! The view keeps the last [`MAX_LINES`] lines and [`MAX_CHARS`]
//! characters, so a peer who floods cannot grow the window without bound.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use gtk4 as gtk;
use gtk4::prelude::*;
use ipc::otr::{KeyChange, OtrRequest, SmpResult};
use ipc::secret::SecretText;
use ipc::ui::FromUi;

use super::trust::{key_change_warning, policy_title, verification_dialog, PolicyChoice};
use super::widgets::{button, entry, horizontal, margins, named, password_entry, plain_label, vertical};
use crate::i18n::{tr, tr_with};
use crate::rating::{Level, Rating};

/// Lines one conversation's view keeps; older ones are dropped.
const MAX_LINES: i32 = 5_000;
/// Characters one conversation's view keeps (a few MiB of text).
const MAX_CHARS: i32 = 1_000_000;

pub struct Conversation {
    pub account: String,
    pub peer: String,
    pub root: gtk::Box,
    pub tab: gtk::Label,
    rating_title: gtk::Label,
    rating_reasons: gtk::Label,
    /// Shown while the contact's key changed and the new one is not verified.
    banner: gtk::Box,
    banner_text: gtk::Label,
    ours: gtk::Label,
    theirs: gtk::Label,
    smp_incoming: gtk::Box,
    smp_question: gtk::Label,
    smp_status: gtk::Label,
    buffer: gtk::TextBuffer,
    view: gtk::TextView,
    pub entry: gtk::Entry,
    send: Rc<dyn Fn(FromUi)>,
    /// Numbers our messages for the broker's answers; shared by every
    /// conversation of this window.
    next_request: Rc<Cell<u64>>,
    level: Cell<Option<Level>>,
    our_key: RefCell<Option<String>>,
    their_key: RefCell<Option<String>>,
    compare: gtk::Button,
    policy: PolicyChoice,
}

impl Conversation {
    pub fn build(account: &str, peer: &str, send: Rc<dyn Fn(FromUi)>, next_request: Rc<Cell<u64>>) -> Rc<Conversation> {
        let root = vertical(6);
        margins(&root, 8);
        let tab = plain_label(peer);
        tab.set_wrap(false);
        tab.set_ellipsize(gtk::pango::EllipsizeMode::End);
        tab.set_width_chars(12);
        tab.set_max_width_chars(32);

        let rating_title = plain_label("");
        rating_title.add_css_class("title-3");
        let rating_reasons = plain_label("");
        rating_reasons.add_css_class("dim-label");
        root.append(&rating_title);
        root.append(&rating_reasons);

        let banner = horizontal(8);
        banner.add_css_class("frame");
        margins(&banner, 4);
        let banner_text = plain_label("");
        banner_text.add_css_class("error");
        banner_text.set_hexpand(true);
        let banner_verify = button(&tr("Verify the new key…"), &tr("Compare the contact's new key with them"));
        banner_verify.set_valign(gtk::Align::Center);
        banner.append(&banner_text);
        banner.append(&banner_verify);
        banner.set_visible(false);
        root.append(&banner);

        let otr_bar = horizontal(6);
        let start = button(&tr("Start private conversation"), &tr("Start an OTR private conversation with this contact"));
        let end = button(&tr("End private conversation"), &tr("End the OTR private conversation"));
        otr_bar.append(&start);
        otr_bar.append(&end);
        root.append(&otr_bar);

        let details = vertical(6);
        let ours = plain_label(&tr("Your fingerprint: not known yet"));
        ours.set_selectable(true);
        let theirs = plain_label(&tr("Their fingerprint: not known yet"));
        theirs.set_selectable(true);
        details.append(&ours);
        details.append(&theirs);
        let compare = button(&tr("Compare keys by hand…"), &tr("Compare both keys with the contact over another channel and mark theirs as verified"));
        compare.set_halign(gtk::Align::Start);
        compare.set_sensitive(false);
        details.append(&compare);
        let ask_bar = horizontal(6);
        let question = entry(&tr("A question only they can answer (optional)"), &tr("Verification question"));
        question.set_hexpand(true);
        let secret = password_entry(&tr("The answer you expect"));
        secret.set_placeholder_text(Some(&tr("The answer")));
        secret.set_hexpand(true);
        let ask = button(&tr("Ask"), &tr("Ask the contact this question to verify their identity"));
        ask_bar.append(&question);
        ask_bar.append(&secret);
        ask_bar.append(&ask);
        details.append(&ask_bar);
        let expander: gtk::Expander = named("GtkExpander", &tr("Fingerprints and verification"));
        expander.set_label(Some(&tr("Fingerprints and verification")));
        expander.set_child(Some(&details));
        root.append(&expander);

        let policy_send = send.clone();
        let (policy_account, policy_peer) = (account.to_owned(), peer.to_owned());
        let policy = PolicyChoice::build(&tr("How messages to this contact are encrypted:"), Box::new(move |policy| {
            policy_send(FromUi::Otr { account: policy_account.clone(), request: OtrRequest::Policy { peer: Some(policy_peer.clone()), policy: policy.to_owned(), allow_v2: None } });
        }));
        let policy_expander: gtk::Expander = named("GtkExpander", &tr("Encryption setting for this contact"));
        policy_expander.set_label(Some(&tr("Encryption setting for this contact")));
        policy_expander.set_child(Some(&policy.root));
        root.append(&policy_expander);

        let smp_incoming = vertical(6);
        let smp_question = plain_label("");
        let answer_bar = horizontal(6);
        let answer = password_entry(&tr("Your answer to the contact's question"));
        answer.set_hexpand(true);
        let answer_button = button(&tr("Answer"), &tr("Send your answer to the contact's question"));
        answer_bar.append(&answer);
        answer_bar.append(&answer_button);
        smp_incoming.append(&smp_question);
        smp_incoming.append(&answer_bar);
        smp_incoming.set_visible(false);
        root.append(&smp_incoming);
        let smp_status = plain_label("");
        smp_status.set_visible(false);
        root.append(&smp_status);

        let buffer = gtk::TextBuffer::new(None);
        let view: gtk::TextView = named("GtkTextView", &tr("Messages"));
        view.set_buffer(Some(&buffer));
        view.set_editable(false);
        view.set_cursor_visible(false);
        view.set_wrap_mode(gtk::WrapMode::WordChar);
        let scroller = gtk::ScrolledWindow::new();
        scroller.set_vexpand(true);
        scroller.set_child(Some(&view));
        root.append(&scroller);
        let message_entry = entry(&tr("Write a message; Enter sends it"), &tr("Message to send"));
        root.append(&message_entry);

        let conversation = Rc::new(Conversation {
            account: account.to_owned(),
            peer: peer.to_owned(),
            root,
            tab,
            rating_title,
            rating_reasons,
            banner,
            banner_text,
            ours,
            theirs,
            smp_incoming,
            smp_question,
            smp_status,
            buffer,
            view,
            entry: message_entry,
            send,
            next_request,
            level: Cell::new(None),
            our_key: RefCell::new(None),
            their_key: RefCell::new(None),
            compare,
            policy,
        });
        conversation.policy.show("require");

        for verify in [&conversation.compare, &banner_verify] {
            let weak = Rc::downgrade(&conversation);
            verify.connect_clicked(move |_| {
                if let Some(conversation) = weak.upgrade() {
                    conversation.open_verification();
                }
            });
        }

        let weak = Rc::downgrade(&conversation);
        conversation.entry.connect_activate(move |entry| {
            let Some(conversation) = weak.upgrade() else { return };
            let text = entry.text().to_string();
            if text.trim().is_empty() {
                return;
            }
            entry.set_text("");
            conversation.send_text(text);
        });
        let weak = Rc::downgrade(&conversation);
        start.connect_clicked(move |_| {
            if let Some(conversation) = weak.upgrade() {
                conversation.otr(OtrRequest::Start { peer: conversation.peer.clone() });
                conversation.note(&tr("Asking the contact for a private conversation…"));
            }
        });
        let weak = Rc::downgrade(&conversation);
        end.connect_clicked(move |_| {
            if let Some(conversation) = weak.upgrade() {
                conversation.otr(OtrRequest::End { peer: conversation.peer.clone() });
            }
        });
        let weak = Rc::downgrade(&conversation);
        ask.connect_clicked(move |_| {
            let Some(conversation) = weak.upgrade() else { return };
            let expected = secret.text().to_string();
            if expected.trim().is_empty() {
                return conversation.smp_note(&tr("Type the answer you expect first."));
            }
            let asked = question.text().trim().to_owned();
            secret.set_text("");
            conversation.otr(OtrRequest::Smp {
                peer: conversation.peer.clone(),
                question: (!asked.is_empty()).then(|| SecretText::new(asked)),
                secret: SecretText::new(expected.trim().to_owned()),
            });
            conversation.smp_note(&tr("Waiting for the contact's answer…"));
        });
        let weak = Rc::downgrade(&conversation);
        let reply = move || {
            let Some(conversation) = weak.upgrade() else { return };
            let given = answer.text().trim().to_owned();
            if given.is_empty() {
                return;
            }
            answer.set_text("");
            conversation.smp_incoming.set_visible(false);
            conversation.otr(OtrRequest::SmpAnswer { peer: conversation.peer.clone(), secret: SecretText::new(given) });
            conversation.smp_note(&tr("Answer sent; waiting for the result…"));
        };
        let reply = Rc::new(reply);
        let on_click = reply.clone();
        answer_button.connect_clicked(move |_| on_click());
        conversation
    }

    fn otr(&self, request: OtrRequest) {
        (self.send)(FromUi::Otr { account: self.account.clone(), request });
    }

    /// Asks crypto for our fingerprint; the peer's comes with each OTR
    /// state change (there is none before a private conversation).
    pub fn ask_our_fingerprint(&self) {
        self.otr(OtrRequest::Fingerprint { peer: None });
    }

    fn send_text(&self, text: String) {
        let request = self.next_request.get();
        self.next_request.set(request + 1);
        self.append(&tr("You"), &text);
        (self.send)(FromUi::Send { account: self.account.clone(), peer: self.peer.clone(), text: SecretText::new(text), request });
    }

    /// A message from the peer: inserted as plain text, never markup;
    /// GtkTextView makes no link clickable and shows no image.
    pub fn received(&self, text: &str, encrypted: bool) {
        let who = if encrypted { self.peer.clone() } else { tr_with("{peer} (not encrypted)", &[("peer", &self.peer)]) };
        self.append(&who, text);
    }

    fn append(&self, who: &str, text: &str) {
        let mut end = self.buffer.end_iter();
        self.buffer.insert(&mut end, &format!("{who}: {text}\n"));
        self.forget_oldest();
        let mark = self.buffer.create_mark(None, &self.buffer.end_iter(), false);
        self.view.scroll_mark_onscreen(&mark);
        self.buffer.delete_mark(&mark);
    }

    /// A mark on the tab while a message waits unread in a conversation
    /// that is not in front; its text is the only news it gives.
    pub fn mark_unread(&self, unread: bool) {
        let text = if unread { tr_with("{peer} (new message)", &[("peer", &self.peer)]) } else { self.peer.clone() };
        self.tab.set_text(&text);
    }

    /// Something Burrow says about this conversation, not a message.
    pub fn note(&self, text: &str) {
        let mut end = self.buffer.end_iter();
        self.buffer.insert(&mut end, &format!("— {text}\n"));
        self.forget_oldest();
    }

    /// Drops the oldest lines past the bounds, whole lines at a time.
    fn forget_oldest(&self) {
        // The text after the last newline is an empty line of its own.
        let extra_lines = self.buffer.line_count() - 1 - MAX_LINES;
        let extra_chars = self.buffer.char_count() - MAX_CHARS;
        if extra_lines <= 0 && extra_chars <= 0 {
            return;
        }
        let mut cut = self.buffer.start_iter();
        if extra_lines > 0 {
            cut.forward_lines(extra_lines);
        }
        if cut.offset() < extra_chars {
            cut.set_offset(extra_chars);
            if !cut.starts_line() {
                cut.forward_line();
            }
        }
        let mut start = self.buffer.start_iter();
        self.buffer.delete(&mut start, &mut cut);
    }

    pub fn show_rating(&self, rating: &Rating) {
        let changed = self.level.replace(Some(rating.level)) != Some(rating.level);
        self.rating_title.set_text(&rating.level.title());
        self.rating_reasons.set_text(&rating.reasons.join("\n"));
        if changed {
            self.note(&tr_with("Security: {rating}", &[("rating", &rating.level.title())]));
        }
    }

    pub fn our_fingerprint(&self, fingerprint: &str) {
        *self.our_key.borrow_mut() = Some(fingerprint.to_owned());
        self.ours.set_text(&tr_with("Your fingerprint: {fingerprint}", &[("fingerprint", fingerprint)]));
    }

    pub fn their_fingerprint(&self, fingerprint: &str, verified: bool) {
        *self.their_key.borrow_mut() = Some(fingerprint.to_owned());
        self.compare.set_sensitive(true);
        let text = if verified {
            tr_with("Their fingerprint: {fingerprint} (verified)", &[("fingerprint", fingerprint)])
        } else {
            tr_with("Their fingerprint: {fingerprint} (not verified)", &[("fingerprint", fingerprint)])
        };
        self.theirs.set_text(&text);
    }

    pub fn smp(&self, result: SmpResult, question: Option<&str>, reason: Option<&str>) {
        match result {
            SmpResult::Asked => {
                let text = match question {
                    Some(question) => tr_with("{peer} asks you to verify yourself: “{question}” Type the answer you agreed on.", &[("peer", &self.peer), ("question", question)]),
                    None => tr_with("{peer} asks you to verify yourself with the secret you agreed on.", &[("peer", &self.peer)]),
                };
                self.smp_question.set_text(&text);
                self.smp_incoming.set_visible(true);
            }
            SmpResult::Success => self.smp_note(&tr("Verified: the answers match. This contact's fingerprint is now trusted.")),
            SmpResult::Failure => self.smp_note(&tr("Not verified: the answers did not match. You may be talking to someone else.")),
            SmpResult::Aborted => {
                self.smp_incoming.set_visible(false);
                let text = match reason {
                    Some(reason) => tr_with("Verification stopped: {reason}", &[("reason", reason)]),
                    None => tr("Verification stopped."),
                };
                self.smp_note(&text);
            }
        }
    }

    fn window(&self) -> Option<gtk::Window> {
        self.root.root().and_downcast::<gtk::Window>()
    }

    /// The comparison by hand; "they match" sends what `/trust` sends.
    pub fn open_verification(self: &Rc<Self>) {
        let Some(theirs) = self.their_key.borrow().clone() else {
            return self.note(&tr("There is no key to compare yet: start a private conversation first."));
        };
        let ours = self.our_key.borrow().clone();
        let weak = Rc::downgrade(self);
        let fingerprint = theirs.clone();
        verification_dialog(self.window().as_ref(), &self.peer, ours.as_deref(), &theirs, Box::new(move || {
            if let Some(conversation) = weak.upgrade() {
                conversation.otr(OtrRequest::Trust { peer: conversation.peer.clone(), fingerprint: fingerprint.clone() });
                conversation.note(&tr("You marked the contact's key as verified after comparing it."));
            }
        }));
    }

    /// The banner (and, when `warn`, the modal warning) for a key that
    /// differs from one seen before; none once it is verified.
    pub fn show_key_change(self: &Rc<Self>, fingerprint: Option<&str>, change: Option<&KeyChange>, warn: bool) {
        let Some(change) = change else {
            self.banner.set_visible(false);
            return;
        };
        let text = if change.earlier_verified() {
            tr_with("Warning: the security key of {peer} changed since you verified it. Until you verify the new key, someone else could be reading this conversation.", &[("peer", &self.peer)])
        } else {
            tr_with("Warning: the security key of {peer} is not the one seen before. Until you verify it, someone else could be reading this conversation.", &[("peer", &self.peer)])
        };
        self.banner_text.set_text(&text);
        self.banner.set_visible(true);
        if warn {
            self.note(&text);
            if let Some(fingerprint) = fingerprint {
                let weak = Rc::downgrade(self);
                key_change_warning(self.window().as_ref(), &self.peer, fingerprint, change, Box::new(move || {
                    if let Some(conversation) = weak.upgrade() {
                        conversation.open_verification();
                    }
                }));
            }
        }
    }

    /// The contact's policy as crypto last confirmed it (or as it is
    /// believed to be); `confirmed` when crypto just set it.
    pub fn show_policy(&self, policy: &str, confirmed: bool) {
        self.policy.show(policy);
        if confirmed {
            self.note(&tr_with("Encryption setting for this contact: {policy}", &[("policy", &policy_title(policy))]));
        }
    }

    fn smp_note(&self, text: &str) {
        self.smp_status.set_text(text);
        self.smp_status.set_visible(true);
        self.note(text);
    }
}
