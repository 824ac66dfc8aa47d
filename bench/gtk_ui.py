#!/usr/bin/python3
"""What bench/gtk-ui.sh (tests/benches/gtk_ui.rs) asks of Burrow's window,
driven as tests/gtk does it: keys through xdotool, the screen read over AT-SPI.

  gtk_ui.py unlock PASSPHRASE JID     the unlock page: the passphrase, Enter,
                                      then the account's Connect button
  gtk_ui.py count PEER_JID PREFIX     how many lines "PEER_JID: PREFIX…" the
                                      open conversation's view holds
Prints "ok" (unlock) or "lines N" (count); exits non-zero on failure."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "gtk"))

import pyatspi  # noqa: E402

import window  # noqa: E402
from window import fail, focus_window, focused, frame, key, named, press, text_of, type_text, wait_for  # noqa: E402

window.artifacts = os.environ.get("BENCH_ARTIFACTS", "/tmp")


def find_outside_lists(predicate, root):
    """window.find, but not into list boxes: a roster of thousands of rows
    would use up its budget of nodes before the conversation is reached."""
    stack = [root]
    seen = 0
    while stack and seen < 20000:
        node = stack.pop()
        seen += 1
        try:
            if node is not root and predicate(node):
                return node
            if node.getRoleName() in ("list box", "list"):
                continue
            stack.extend(node.getChildAtIndex(index) for index in range(node.childCount - 1, -1, -1))
        except Exception:
            continue
    return None


command = sys.argv[1]
main = frame("Burrow")
if command == "unlock":
    passphrase, jid = sys.argv[2:4]
    field = wait_for("the passphrase field", named("password text", "Passphrase"), main)
    focus_window("Burrow")
    if not focused(field):
        fail("the passphrase field does not have the keyboard focus")
    type_text(passphrase)
    key("Return")
    wait_for("the account", named("label", jid), main)
    press(wait_for("its Connect button", named("push button", "Connect"), main))
    print("ok", flush=True)
elif command == "count":
    peer, prefix = sys.argv[2:4]
    view = find_outside_lists(lambda node: node.getRoleName() == "text" and node.name == "Messages", main)
    if view is None:
        fail("no conversation view on screen")
    wanted = f"{peer}: {prefix}"
    print(f"lines {sum(1 for line in text_of(view).splitlines() if line.startswith(wanted))}", flush=True)
else:
    sys.exit(f"unknown command {command!r}")
