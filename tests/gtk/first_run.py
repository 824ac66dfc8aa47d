#!/usr/bin/python3
"""Drives Burrow's GTK window as a person would, from first run to an account
online: keys are typed with xdotool into the focused widget (XTest, the same
path a keyboard takes), buttons are pressed and the screen is read through the
accessibility bus (AT-SPI, as a screen reader does). A screenshot of the whole
screen is saved at every step.

Then, with a peer: a second Burrow in text mode (`--ui text --json`, driven
here through its stdin and stdout) comes online; the window writes to it, the
conversation becomes private under OTR, the peer's reply shows, and the window
verifies the peer with SMP (a question and its answer, which the peer gives).
Last, the peer asks to see the window's presence, and the window approves.

Usage: first_run.py ARTIFACTS_DIR PASSPHRASE JID PASSWORD SERVER CA_PATH
                    PEER_JID PEER_PASSWORD PEER_PROFILE BURROW
Exit status 0 when every step was seen on screen; otherwise the step that
failed, on stderr."""

import sys
import time

import window
from window import (click, fail, focus_window, focused, frame, key, named, press, screenshot, text_of, type_text,
                    wait_for, TextPeer, on_failure, POLL, STEP_TIMEOUT)

artifacts, passphrase, jid, password, server, ca_path, peer_jid, peer_password, peer_profile, burrow = sys.argv[1:11]
window.artifacts = artifacts

# 1. First run: the passphrase page.
main = frame("Burrow")
wait_for("the welcome heading", named("label", "Welcome to Burrow"), main)
first = wait_for("the passphrase field", named("password text", "Passphrase"), main)
screenshot("first-run")

# 2. A passphrase, typed twice; Enter creates the store.
focus_window("Burrow")
if not focused(first):
    fail("the passphrase field does not have the keyboard focus")
type_text(passphrase)
key("Tab")
repeat = wait_for("the repeat field", named("password text", "Repeat the passphrase"), main)
if not focused(repeat):
    fail("Tab did not move to the repeat field")
type_text(passphrase)
screenshot("passphrase-typed")
key("Return")
screenshot("deriving-key")

# 3. The store is made; with no account yet, the form opens by itself.
form = frame("Add an account")
address = wait_for("the address field", named("text", "Your address (JID)"), form)
screenshot("add-account")
focus_window("Add an account")
if not focused(address):
    fail("the address field does not have the keyboard focus")
type_text(jid)
key("Tab")
type_text(password)
key("Tab")
type_text(server)
key("Tab")
type_text(ca_path)
fields = {
    "Your address (JID)": jid,
    "Server address and port, if not the domain's own": server,
    "A certificate file to trust for this server only": ca_path,
}
for name, wanted in fields.items():
    got = text_of(wait_for(f"the field {name!r}", named("text", name), form))
    if got != wanted:
        fail(f"the field {name!r} holds {got!r}, not what was typed")
screenshot("account-filled")
key("Return")

# 4. The account is listed, offline, with a Connect button.
wait_for("the account in the list", named("label", jid), main)
connect = wait_for("the Connect button", named("push button", "Connect"), main)
screenshot("account-added")
press(connect)

# 5. Online: net reports the connection's TLS and Tor, shown as net said.
status = wait_for("the account online", lambda node: node.getRoleName() == "label" and node.name.startswith("online"), main)
screenshot("online")
if "TLS 1.3" not in status.name or "no Tor (server on this computer)" not in status.name:
    fail(f"the account's line says {status.name!r}")
wait_for("the Disconnect button", named("push button", "Disconnect"), main)
print(f"account line: {status.name}", flush=True)

