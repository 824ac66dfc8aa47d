//! The command line the launcher gives every child. Children are started by
//! `burrow`, never by hand, so this is a fixed internal format.

use std::path::PathBuf;

#[derive(Debug, Default)]
pub struct ChildArgs {
    pub profile: Option<PathBuf>,
    pub strict: bool,
    /// `--sandbox-self-test ACTION [ARGUMENT]`: run one action under the
    /// real policy instead of serving IPC.
    pub self_test: Option<(String, Option<String>)>,
    /// Every other `--flag` and `--key value`, for the process to read.
    pub flags: Vec<String>,
}

impl ChildArgs {
    pub fn from_env() -> Result<Self, String> {
        Self::parse(std::env::args().skip(1))
    }

    pub fn parse(arguments: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut parsed = ChildArgs::default();
        let mut arguments = arguments.into_iter().peekable();
        while let Some(argument) = arguments.next() {
            match argument.as_str() {
                "--profile" => {
                    parsed.profile =
                        Some(arguments.next().ok_or("--profile needs a directory")?.into())
                }
                "--strict" => parsed.strict = true,
                "--sandbox-self-test" => {
                    let action = arguments.next().ok_or("--sandbox-self-test needs an action")?;
                    let argument = arguments.next_if(|next| !next.starts_with("--"));
                    parsed.self_test = Some((action, argument));
                }
                _ => parsed.flags.push(argument),
            }
        }
        Ok(parsed)
    }

    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|given| given == flag)
    }

    /// The profile directory, which must exist: the launcher creates it.
    pub fn profile_dir(&self) -> Result<PathBuf, String> {
        let profile = self.profile.clone().ok_or("no --profile given")?;
        if !profile.is_dir() {
            return Err(format!("profile directory {} does not exist", profile.display()));
        }
        Ok(profile)
    }
}
