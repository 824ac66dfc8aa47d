#!/usr/bin/python3
"""Drives Burrow's GTK window as a person would, from first run to an account
online: keys are typed with xdotool into the focused widget (XTest, the same
path a keyboard takes), buttons are pressed and the screen is read through the
accessibility bus (AT-SPI, as a screen reader does). A screenshot of the whole
screen is saved at every step.

Usage: first_run.py ARTIFACTS_DIR PASSPHRASE JID PASSWORD SERVER CA_PATH
Exit status 0 when every step was seen on screen; otherwise the step that
failed, on stderr."""

import subprocess
import sys
import time

import pyatspi

STEP_TIMEOUT = 60.0
POLL = 0.2

artifacts, passphrase, jid, password, server, ca_path = sys.argv[1:7]
shots = 0


def fail(problem):
    screenshot("failed")
    sys.exit(f"first_run.py: {problem}")


def screenshot(step):
    global shots
    shots += 1
    path = f"{artifacts}/{shots:02d}-{step}.png"
    subprocess.run(["import", "-window", "root", path], check=True)
    print(f"screenshot {path}", flush=True)


def visible(node):
    # GTK 4.8 reports SHOWING for windows only, and VISIBLE for the hidden
    # pages of a stack too: what is on screen is told apart by what exists.
    try:
        return node.getState().contains(pyatspi.STATE_VISIBLE)
    except Exception:
        return False


def find(predicate, root=None):
    """The first visible node of the desktop (or `root`) that matches."""
    roots = [root] if root else [pyatspi.Registry.getDesktop(0)]
    stack = list(roots)
    seen = 0
    while stack and seen < 20000:
        node = stack.pop()
        seen += 1
        try:
            if node is not roots[0] and predicate(node) and visible(node):
                return node
            stack.extend(node.getChildAtIndex(index) for index in range(node.childCount - 1, -1, -1))
        except Exception:
            continue
    return None


def wait_for(what, predicate, root=None):
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline:
        node = find(predicate, root)
        if node is not None:
            return node
        time.sleep(POLL)
    fail(f"never saw {what}")


def named(role, name):
    return lambda node: node.getRoleName() == role and node.name == name


def frame(title):
    return wait_for(f"the window {title!r}", named("frame", title))


def focus_window(title):
    # No window manager runs under Xvfb: give the window the keyboard focus
    # the way one would.
    found = subprocess.run(["xdotool", "search", "--name", f"^{title}$"], capture_output=True, text=True)
    windows = found.stdout.split()
    if not windows:
        fail(f"xdotool found no window {title!r}")
    subprocess.run(["xdotool", "windowfocus", "--sync", windows[-1]], check=True)


def type_text(text):
    subprocess.run(["xdotool", "type", "--delay", "40", "--", text], check=True)


def key(name):
    subprocess.run(["xdotool", "key", name], check=True)


def text_of(node):
    text = node.queryText()
    return text.getText(0, text.characterCount)


def focused(node):
    return node.getState().contains(pyatspi.STATE_FOCUSED)


def press(node):
    action = node.queryAction()
    for index in range(action.nActions):
        if action.getName(index) == "click":
            return action.doAction(index)
    return action.doAction(0)


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
print("ok", flush=True)
