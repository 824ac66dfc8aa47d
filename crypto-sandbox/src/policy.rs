//! The crypto process's confinement: the policy, all of it.
//!
//! It holds every secret Burrow has, so it gets no channel to the world but
//! its IPC socket: no socket it could connect anywhere, no exec, no ptrace, no fork, no
//! network namespace shared with the host, and files only beneath its own
//! directory of the profile.

use confine::args::ChildArgs;
use confine::seccomp::{any, runtime_baseline};
use confine::{Filesystem, Policy, Seccomp, Tcp};

pub fn policy(args: &ChildArgs) -> Result<Policy, String> {
    let own_directory = confine::profile_subdirectory(&args.profile_dir()?, ipc::Role::Crypto);
    Ok(Policy {
        isolate_network: true,
        filesystem: Filesystem {
            read_write: vec![own_directory],
            ..Filesystem::default()
        },
        tcp: Tcp::Deny,
        scope_signals: true,
        scope_abstract_unix_sockets: true,
        seccomp: Seccomp::AllowList { allow: allowed_syscalls(), fail_with: Vec::new() },
        strict: args.strict,
    })
}

/// No `socket`, `connect`, `execve`, `clone`, `ptrace`: the store lives in
/// files beneath the profile, and nothing else is reachable. (The runtime
/// baseline's `socketpair(AF_UNIX)` makes two connected ends that reach
/// nothing outside the process.)
fn allowed_syscalls() -> Vec<confine::Rule> {
    let mut allow = runtime_baseline();
    allow.extend(
        [
            // the store's files (Landlock decides which)
            libc::SYS_openat,
            libc::SYS_newfstatat,
            libc::SYS_statx,
            libc::SYS_getdents64,
            libc::SYS_mkdirat,
            libc::SYS_unlinkat,
            libc::SYS_renameat2,
            libc::SYS_fsync,
            libc::SYS_fdatasync,
            libc::SYS_ftruncate,
            libc::SYS_pread64,
            libc::SYS_pwrite64,
        ]
        .into_iter()
        .map(any),
    );
    allow
}
