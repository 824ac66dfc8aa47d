//! Trust in a contact's key, in the GTK front end under Xvfb against a real
//! Prosody, driven as a person would (tests/gtk/trust.py, with the helpers
//! of tests/gtk/window.py): the contact's key verified by comparing it by
//! hand; the contact back from a fresh profile with a new key, and the
//! warning window naming them with both keys, the rating not "verified";
//! the new key compared from the window, "Private and verified" again; the
//! contact's policy set to "never", and a message leaving unencrypted. A
//! screenshot of every step is kept in `$BURROW_GTK_ARTIFACTS`, or
//! `target/<profile>/gtk-artifacts/trust`.

use std::ffi::OsStr;

use burrow_tests::desktop::{quit_through_the_window, Desktop};
use burrow_tests::servers::prosody::Prosody;
use burrow_tests::{binary, Scratch};

#[test]
fn a_changed_key_is_warned_about_and_verified_again_from_the_window() {
    let prosody = Prosody::shared();
    let (jid, password) = prosody.create_account("gtktrust");
    let (peer_jid, peer_password) = prosody.create_account("gtktrustpeer");
    let scratch = Scratch::new("gtk-trust");
    let desktop = Desktop::start(scratch.path(), "trust");
    let burrow = desktop.launch();
    let server = format!("127.0.0.1:{}", prosody.starttls_port());
    let (peer_profile, reinstalled, peer_binary) = (scratch.path().join("peer-profile"), scratch.path().join("peer-profile-reinstalled"), binary("burrow"));
    let arguments: [&OsStr; 11] = [
        desktop.artifacts.as_os_str(),
        "correct horse battery staple".as_ref(),
        jid.as_ref(),
        password.as_ref(),
        server.as_ref(),
        prosody.ca_pem_path().as_os_str(),
        peer_jid.as_ref(),
        peer_password.as_ref(),
        peer_profile.as_os_str(),
        reinstalled.as_os_str(),
        peer_binary.as_os_str(),
    ];
    desktop.drive("trust.py", &arguments);
    desktop.assert_screenshots(&["online", "private", "compare-keys", "verified-by-hand", "key-changed-warning", "compare-new-key", "new-key-verified", "policy-never", "sent-unencrypted"]);
    // Ctrl+Q, typed into the window, ends every process cleanly.
    quit_through_the_window(&desktop.xvfb.display, burrow);
    eprintln!("screenshots: {}", desktop.artifacts.display());
}
