//! Finding the three child binaries: beside `burrow` (a build tree or a
//! relocated install), else in `/usr/lib/burrow` (the Debian layout).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ipc::Role;

pub const SYSTEM_DIRECTORY: &str = "/usr/lib/burrow";

#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    #[error("cannot tell where the burrow binary is: {0}")]
    OwnPath(std::io::Error),
    #[error("cannot find {binary}: looked beside {beside} and in {SYSTEM_DIRECTORY}. Reinstall Burrow.")]
    Missing { binary: &'static str, beside: String },
    #[error("{0} is not an executable file. Reinstall Burrow.")]
    NotExecutable(String),
}

/// The paths of the three children, all from the same directory so that a
/// half-upgraded install never mixes versions.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub broker: PathBuf,
    pub directory: PathBuf,
}

impl Binaries {
    pub fn locate() -> Result<Self, LocateError> {
        let own = std::env::current_exe().map_err(LocateError::OwnPath)?;
        let beside = own.parent().map(Path::to_path_buf).unwrap_or_default();
        let directory = if has_all_children(&beside) {
            beside.clone()
        } else if has_all_children(Path::new(SYSTEM_DIRECTORY)) {
            PathBuf::from(SYSTEM_DIRECTORY)
        } else {
            // Name the first missing binary, as found beside us.
            let directory = if beside.join(Role::Net.binary()).exists()
                || beside.join(Role::Crypto.binary()).exists()
                || beside.join(Role::Ui.binary()).exists()
            {
                beside.clone()
            } else {
                PathBuf::from(SYSTEM_DIRECTORY)
            };
            for role in Role::CHILDREN {
                let path = directory.join(role.binary());
                if !path.exists() {
                    return Err(LocateError::Missing {
                        binary: role.binary(),
                        beside: beside.display().to_string(),
                    });
                }
                if !is_executable(&path) {
                    return Err(LocateError::NotExecutable(path.display().to_string()));
                }
            }
            directory
        };
        Ok(Self { broker: own, directory })
    }

    pub fn child(&self, role: Role) -> PathBuf {
        match role {
            Role::Broker => self.broker.clone(),
            _ => self.directory.join(role.binary()),
        }
    }
}

fn is_executable(path: &Path) -> bool {
    path.metadata().map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

fn has_all_children(directory: &Path) -> bool {
    Role::CHILDREN.iter().all(|role| is_executable(&directory.join(role.binary())))
}
