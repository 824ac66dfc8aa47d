#!/usr/bin/python3
"""Drives Burrow's GTK window through creating a new account, as a person
would: first run, a passphrase, "Create a new account instead…" from the
add-account form, another server's domain, address and certificate typed,
"Create account", the server's own form (a required full name) answered
with Enter, and the new account, with its random name, online.

Usage: register.py ARTIFACTS_DIR PASSPHRASE DOMAIN SERVER CA_PATH FULL_NAME
Prints the new account's address and "ok" when every step was seen."""

import re
import sys

import window
from window import fail, focus_window, focused, frame, key, named, press, screenshot, text_of, type_text, wait_for

artifacts, passphrase, domain, server, ca_path, full_name = sys.argv[1:7]
window.artifacts = artifacts


def button(*names):
    """A push button by its accessible name or its visible label."""
    return lambda node: node.getRoleName() == "push button" and node.name in names

main = frame("Burrow")
first = wait_for("the passphrase field", named("password text", "Passphrase"), main)
focus_window("Burrow")
if not focused(first):
    fail("the passphrase field does not have the keyboard focus")
type_text(passphrase)
key("Tab")
type_text(passphrase)
key("Return")

# The add-account form opens on first run; it offers to create one instead.
form = frame("Add an account")
instead = wait_for("the create-instead button", button("Create a new account on a server, with a random name and a strong password", "Create a new account instead…"), form)
screenshot("add-account")
press(instead)

# The new-account window says what is made, lists the known servers.
create = frame("Create a new account")
wait_for("the explanation", lambda node: node.getRoleName() == "label" and "random user name and a strong random password" in node.name, create)
servers = wait_for("the server list", named("combo box", "The server on which to create the account"), create)
screenshot("create-account")
focus_window("Create a new account")
key("Tab")
other = wait_for("the other server's field", named("text", "Another server's domain, instead of one from the list"), create)
if not focused(other):
    fail("Tab from the server list did not reach the other server's field")
type_text(domain)
key("Tab")
type_text(server)
key("Tab")
type_text(ca_path)
fields = {
    "Another server's domain, instead of one from the list": domain,
    "Server address and port, if not the domain's own": server,
    "A certificate file to trust for this server only": ca_path,
}
for name, wanted in fields.items():
    got = text_of(wait_for(f"the field {name!r}", named("text", name), create))
    if got != wanted:
        fail(f"the field {name!r} holds {got!r}, not what was typed")
screenshot("server-chosen")
press(wait_for("the Create account button", button("Create a new account on this server", "Create account"), create))

# The server asks for a full name: its form, as plain text and a field.
wait_for("the server's question", named("label", f"{domain} asks for this before it creates the account:"), create)
name_field = wait_for("the full-name field", named("text", "Full Name (required)"), create)
screenshot("server-form")
focus_window("Create a new account")
if not focused(name_field):
    fail("the server's first field does not have the keyboard focus")
type_text(full_name)
key("Return")

# The new account: a random name, listed, and online by itself.
pattern = re.compile(r"^[a-z][a-z0-9]{11}@" + re.escape(domain) + "$")
# The list is rebuilt as the account's state changes: names are read at once.
account = wait_for("the new account in the list", lambda node: node.getRoleName() == "label" and pattern.match(node.name or ""), main).name
status = wait_for("the new account online", lambda node: node.getRoleName() == "label" and node.name.startswith("online"), main).name
screenshot("registered-online")
print(f"account: {account}", flush=True)
print(f"account line: {status}", flush=True)
print("ok", flush=True)
