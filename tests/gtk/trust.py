#!/usr/bin/python3
"""Trust in a contact's key, driven in Burrow's GTK window as a person would
(see window.py): the window talks privately to a text-mode Burrow, verifies
its key by comparing it by hand, then the contact comes back from a fresh
profile with a new key. The warning window must appear, naming the contact
and showing the verified key and the new one; the rating must not say
verified; comparing the new key from the window makes it "Private and
verified" again. Last, the contact's OTR policy set to "never" in the
conversation lets a message leave unencrypted, as that setting says.

Usage: trust.py ARTIFACTS_DIR PASSPHRASE JID PASSWORD SERVER CA_PATH
                PEER_JID PEER_PASSWORD PEER_PROFILE NEW_PEER_PROFILE BURROW
Exit status 0 when every step was seen on screen; otherwise the step that
failed, on stderr."""

import sys
import time

import window
from window import (click, fail, find, visible, focus_window, focused, frame, key, named, press, screenshot, text_of, type_text,
                    wait_for, TextPeer, on_failure, POLL, STEP_TIMEOUT)

artifacts, passphrase, jid, password, server, ca_path, peer_jid, peer_password, peer_profile, new_peer_profile, burrow = sys.argv[1:12]
window.artifacts = artifacts


def button(label, accessible=None):
    """A push button by what it shows (GTK names a button by its label, a
    mnemonic's underscore left out) or by its accessible name."""
    return lambda node: node.getRoleName() == "push button" and node.name.replace("_", "") in (label, accessible)


def peer_online(profile):
    peer = TextPeer(burrow, profile)
    on_failure.append(peer.stop)
    peer.expect("ready", lambda event: event["event"] == "ready")
    peer.send("/unlock the peer's passphrase")
    peer.expect("its store unlocked", lambda event: event["event"] == "unlocked")
    peer.send(f"/account add {peer_jid} {peer_password} server={server} ca={ca_path}")
    peer.expect("its account", lambda event: event["event"] == "account" and event["account"] == peer_jid)
    peer.send(f"/fingerprint {peer_jid}")
    fingerprint = peer.expect("its fingerprint", lambda event: event["event"] == "fingerprint" and "peer" not in event)["fingerprint"]
    peer.send(f"/connect {peer_jid}")
    peer.expect("its account online", lambda event: event["event"] == "account" and event.get("state") == "online")
    peer.expect("its own presence", lambda event: event["event"] == "presence" and event.get("peer") == peer_jid)
    return peer, fingerprint


def wait_for_message_text(messages, wanted):
    deadline = time.monotonic() + STEP_TIMEOUT
    while wanted not in text_of(messages):
        if time.monotonic() > deadline:
            fail(f"{wanted!r} never showed; the view holds {text_of(messages)!r}")
        time.sleep(POLL)


def wait_gone(what, predicate, root):
    deadline = time.monotonic() + STEP_TIMEOUT
    while find(predicate, root) is not None:
        if time.monotonic() > deadline:
            fail(f"{what} is still shown")
        time.sleep(POLL)


def dump(root, depth=0, deepest=30):
    """What AT-SPI shows beneath `root`, to say why a step failed."""
    try:
        print("  " * depth + f"{root.getRoleName()} {root.name!r} {visible(root)}", file=sys.stderr)
        for index in range(root.childCount if depth < deepest else 0):
            dump(root.getChildAtIndex(index), depth + 1, deepest)
    except Exception:
        pass


def dialog_window(title):
    """A dialog window by its title. GTK 4.8 reports a transient window as a
    frame or, once it holds the focus, as a filler: what counts is that it
    is a top-level window of Burrow's with that title."""
    return wait_for(f"the window {title!r}", lambda node: node.name == title and node.getRoleName() in ("frame", "dialog", "filler")
                    and node.parent is not None and node.parent.getRoleName() == "application")


def compare_and_confirm(peer_fingerprint, step):
    """The comparison window: both keys shown; "they match" pressed."""
    on_failure.append(lambda: dump(window.pyatspi.Registry.getDesktop(0), deepest=3))
    dialog = dialog_window(f"Verify the key of {peer_jid}")
    on_failure.pop()
    on_failure.append(lambda: dump(dialog))
    wait_for("the contact's key in the comparison", named("label", peer_fingerprint), dialog)
    wait_for("the explanation of how to compare", lambda node: node.getRoleName() == "label" and "another channel" in node.name, dialog)
    cancel = wait_for("the Cancel button", button("Cancel", "Close without marking the key as verified"), dialog)
    if not focused(cancel):
        fail("the comparison does not give the focus to Cancel, the safe choice")
    screenshot(step)
    press(wait_for("the match button", button("I have compared them and they match"), dialog))
    on_failure.pop()


# 1. First run, a passphrase, the account, online (as first_run.py).
main = frame("Burrow")
first = wait_for("the passphrase field", named("password text", "Passphrase"), main)
focus_window("Burrow")
if not focused(first):
    fail("the passphrase field does not have the keyboard focus")
type_text(passphrase)
key("Tab")
type_text(passphrase)
key("Return")
form = frame("Add an account")
address = wait_for("the address field", named("text", "Your address (JID)"), form)
focus_window("Add an account")
if not focused(address):
    fail("the address field does not have the keyboard focus")
for value in (jid, password, server):
    type_text(value)
    key("Tab")
