"""What the GTK tests drive Burrow's window with: keys typed with xdotool
into the focused widget (XTest, the path a keyboard takes), mouse clicks at a
widget's place on screen, buttons pressed and the screen read through the
accessibility bus (AT-SPI, as a screen reader does), a screenshot of the
whole screen at each step, and a text-mode Burrow to talk to."""

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

# Where screenshots go (set by the script that drives) and what to stop
# when a step fails.
artifacts = "."
shots = 0
on_failure = []


def fail(problem):
    screenshot("failed")
    for stop in on_failure:
        stop()
    sys.exit(f"{sys.argv[0]}: {problem}")


class TextPeer:
    """A Burrow with the text front end: commands in, JSON events out."""

    def __init__(self, burrow, profile):
        environment = {name: os.environ[name] for name in ("PATH", "HOME", "BURROW_ACCOUNT_SPACING", "LANG") if name in os.environ}
        self.process = subprocess.Popen(
            [burrow, "--ui", "text", "--json", "--profile", profile],
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


