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

Usage: first_run.py ARTIFACTS_DIR PASSPHRASE JID PASSWORD SERVER CA_PATH
                    PEER_JID PEER_PASSWORD PEER_PROFILE BURROW
Exit status 0 when every step was seen on screen; otherwise the step that
failed, on stderr."""

import json
import os
import queue
import subprocess
import sys
import threading
import time

import pyatspi

STEP_TIMEOUT = 60.0
POLL = 0.2

artifacts, passphrase, jid, password, server, ca_path, peer_jid, peer_password, peer_profile, burrow = sys.argv[1:11]
shots = 0
peer = None


def fail(problem):
    screenshot("failed")
    if peer is not None:
        peer.stop()
    sys.exit(f"first_run.py: {problem}")


class TextPeer:
    """A Burrow with the text front end: commands in, JSON events out."""

    def __init__(self):
        environment = {name: os.environ[name] for name in ("PATH", "HOME", "BURROW_ACCOUNT_SPACING", "LANG") if name in os.environ}
        self.process = subprocess.Popen(
            [burrow, "--ui", "text", "--json", "--profile", peer_profile],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=environment)
        self.events = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.events.put(json.loads(line))

    def send(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def expect(self, what, predicate):
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if event.get("event") == "error":
                fail(f"the peer reported an error while waiting for {what}: {event}")
            if predicate(event):
                return event
        fail(f"the peer never saw {what}")

    def stop(self):
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


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
    found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", f"^{title}$"], capture_output=True, text=True)
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


def click(node, title):
    """A mouse click in the middle of `node`, as a person would make."""
    x, y, width, height = node.queryComponent().getExtents(pyatspi.WINDOW_COORDS)
    found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", f"^{title}$", "getwindowgeometry", "--shell"], capture_output=True, text=True)
    geometry = dict(line.split("=", 1) for line in found.stdout.split() if "=" in line)
    left, top = int(geometry.get("X", 0)), int(geometry.get("Y", 0))
    print(f"click {node.name!r}: extents {x},{y} {width}x{height} in a window at {left},{top}", flush=True)
    subprocess.run(["xdotool", "mousemove", "--sync", str(left + x + width // 2), str(top + y + height // 2), "click", "1"], check=True)


def focused(node, within=3.0):
    """Whether `node` has (or gets, within a few seconds) the keyboard focus."""
    deadline = time.monotonic() + within
    while not node.getState().contains(pyatspi.STATE_FOCUSED):
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)
    return True


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

# 6. The peer, a second Burrow in text mode, comes online.
peer = TextPeer()
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
peer.stop()
print("ok", flush=True)
