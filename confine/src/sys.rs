//! The few system calls Burrow makes that Rust cannot make safely: the only
//! `unsafe` code in the project. Each block says why it is sound.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Command;

use rustix::process::{Resource, Rlimit};
use rustix::thread::{CapabilitySet, CapabilitySets, UnshareFlags};

/// The descriptor number on which every child finds its IPC socket.
pub const IPC_FD: i32 = 3;

/// Closes every descriptor above the IPC socket. The launcher already does
/// this before `execve`; a child does it again because it cannot know who
/// started it.
pub fn close_inherited_descriptors() {
    // SAFETY: runs first in main, before the process opens anything of its
    // own, so no live `OwnedFd` refers to a descriptor above IPC_FD and
    // nothing can use one after it is closed.
    unsafe {
        libc::close_range((IPC_FD + 1) as libc::c_uint, libc::c_uint::MAX, 0);
    }
}

/// Enters a new user namespace (needed to create a network namespace
/// without privilege) and a new, empty network namespace, mapping the
/// current user and group onto themselves.
pub fn enter_empty_network_namespace() -> io::Result<()> {
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    // SAFETY: neither flag touches the descriptor table or memory shared
    // with other threads (UnshareFlags::FILES is the unsound case), and the
    // process has one thread here, which the kernel checks anyway.
    unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWUSER | UnshareFlags::NEWNET) }?;
    std::fs::write("/proc/self/setgroups", "deny")?;
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
    Ok(())
}

/// No core dumps, no ptrace attach by processes of the same user, no
/// privilege gained through `execve`.
pub fn harden_process() -> io::Result<()> {
    harden_without_no_new_privs()?;
    rustix::thread::set_no_new_privs(true)?;
    Ok(())
}

/// No core dumps, no ptrace attach by processes of the same user.
pub fn harden_without_no_new_privs() -> io::Result<()> {
    rustix::process::setrlimit(Resource::Core, Rlimit { current: Some(0), maximum: Some(0) })?;
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)?;
    Ok(())
}

/// Gives up every capability. Matters when Burrow runs as root (or inside
/// its own user namespace, where it holds all of them).
pub fn drop_capabilities() {
    let _ = rustix::thread::set_capabilities(
        None,
        CapabilitySets {
            effective: CapabilitySet::empty(),
            permitted: CapabilitySet::empty(),
            inheritable: CapabilitySet::empty(),
        },
    );
}

/// Arranges for `command` to run with `ipc` as descriptor [`IPC_FD`], every
/// other descriptor above stderr closed, and SIGKILL on the launcher's death.
pub fn pass_ipc_socket(command: &mut Command, ipc: OwnedFd) {
    use std::os::unix::process::CommandExt;
    let source = ipc.as_raw_fd();
    // SAFETY: the closure runs in the forked child before execve and makes
    // only async-signal-safe system calls (dup2, fcntl, close_range, prctl);
    // it allocates nothing and takes no lock. `ipc` is moved in and stays
    // open in the parent until the Command is dropped, so `source` is valid.
    unsafe {
        command.pre_exec(move || {
            let _keep_open = &ipc;
            if source == IPC_FD {
                if libc::fcntl(IPC_FD, libc::F_SETFD, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::dup2(source, IPC_FD) == -1 {
                return Err(io::Error::last_os_error());
            }
            if libc::close_range((IPC_FD + 1) as libc::c_uint, libc::c_uint::MAX, 0) == -1 {
                return Err(io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Tries to create an io_uring instance; for the sandbox self-tests, which
/// expect the process to be killed here.
pub fn attempt_io_uring_setup() -> io::Result<()> {
    // io_uring_params is 120 bytes on every architecture; zero is a valid
    // request for a one-entry ring.
    let mut params = [0u8; 120];
    // SAFETY: the kernel writes at most size_of(io_uring_params) = 120 bytes
    // into `params`, which lives until the call returns.
    let result = unsafe { libc::syscall(libc::SYS_io_uring_setup, 1u32, params.as_mut_ptr()) };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    // A descriptor was returned; closing it is all we do with it.
    // SAFETY: `result` is a descriptor the kernel just gave this process.
    unsafe { libc::close(result as i32) };
    Ok(())
}

static IPC_SOCKET_TAKEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Takes ownership of the IPC socket at [`IPC_FD`], once per process, after
/// checking that it really is a `SOCK_SEQPACKET` socket.
pub fn take_ipc_socket() -> io::Result<OwnedFd> {
    use std::os::fd::{BorrowedFd, FromRawFd};
    if IPC_SOCKET_TAKEN.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return Err(io::Error::other("the IPC socket was already taken"));
    }
    // SAFETY: the flag above guarantees this borrow and the ownership taken
    // below happen once per process; nothing else in Burrow names IPC_FD.
    let borrowed = unsafe { BorrowedFd::borrow_raw(IPC_FD) };
    let kind = rustix::net::sockopt::socket_type(borrowed)
        .map_err(|_| io::Error::other("descriptor 3 is not a socket: start Burrow with `burrow`, not this binary"))?;
    if kind != rustix::net::SocketType::SEQPACKET {
        return Err(io::Error::other("descriptor 3 is not a sequenced-packet socket"));
    }
    // SAFETY: IPC_FD is open (socket_type succeeded), this process never
    // closes it elsewhere, and ownership is taken only once (flag above).
    Ok(unsafe { OwnedFd::from_raw_fd(IPC_FD) })
}
