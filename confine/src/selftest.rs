//! The sandbox self-test: after a process has put its real policy in force,
//! try one action and print how it ended. The death tests in `tests/` run
//! each binary with `--sandbox-self-test ACTION [ARGUMENT]` and check the
//! line printed, or the signal that killed the process.
//!
//! Output: `ok` or `error <errno>` on stdout, exit status 0 either way.

use std::io::Write;

/// Runs one action and returns the process exit status.
pub fn run(action: &str, argument: Option<&str>) -> std::process::ExitCode {
    let outcome = attempt(action, argument.unwrap_or(""));
    let line = match outcome {
        Ok(()) => "ok".to_string(),
        Err(error) => format!("error {}", error.raw_os_error().unwrap_or(-1)),
    };
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
    std::process::ExitCode::SUCCESS
}

fn nix_error(errno: nix::errno::Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(errno as i32)
}

fn attempt(action: &str, argument: &str) -> std::io::Result<()> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    match action {
        "read" => std::fs::read(argument).map(drop),
        "write" => std::fs::write(argument, b"self-test"),
        "list" => std::fs::read_dir(argument).map(drop),
        "tcp-connect" => std::net::TcpStream::connect(argument).map(drop),
        "tcp-listen" => std::net::TcpListener::bind(argument).map(drop),
        "udp-socket" => std::net::UdpSocket::bind("127.0.0.1:0").map(drop),
        "inet-socket" => socket(AddressFamily::Inet, SockType::Stream, SockFlag::empty(), None)
            .map(drop)
            .map_err(nix_error),
        "unix-socket" => socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::empty(), None)
            .map(drop)
            .map_err(nix_error),
        "execve" => {
            let program = c"/bin/true";
            nix::unistd::execv(program, &[program]).map(drop).map_err(nix_error)
        }
        "spawn" => std::process::Command::new("/bin/true").status().map(drop),
        "ptrace" => nix::sys::ptrace::attach(nix::unistd::getppid()).map_err(nix_error),
        "io-uring" => crate::sys::attempt_io_uring_setup(),
        "make-dumpable" => rustix::process::set_dumpable_behavior(
            rustix::process::DumpableBehavior::Dumpable,
        )
        .map_err(std::io::Error::from),
        "sleep" => {
            std::thread::sleep(std::time::Duration::from_secs(argument.parse().unwrap_or(1)));
            Ok(())
        }
        _ => Err(std::io::Error::from_raw_os_error(libc::EINVAL)),
    }
}
