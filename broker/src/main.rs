//! `burrow`: starts Burrow's confined processes and routes typed IPC between
//! them. See README.md for the two processes this binary runs as.
#![forbid(unsafe_code)]

mod launcher;
mod locate;
mod policy;
mod router;
mod routing;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage: burrow [--ui gtk|text] [--json] [--profile DIR] [--strict]

  --ui gtk       the GTK window (the default when a display is present)
  --ui text      the text front end (commands on stdin, events on stdout;
                 the default without a display, or with --json)
  --json         with --ui text: one JSON object per event
  --profile DIR  keep the store and Tor state in DIR (default: $XDG_CONFIG_HOME/burrow)
  --strict       refuse to run unless Landlock is fully enforced in every process
";

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub ui: FrontEnd,
    pub json: bool,
    pub strict: bool,
    pub profile: PathBuf,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FrontEnd {
    #[default]
    Text,
    Gtk,
}

/// The GTK window when a display is present, the text front end otherwise;
/// `--ui` overrides, and `--json` is the text front end's. A display is
/// only a variable here: a GTK front end that cannot open it says so.
fn choose_front_end(requested: Option<FrontEnd>, json: bool, display_present: bool) -> Result<FrontEnd, String> {
    match (requested, json) {
        (Some(FrontEnd::Gtk), true) => Err("--json is for the text front end; use --ui text --json".into()),
        (Some(front_end), _) => Ok(front_end),
        (None, true) => Ok(FrontEnd::Text),
        (None, false) if display_present => Ok(FrontEnd::Gtk),
        (None, false) => Ok(FrontEnd::Text),
    }
}

fn display_present() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
}

enum Mode {
    Launch(Options),
    /// Started by the launcher: the broker proper.
    Broker(Options),
    /// `--internal-broker --sandbox-self-test ACTION [ARG]`.
    SelfTest(Options, String, Option<String>),
    Help,
    Version,
}

fn parse(arguments: Vec<String>) -> Result<Mode, String> {
    let mut options = Options::default();
    let mut profile = None;
    let mut internal = false;
    let mut self_test = None;
    let mut requested_ui = None;
    let mut arguments = arguments.into_iter().peekable();
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--ui" => {
                requested_ui = Some(match arguments.next().as_deref() {
                    Some("text") => FrontEnd::Text,
                    Some("gtk") => FrontEnd::Gtk,
                    _ => return Err("--ui takes `gtk` or `text`".into()),
                })
            }
            "--json" => options.json = true,
            "--strict" => options.strict = true,
            "--profile" => profile = Some(PathBuf::from(arguments.next().ok_or("--profile needs a directory")?)),
            "--internal-broker" => internal = true,
            "--sandbox-self-test" => {
                let action = arguments.next().ok_or("--sandbox-self-test needs an action")?;
                self_test = Some((action, arguments.next_if(|next| !next.starts_with("--"))));
            }
            "--help" | "-h" => return Ok(Mode::Help),
            "--version" | "-V" => return Ok(Mode::Version),
            other => return Err(format!("unknown option {other}")),
        }
    }
    options.ui = choose_front_end(requested_ui, options.json, display_present())?;
    options.profile = match profile {
        Some(profile) => profile,
        None => default_profile()?,
    };
    Ok(match (internal, self_test) {
        (true, Some((action, argument))) => Mode::SelfTest(options, action, argument),
        (true, None) => Mode::Broker(options),
        (false, Some(_)) => return Err("--sandbox-self-test is for the broker (--internal-broker)".into()),
        (false, None) => Mode::Launch(options),
    })
}

fn default_profile() -> Result<PathBuf, String> {
    if let Some(config) = std::env::var_os("XDG_CONFIG_HOME").filter(|value| !value.is_empty()) {
        return Ok(PathBuf::from(config).join("burrow"));
    }
    let home = std::env::var_os("HOME").filter(|value| !value.is_empty()).ok_or("neither XDG_CONFIG_HOME nor HOME is set; use --profile DIR")?;
    Ok(PathBuf::from(home).join(".config").join("burrow"))
}

fn main() -> ExitCode {
    let mode = match parse(std::env::args().skip(1).collect()) {
        Ok(mode) => mode,
        Err(problem) => {
            eprintln!("burrow: {problem}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match mode {
        Mode::Help => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Mode::Version => {
            println!("burrow {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Mode::Launch(options) => launcher::run(options),
        Mode::Broker(options) => router::run(options),
        Mode::SelfTest(options, action, argument) => match confine::confine(&policy::broker(options.strict)) {
            Ok(_) => confine::selftest::run(&action, argument.as_deref()),
            Err(error) => {
                eprintln!("burrow: {error}");
                ExitCode::FAILURE
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_display_means_the_gtk_window_unless_text_is_asked_for() {
        assert_eq!(choose_front_end(None, false, true), Ok(FrontEnd::Gtk));
        assert_eq!(choose_front_end(None, false, false), Ok(FrontEnd::Text));
        assert_eq!(choose_front_end(Some(FrontEnd::Text), false, true), Ok(FrontEnd::Text));
        assert_eq!(choose_front_end(None, true, true), Ok(FrontEnd::Text));
        assert_eq!(choose_front_end(Some(FrontEnd::Gtk), false, false), Ok(FrontEnd::Gtk));
        assert!(choose_front_end(Some(FrontEnd::Gtk), true, true).is_err());
    }
}
