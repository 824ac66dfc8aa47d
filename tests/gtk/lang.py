#!/usr/bin/python3
"""Burrow's first-run page in the language the environment asked for, as a
screen reader reads it over AT-SPI: the heading, the explanation, both
passphrase fields, the two buttons (GTK 4.8 names a button by its label); then two passphrases that differ are
typed, and the refusal is read in the same language. A screenshot of the page
as it first shows is saved, and one of the refusal.

Usage: lang.py ARTIFACTS_DIR LANGUAGE RUN FIRST_SHOT
  LANGUAGE: en, es or sv, the one expected; RUN names the screenshots
  (FIRST_SHOT-RUN-first-run.png, …), FIRST_SHOT numbers them.
Exit status 0 when every name was seen on screen; otherwise what was missing,
on stderr."""

import sys

import window
from window import fail, focus_window, focused, frame, key, named, screenshot, type_text, wait_for

# What each language's speaker reads: the translations in po/LL.po, written
# out again here so that a catalog that is not loaded, or loaded wrong,
# shows as a failure.
EXPECTED = {
    "en": {
        "heading": "Welcome to Burrow",
        "explanation": "Choose a passphrase. It protects your accounts, passwords and OTR keys on this computer. Nothing you read or write is kept.",
        "passphrase": "Passphrase",
        "repeat": "Repeat the passphrase",
        "create": "Create",
        "without": "Continue without a passphrase…",
        "differ": "The two passphrases differ. Type them again.",
    },
    "es": {
        "heading": "Te damos la bienvenida a Burrow",
        "explanation": "Elige una frase de contraseña. Protege tus cuentas, contraseñas y claves OTR en esta computadora. No se guarda nada de lo que lees o escribes.",
        "passphrase": "Frase de contraseña",
        "repeat": "Repite la frase de contraseña",
        "create": "Crear",
        "without": "Seguir sin frase de contraseña…",
        "differ": "Las dos frases de contraseña no coinciden. Escríbelas de nuevo.",
    },
    "sv": {
        "heading": "Välkommen till Burrow",
        "explanation": "Välj en lösenfras. Den skyddar dina konton, lösenord och OTR-nycklar på den här datorn. Inget av det du läser eller skriver sparas.",
        "passphrase": "Lösenfras",
        "repeat": "Upprepa lösenfrasen",
        "create": "Skapa",
        "without": "Fortsätt utan lösenfras…",
        "differ": "Lösenfraserna är olika. Skriv dem igen.",
    },
}

artifacts, language, run, first_shot = sys.argv[1:5]
if language not in EXPECTED:
    sys.exit(f"{sys.argv[0]}: no expected names for {language!r}")
words = EXPECTED[language]
window.artifacts = artifacts
window.shots = int(first_shot)

main = frame("Burrow")
wait_for(f"the heading {words['heading']!r}", named("label", words["heading"]), main)
wait_for("the explanation", named("label", words["explanation"]), main)
passphrase = wait_for(f"the field {words['passphrase']!r}", named("password text", words["passphrase"]), main)
wait_for(f"the field {words['repeat']!r}", named("password text", words["repeat"]), main)
wait_for(f"the button {words['create']!r}", named("push button", words["create"]), main)
wait_for(f"the button {words['without']!r}", named("push button", words["without"]), main)
screenshot(f"{run}-first-run")

# A string made while Burrow runs, not only when the page is built.
focus_window("Burrow")
if not focused(passphrase):
    fail("the passphrase field does not have the keyboard focus")
type_text("one passphrase")
key("Tab")
type_text("another one")
key("Return")
wait_for(f"the refusal {words['differ']!r}", named("label", words["differ"]), main)
screenshot(f"{run}-passphrases-differ")
print("ok", flush=True)
