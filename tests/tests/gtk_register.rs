//! "Create a new account" in the GTK window under Xvfb against a real
//! Prosody that allows registration and asks for a full name
//! (tests/gtk/register.py drives it as a person would: keys through XTest,
//! buttons and the screen through AT-SPI): first run, the add-account form's
//! "Create a new account instead…", another server typed, the server's form
//! answered, the new account with its random name online. A screenshot of
//! every step goes to `$BURROW_GTK_ARTIFACTS`, or
//! `target/<profile>/gtk-artifacts/register`.

use std::ffi::OsStr;

use burrow_tests::desktop::{quit_through_the_window, Desktop};
use burrow_tests::servers::prosody::Prosody;
use burrow_tests::Scratch;

#[test]
fn a_new_account_is_created_from_the_window_with_the_server_s_form() {
    let prosody = Prosody::start_with_registration(&["name+"]);
    let scratch = Scratch::new("gtk-register");
    let desktop = Desktop::start(scratch.path(), "register");
    let burrow = desktop.launch();
    let server = format!("127.0.0.1:{}", prosody.starttls_port());
    let arguments: [&OsStr; 6] = [
        desktop.artifacts.as_os_str(),
        "correct horse battery staple".as_ref(),
        prosody.domain().as_ref(),
        server.as_ref(),
        prosody.ca_pem_path().as_os_str(),
        "Ann Example".as_ref(),
    ];
    let said = desktop.drive("register.py", &arguments);
    let account = said.lines().find_map(|line| line.strip_prefix("account: ")).expect("the new account's address");
    let user = account.split('@').next().unwrap();
    // The server holds the account and the answer typed into its form.
    let details = prosody.dir().join("data").join("prosody%2etest").join("account_details").join(format!("{user}.dat"));
    let details = std::fs::read_to_string(&details).unwrap_or_else(|error| panic!("{}: {error}", details.display()));
    assert!(details.contains("Ann Example"), "{details}");
    desktop.assert_screenshots(&["add-account", "create-account", "server-chosen", "server-form", "registered-online"]);
    // Ctrl+Q, typed into the window, ends every process cleanly.
    quit_through_the_window(&desktop.xvfb.display, burrow);
    eprintln!("screenshots: {}", desktop.artifacts.display());
}