# 6. The peer, a second Burrow in text mode, comes online.
peer = TextPeer(burrow, peer_profile)
on_failure.append(peer.stop)
peer.expect("ready", lambda event: event["event"] == "ready")
peer.send("/unlock the peer's passphrase")
peer.expect("its store unlocked", lambda event: event["event"] == "unlocked")
peer.send(f"/account add {peer_jid} {peer_password} server={server} ca={ca_path}")
peer.expect("its account", lambda event: event["event"] == "account" and event["account"] == peer_jid)
peer.send(f"/connect {peer_jid}")
peer.expect("its account online", lambda event: event["event"] == "account" and event.get("state") == "online")
peer.expect("its own presence", lambda event: event["event"] == "presence" and event.get("peer") == peer_jid)

# 7. The window writes to the peer: the address in the contact field, Enter
# opens the conversation, the message and Enter send it.
focus_window("Burrow")
contact = wait_for("the contact field", named("text", "A contact's address"), main)
click(contact, "Burrow")
if not focused(contact):
    fail("a click did not put the keyboard focus in the contact field")
type_text(peer_jid)
key("Return")
entry = wait_for("the message entry", named("text", "Message to send"), main)
if not focused(entry):
    fail("the new conversation's message entry does not have the focus")
wait_for("the rating before OTR", named("label", "Not private"), main)
screenshot("conversation-opened")
type_text("hello from the window")
key("Return")
# Under the default policy (require), the message waits for the private
# conversation that its sending starts, then leaves encrypted.
got = peer.expect("the window's message", lambda event: event["event"] == "message")
if got.get("text") != "hello from the window" or got.get("encrypted") is not True:
    fail(f"the peer got {got}")
wait_for("the rating once private", named("label", "Private, not verified"), main)
screenshot("private")

# 8. The peer's reply shows in the conversation, as plain text.
peer.send(f"/msg {peer_jid} {jid} <b>hello back</b> https://example.org")
messages = wait_for("the messages view", named("text", "Messages"), main)
deadline = time.monotonic() + STEP_TIMEOUT
while f"{peer_jid}: <b>hello back</b> https://example.org" not in text_of(messages):
    if time.monotonic() > deadline:
        fail(f"the reply never showed; the view holds {text_of(messages)!r}")
    time.sleep(POLL)
screenshot("reply")

# 9. SMP: the window asks a question; the peer answers it rightly.
expander = wait_for("the verification expander", lambda node: node.name == "Fingerprints and verification" and node.getRoleName() != "label", main)
click(expander, "Burrow")
question = wait_for("the question field", named("text", "Verification question"), main)
click(question, "Burrow")
type_text("Where did we first meet?")
secret = wait_for("the answer field", named("password text", "The answer you expect"), main)
click(secret, "Burrow")
type_text("the old harbour")
screenshot("smp-question")
press(wait_for("the Ask button", named("push button", "Ask"), main))
asked = peer.expect("the SMP question", lambda event: event["event"] == "smp" and event.get("result") == "asked")
if asked.get("question") != "Where did we first meet?":
    fail(f"the peer was asked {asked}")
peer.send(f"/smp-answer {peer_jid} {jid} the old harbour")
peer.expect("SMP success", lambda event: event["event"] == "smp" and event.get("result") not in ("asked", None))
wait_for("the rating once verified", named("label", "Private and verified"), main)
wait_for("the peer's fingerprint, verified", lambda node: node.getRoleName() == "label" and node.name.startswith("Their fingerprint:") and node.name.endswith("(verified)"), main)
screenshot("verified")

# 10. The peer asks to see the window's presence: the roster shows the
# request with an Approve button, and pressing it answers the peer.
peer.send(f"/subscribe {peer_jid} {jid}")
wait_for("the subscription request", named("label", "asks to see your presence"), main)
approve = wait_for("the Approve button", named("push button", "Approve"), main)
screenshot("subscription-request")
press(approve)
peer.expect("the approval", lambda event: event["event"] == "subscription" and event.get("kind") == "approved" and event.get("peer") == jid)
deadline = time.monotonic() + STEP_TIMEOUT
while window.find(named("label", "asks to see your presence"), main) is not None:
    if time.monotonic() > deadline:
        fail("the answered request is still shown")
    time.sleep(POLL)
screenshot("subscription-approved")
peer.stop()
print("ok", flush=True)
