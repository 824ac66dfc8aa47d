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
usage: burrow [--ui text] [--json] [--profile DIR] [--strict]

  --ui text      the text front end (commands on stdin, events on stdout)
  --json         with --ui text: one JSON object per event
  --profile DIR  keep the store and Tor state in DIR (default: $XDG_CONFIG_HOME/burrow)
  --strict       refuse to run unless Landlock is fully enforced in every process
";

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub json: bool,
    pub strict: bool,
    pub profile: PathBuf,
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
    let mut arguments = arguments.into_iter().peekable();
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--ui" => match arguments.next().as_deref() {
                Some("text") => {}
                Some("gtk") => return Err("the GTK front end is not part of this build yet; use --ui text".into()),
                _ => return Err("--ui takes `text`".into()),
            },
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
