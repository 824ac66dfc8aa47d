#!/usr/bin/python3
"""The keyboard audit, on a window already unlocked (run after unlock.py,
on the same Burrow): every control of the main page is reached by Tab;
a conversation is opened and its controls reached by keyboard alone; a
window opened with Return closes with Escape. Nothing here clicks.

Usage: keyboard.py ARTIFACTS_DIR SHOTS_FROM PEER_JID"""

import sys
import time

import pyatspi

import window
from window import fail, find, focus_window, frame, key, named, screenshot, type_text, wait_for, POLL

artifacts, shots_from, peer_jid = sys.argv[1:4]
window.artifacts = artifacts
window.shots = int(shots_from)

INTERACTIVE = ("push button", "text", "password text", "toggle button", "combo box", "check box", "page tab", "list item")


def focused_node(root):
    return find(lambda node: node.getState().contains(pyatspi.STATE_FOCUSED), root)


def describe(node):
    return (node.getRoleName(), node.name) if node is not None else (None, None)


def place(node):
    try:
        return tuple(node.queryComponent().getExtents(pyatspi.WINDOW_COORDS))
    except Exception:
        return None


def tab_chain(root, limit=80):
    """What Tab gives the focus to, in order, once round (or `limit` presses).
    Two rows may look alike, so a node is known again by its place too."""
    chain = []
    places = []
    for _ in range(limit):
        key("Tab")
        time.sleep(0.15)
        node = focused_node(root)
        now = (describe(node), place(node) if node is not None else None)
        if places and now == places[0]:
            break
        places.append(now)
        chain.append(now[0])
    return chain


def tab_to(root, role, name, limit=80):
    for _ in range(limit):
        if describe(focused_node(root)) == (role, name):
            return
        key("Tab")
        time.sleep(0.15)
    fail(f"Tab never reached {role} {name!r}")


def require(chain, wanted, where):
    missing = [item for item in wanted if item not in chain]
    if missing:
        fail(f"not reachable by Tab in {where}: {missing}; the chain was {chain}")


main = frame("Burrow")
focus_window("Burrow")
chain = tab_chain(main)
print(f"main page's Tab chain: {chain}", flush=True)
require(chain, [("push button", "Connect"), ("push button", "Add account…"), ("push button", "Import from another client…"),
                ("push button", "Change passphrase…"), ("check box", "Larger text"), ("text", "A contact's address"), ("push button", "Add contact"),
                ("push button", "Write")], "the main page")
screenshot("keyboard-main")

# A window opened from the keyboard closes with Escape.
tab_to(main, "push button", "Import from another client…")
key("Return")
frame("Import from another client")
screenshot("keyboard-import-open")
focus_window("Import from another client")
key("Escape")
deadline = time.monotonic() + 10
while find(named("frame", "Import from another client")) is not None:
    if time.monotonic() > deadline:
        fail("Escape did not close the import window")
    time.sleep(POLL)

# A conversation by keyboard alone: the address, Enter, and the focus is in
# the message field; Tab then reaches every control of the conversation.
focus_window("Burrow")
tab_to(main, "text", "A contact's address")
type_text(peer_jid)
key("Return")
wait_for("the conversation's message field focused", lambda node: node.getRoleName() == "text" and node.getState().contains(pyatspi.STATE_FOCUSED) and "message" in node.name.lower(), main)
chain = tab_chain(main)
print(f"conversation's Tab chain: {chain}", flush=True)
require(chain, [("push button", "Start private conversation"), ("push button", "End private conversation")], "a conversation")
if not any(role in ("toggle button", "push button") and name == "Fingerprints and verification" for role, name in chain):
    fail(f"the verification expander is not reachable by Tab: {chain}")
screenshot("keyboard-conversation")
print("ok", flush=True)