type_text(ca_path)
key("Return")
wait_for("the account's encryption choice", named("combo box", f"Encryption for {jid}"), main)
press(wait_for("the Connect button", button("Connect"), main))
wait_for("the account online", lambda node: node.getRoleName() == "label" and node.name.startswith("online"), main)
screenshot("online")

# 2. The contact, a text-mode Burrow; the window writes, OTR goes private.
peer, old_fingerprint = peer_online(peer_profile)
focus_window("Burrow")
contact = wait_for("the contact field", named("text", "A contact's address"), main)
click(contact, "Burrow")
type_text(peer_jid)
key("Return")
wait_for("the message entry", named("text", "Message to send"), main)
type_text("hello, this is the window")
key("Return")
got = peer.expect("the window's message", lambda event: event["event"] == "message")
if got.get("encrypted") is not True:
    fail(f"the peer got {got}")
wait_for("the rating once private", named("label", "Private, not verified"), main)
screenshot("private")

# 3. Verified by hand: the keys compared, "they match" pressed.
fingerprints = wait_for("the verification expander", lambda node: node.name == "Fingerprints and verification" and node.getRoleName() != "label", main)
click(fingerprints, "Burrow")
press(wait_for("the compare button", button("Compare keys by hand…"), main))
compare_and_confirm(old_fingerprint, "compare-keys")
wait_for("the rating once verified", named("label", "Private and verified"), main)
screenshot("verified-by-hand")

# 4. The window ends the conversation while the old contact hears it; the
# contact's Burrow goes away and comes back on a fresh profile, new key.
press(wait_for("the End button", button("End private conversation"), main))
peer.expect("the conversation finished", lambda event: event["event"] == "otr" and event.get("state") == "finished")
wait_for("the rating once ended", named("label", "Not private"), main)
peer.stop()
on_failure.remove(peer.stop)
peer, new_fingerprint = peer_online(new_peer_profile)
if new_fingerprint == old_fingerprint:
    fail("the fresh profile did not make a new key")
peer.send(f"/msg {peer_jid} {jid} it is me, on a new laptop")

# 5. The warning cannot be missed: a window of its own, naming the contact,
# the key verified before and the new one; a banner; no "verified" rating.
warning = dialog_window(f"Warning: {peer_jid} has a new security key")
wait_for("the warning's heading", named("label", f"The security key of {peer_jid} is not the one you verified"), warning)
wait_for("the key verified before", named("label", old_fingerprint), warning)
wait_for("the new key", named("label", new_fingerprint), warning)
wait_for("what it may mean", lambda node: node.getRoleName() == "label" and "new phone or computer" in node.name and "between you" in node.name, warning)
wait_for("what to do", lambda node: node.getRoleName() == "label" and node.name.startswith("What to do:"), warning)
verify = wait_for("the verify button", button("Verify the new key…", f"Compare the new key with {peer_jid}"), warning)
if not focused(verify):
    fail("the warning's default button does not have the focus")
wait_for("the rating of the changed key", named("label", "Private, not verified"), main)
wait_for("the reason: the key changed", lambda node: node.getRoleName() == "label" and "security key changed since you verified it" in node.name, main)
wait_for("the banner", lambda node: node.getRoleName() == "label" and node.name.startswith(f"Warning: the security key of {peer_jid} changed"), main)
if find(named("label", "Private and verified"), main) is not None:
    fail("the rating still says verified for a key nobody verified")
screenshot("key-changed-warning")
messages = wait_for("the messages view", named("text", "Messages"), main)
wait_for_message_text(messages, f"{peer_jid}: it is me, on a new laptop")

# 6. From the warning, the new key compared by hand: verified again.
press(verify)
compare_and_confirm(new_fingerprint, "compare-new-key")
wait_for("the rating once the new key is verified", named("label", "Private and verified"), main)
wait_gone("the banner", lambda node: node.getRoleName() == "label" and node.name.startswith("Warning: the security key of"), main)
screenshot("new-key-verified")

# 7. The contact's policy: ended, then "never" chosen in the conversation;
# the next message leaves unencrypted, as the setting explains.
press(wait_for("the End button", button("End private conversation"), main))
peer.expect("the conversation finished", lambda event: event["event"] == "otr" and event.get("state") == "finished")
wait_for("the rating once ended", named("label", "Not private"), main)
policy = wait_for("the policy expander", lambda node: node.name == "Encryption setting for this contact" and node.getRoleName() != "label", main)
click(policy, "Burrow")

wait_for("the default policy chosen", lambda node: node.getRoleName() == "radio button" and node.name == "Always encrypt (recommended)" and node.getState().contains(window.pyatspi.STATE_CHECKED), main)
wait_for("the explanation of never", lambda node: node.getRoleName() == "label" and node.name.startswith("Messages always go unencrypted"), main)
click(wait_for("the never choice", named("radio button", "Never encrypt"), main), "Burrow")
wait_for_message_text(messages, "Encryption setting for this contact: Never encrypt")
screenshot("policy-never")
entry = wait_for("the message entry", named("text", "Message to send"), main)
click(entry, "Burrow")
type_text("this one is not encrypted")
key("Return")
got = peer.expect("the unencrypted message", lambda event: event["event"] == "message")
if got.get("text") != "this one is not encrypted" or got.get("encrypted") is not False:
    fail(f"under never the peer got {got}")
screenshot("sent-unencrypted")
peer.stop()
print("ok", flush=True)
