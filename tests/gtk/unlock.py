#!/usr/bin/python3
"""Burrow started again on the profile that first_run.py made: the unlock
page, a wrong passphrase refused in plain words, the right one (with the
progress bar while the key is derived), and the account of the first run
listed again, offline; Connect brings it online, Disconnect takes it offline.

Usage: unlock.py ARTIFACTS_DIR PASSPHRASE JID"""

import sys

import pyatspi

import window
from window import fail, focus_window, focused, frame, key, named, press, screenshot, type_text, wait_for

artifacts, passphrase, jid = sys.argv[1:4]
window.artifacts = artifacts
window.shots = 100

main = frame("Burrow")
wait_for("the unlock heading", named("label", "Unlock Burrow"), main)
field = wait_for("the passphrase field", named("password text", "Passphrase"), main)
screenshot("unlock")
focus_window("Burrow")
if not focused(field):
    fail("the passphrase field does not have the keyboard focus")
type_text("not the passphrase")
key("Return")
explanation = "Type your passphrase to open your accounts."


def is_refusal(node):
    if node.getRoleName() != "label" or node.name == explanation or "passphrase" not in node.name.lower():
        return False
    return node.parent is None or node.parent.getRoleName() not in ("push button", "progress bar")


refusal = wait_for("the refusal of a wrong passphrase", is_refusal, main)
print(f"wrong passphrase: {refusal.name}", flush=True)
screenshot("wrong-passphrase")
if not field.getState().contains(pyatspi.STATE_SENSITIVE) or not focused(field):
    fail("the passphrase field is not ready for typing again after the refusal")
type_text(passphrase)
key("Return")
screenshot("deriving-key-again")
wait_for("the account of the first run", named("label", jid), main)
connect = wait_for("its Connect button", named("push button", "Connect"), main)
screenshot("unlocked")
press(connect)
wait_for("the account online", lambda node: node.getRoleName() == "label" and node.name.startswith("online"), main)
press(wait_for("the Disconnect button", named("push button", "Disconnect"), main))
wait_for("the account offline", lambda node: node.getRoleName() == "label" and node.name.startswith("offline"), main)
wait_for("the Connect button again", named("push button", "Connect"), main)
screenshot("disconnected")
print("ok", flush=True)
