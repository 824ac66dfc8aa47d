#!/usr/bin/python3
"""Burrow started again on the profile that first_run.py made: the unlock
page, a wrong passphrase refused in plain words, the right one (with the
progress bar while the key is derived), and the account of the first run
listed again, offline; Connect brings it online, Disconnect takes it offline.

With IMPORT_DIR and NEW_PASSPHRASE: then Pidgin's files in IMPORT_DIR are
imported through the import window, whose report lists what came in and
what was left out, and the passphrase is changed to NEW_PASSPHRASE.

Usage: unlock.py ARTIFACTS_DIR SHOTS_FROM PASSPHRASE JID [IMPORT_DIR NEW_PASSPHRASE]"""

import sys

import pyatspi

import window
from window import click, fail, focus_window, focused, frame, key, named, press, screenshot, type_text, wait_for

artifacts, shots_from, passphrase, jid = sys.argv[1:5]
import_dir, new_passphrase = (sys.argv[5:7] + [None, None])[:2]
window.artifacts = artifacts
window.shots = int(shots_from)

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

if import_dir:
    # Import: Pidgin is the first client offered; its folder is typed.
    press(wait_for("the Import button", named("push button", "Import from another client…"), main))
    importing = frame("Import from another client")
    focus_window("Import from another client")
    folder = wait_for("the folder field", named("text", "The client's folder; empty for its usual place"), importing)
    click(folder, "Import from another client")
    type_text(import_dir)
    screenshot("import-chosen")
    key("Return")
    report = wait_for("the import's report", lambda node: node.getRoleName() == "label" and node.name.startswith("From Pidgin:"), importing)
    print(f"import report: {report.name}", flush=True)
    if "1 account(s)" not in report.name or "1 OTR key(s)" not in report.name or "Left out:" not in report.name:
        fail(f"the report does not say what came in and what was left out: {report.name!r}")
    screenshot("imported")
    press(wait_for("the Close button", named("push button", "Close"), importing))
    wait_for("the imported account", named("label", "alice@example.org"), main)

if new_passphrase:
    press(wait_for("the Change passphrase button", named("push button", "Change passphrase…"), main))
    changing = frame("Change the passphrase")
    focus_window("Change the passphrase")
    new = wait_for("the new passphrase field", named("password text", "New passphrase"), changing)
    if not focused(new):
        fail("the new passphrase field does not have the keyboard focus")
    type_text(new_passphrase)
    key("Tab")
    repeat = wait_for("the repeat field", named("password text", "Repeat the new passphrase"), changing)
    if not focused(repeat):
        fail("Tab did not move to the repeat field")
    type_text(new_passphrase)
    screenshot("passphrase-change")
    key("Return")
    wait_for("the change confirmed", named("label", "The passphrase was changed."), main)
    screenshot("passphrase-changed")
print("ok", flush=True)
