//! The launcher: the process the user starts. It starts the broker and, on
//! the broker's request, the three children, and reaps them all. It reads
//! nothing but the broker's fixed requests (a role to start or kill).

use ipc::import::{ImportFile, ImportSource, MAX_IMPORT_BYTES, MAX_IMPORT_FILES};
use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use ipc::channel::seqpacket_pair;
use ipc::launcher::{ExitHow, FromLauncher, ToLauncher};
use ipc::{Channel, ChannelError, FrameWriter, Role};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot};

use crate::locate::Binaries;
use crate::policy;
use crate::{FrontEnd, Options};

/// How long children get to exit on their own once the broker is gone.
const GRACE: Duration = Duration::from_secs(3);

pub fn run(options: Options) -> ExitCode {
    let binaries = match Binaries::locate() {
        Ok(binaries) => binaries,
        Err(error) => return fail(&error.to_string()),
    };
    if let Err(error) = prepare_profile(&options) {
        return fail(&format!("cannot prepare the profile directory {}: {error}", options.profile.display()));
    }
    if let Err(error) = harden() {
        return fail(&error);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&error.to_string()),
    };
    match runtime.block_on(supervise(options, binaries)) {
        Ok(code) => code,
        Err(error) => fail(&error),
    }
}

fn fail(problem: &str) -> ExitCode {
    eprintln!("burrow: {problem}");
    ExitCode::FAILURE
}

/// The profile and each child's own directory in it, private to the user.
fn prepare_profile(options: &Options) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true).mode(0o700);
    builder.create(&options.profile)?;
    std::fs::set_permissions(&options.profile, std::fs::Permissions::from_mode(0o700))?;
    for role in [Role::Crypto, Role::Net] {
        builder.create(confine::profile_subdirectory(&options.profile, role))?;
    }
    Ok(())
}

/// No core dumps and no ptrace attach. Deliberately not `no_new_privs`
/// nor a seccomp filter (which requires it): with no_new_privs set, AppArmor
/// refuses the switch into each child's own profile at `execve`, and the
/// AppArmor profiles are the layer a compromised child cannot remove. Every
/// child sets both first thing, before it reads a byte.
fn harden() -> Result<(), String> {
    confine::sys::harden_without_no_new_privs().map_err(|error| format!("cannot harden the launcher: {error}"))
}

struct Running {
    pid: u32,
    kill: oneshot::Sender<()>,
}

struct Exit {
    role: Role,
    pid: u32,
    how: ExitHow,
}

fn exit_how(status: std::io::Result<std::process::ExitStatus>) -> ExitHow {
    match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => ExitHow::Code(code),
            (None, Some(signal)) => ExitHow::Signal(signal),
            (None, None) => ExitHow::Code(-1),
        },
        Err(_) => ExitHow::Code(-1),
    }
}

fn command_for(role: Role, binaries: &Binaries, options: &Options, ipc: OwnedFd) -> std::process::Command {
    let mut command = std::process::Command::new(binaries.child(role));
    command.env_clear();
    for name in policy::environment_for(role) {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    if role == Role::Broker {
        command.arg("--internal-broker");
    }
    command.arg("--profile").arg(&options.profile);
    if role == Role::Net {
        let port = std::env::var("TOR_SOCKS_PORT").ok();
        for port in policy::net_connect_ports(port.as_deref()) {
            command.arg("--allow-connect").arg(port.to_string());
        }
    }
    if options.strict {
        command.arg("--strict");
    }
    if role == Role::Ui && options.ui == FrontEnd::Text {
        // The text front end owns the terminal; it stays in our process
        // group so it may read it.
        if options.json {
            command.arg("--json");
        }
        command.stdin(Stdio::inherit()).stdout(Stdio::inherit());
    } else {
        if role == Role::Ui {
            command.arg("--gtk");
            if first_run(options) {
                command.arg("--first-run");
            }
        }
        // Out of the terminal's process group, so Ctrl-C reaches only the
        // launcher and the UI, and the shutdown stays orderly.
        command.process_group(0);
        command.stdin(Stdio::null());
        match std::io::stderr().as_fd().try_clone_to_owned() {
            Ok(stderr) => command.stdout(Stdio::from(stderr)),
            Err(_) => command.stdout(Stdio::null()),
        };
    }
    confine::sys::pass_ipc_socket(&mut command, ipc);
    command
}

/// No store yet: the GTK front end asks for a new passphrase (twice)
/// instead of the passphrase. Only the file's presence is looked at; the UI
/// itself may not see the profile. The name is crypto's
/// (crypto-sandbox/src/vault/file.rs, `STORE`).
fn first_run(options: &Options) -> bool {
    !confine::profile_subdirectory(&options.profile, Role::Crypto).join("store").exists()
}

/// Starts one process with `ipc` as its socket and a task that reports its
/// exit (or kills it on request).
fn start(
    role: Role,
    binaries: &Binaries,
    options: &Options,
    ipc: OwnedFd,
    exits: &mpsc::UnboundedSender<Exit>,
) -> std::io::Result<Running> {
    let mut child = tokio::process::Command::from(command_for(role, binaries, options, ipc)).spawn()?;
    let pid = child.id().unwrap_or(0);
    let (kill, killed) = oneshot::channel::<()>();
    let exits = exits.clone();
    tokio::spawn(async move {
        let status = tokio::select! {
            status = child.wait() => status,
            _ = killed => {
                let _ = child.start_kill();
                child.wait().await
            }
        };
        let _ = exits.send(Exit { role, pid, how: exit_how(status) });
    });
    Ok(Running { pid, kill })
}

async fn supervise(options: Options, binaries: Binaries) -> Result<ExitCode, String> {
    let (exits_tx, mut exits) = mpsc::unbounded_channel::<Exit>();
    let (ours, brokers) = seqpacket_pair().map_err(|error| error.to_string())?;
    let broker = start(Role::Broker, &binaries, &options, brokers, &exits_tx)
        .map_err(|error| format!("cannot start the broker {}: {error}", binaries.broker.display()))?;
    let (mut requests, mut replies) = Channel::new(ours).map_err(|error| error.to_string())?.split();
    let mut children: HashMap<Role, Running> = HashMap::new();
    let mut terminate = signal(SignalKind::terminate()).map_err(|error| error.to_string())?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|error| error.to_string())?;
    let mut hangup = signal(SignalKind::hangup()).map_err(|error| error.to_string())?;
    let mut broker_kill = Some(broker.kill);
    let mut listening = true;

    let broker_exit = loop {
        tokio::select! {
            request = requests.recv::<ToLauncher>(), if listening => match request {
                Ok(ToLauncher::Spawn(role)) if role != Role::Broker => {
                    let reply = spawn_child(role, &binaries, &options, &exits_tx, &mut children);
                    if let Err(error) = send_reply(&mut replies, reply).await {
                        eprintln!("burrow: lost the broker: {error}");
                        listening = false;
                    }
                }
                Ok(ToLauncher::Kill(role)) => {
                    if let Some(running) = children.remove(&role) {
                        let _ = running.kill.send(());
                    }
                }
                Ok(ToLauncher::ReadCertificates { request, path }) => {
                    let result = read_certificates(&path);
                    if replies.send(&FromLauncher::Certificates { request, result }).await.is_err() {
                        listening = false;
                    }
                }
                Ok(ToLauncher::ReadImport { request, source, directory }) => {
                    let result = read_import(source, directory.as_deref());
                    if replies.send(&FromLauncher::ImportFiles { request, result }).await.is_err() {
                        listening = false;
                    }
                }
                // The broker is exiting; its exit status follows.
                Err(ChannelError::Closed) => listening = false,
                // The broker asked for itself, or sent what we cannot read:
                // it is not behaving, so everything stops.
                Ok(ToLauncher::Spawn(_)) | Err(_) => {
                    listening = false;
                    if let Some(kill) = broker_kill.take() {
                        let _ = kill.send(());
                    }
                }
            },
            Some(exit) = exits.recv() => {
                if exit.role == Role::Broker {
                    break exit.how;
                }
                if children.get(&exit.role).map(|running| running.pid) == Some(exit.pid) {
                    children.remove(&exit.role);
                }
                let report = FromLauncher::Exited { role: exit.role, pid: exit.pid, how: exit.how };
                if listening && replies.send(&report).await.is_err() {
                    listening = false;
                }
            },
            _ = terminate.recv() => forward_terminate(broker.pid),
            _ = interrupt.recv() => forward_terminate(broker.pid),
            _ = hangup.recv() => forward_terminate(broker.pid),
        }
    };
    stop_children(children, &mut exits).await;
    Ok(match broker_exit {
        ExitHow::Code(0) => ExitCode::SUCCESS,
        ExitHow::Code(code) => ExitCode::from(code.clamp(1, 255) as u8),
        how => {
            eprintln!("burrow: the broker {how}");
            ExitCode::FAILURE
        }
    })
}

enum Reply {
    Spawned { role: Role, pid: u32, brokers_end: OwnedFd },
    Failed { role: Role, reason: String },
}

fn spawn_child(
    role: Role,
    binaries: &Binaries,
    options: &Options,
    exits: &mpsc::UnboundedSender<Exit>,
    children: &mut HashMap<Role, Running>,
) -> Reply {
    if children.contains_key(&role) {
        return Reply::Failed { role, reason: "it is already running".into() };
    }
    let (brokers_end, childs_end) = match seqpacket_pair() {
        Ok(pair) => pair,
        Err(error) => return Reply::Failed { role, reason: format!("no socket pair: {error}") },
    };
    match start(role, binaries, options, childs_end, exits) {
        Ok(running) => {
            let pid = running.pid;
            children.insert(role, running);
            Reply::Spawned { role, pid, brokers_end }
        }
        Err(error) => Reply::Failed {
            role,
            reason: format!("cannot run {}: {error}", binaries.child(role).display()),
        },
    }
}

async fn send_reply(replies: &mut FrameWriter, reply: Reply) -> Result<(), ChannelError> {
    match reply {
        Reply::Spawned { role, pid, brokers_end } => {
            replies.send_with_fd(&FromLauncher::Spawned { role, pid }, brokers_end.as_fd()).await
        }
        Reply::Failed { role, reason } => replies.send(&FromLauncher::SpawnFailed { role, reason }).await,
    }
}

/// The launcher is the one part of Burrow that can read a file the user
/// names anywhere; it hands over nothing but PEM certificates.
fn read_certificates(path: &str) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let path = std::path::Path::new(path);
    if !path.is_absolute() {
        return Err(format!("{} is not an absolute path", path.display()));
    }
    let file = std::fs::File::open(path).map_err(|error| format!("cannot open {}: {error}", path.display()))?;
    let metadata = file.metadata().map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    if !metadata.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    if metadata.len() > ipc::launcher::MAX_CERTIFICATE_FILE {
        return Err(format!("{} is too large for a file of certificates", path.display()));
    }
    let mut content = Vec::new();
    file.take(ipc::launcher::MAX_CERTIFICATE_FILE + 1)
        .read_to_end(&mut content)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    if !ipc::launcher::is_only_certificates(&content) {
        return Err(format!("{} does not hold PEM certificates only", path.display()));
    }
    Ok(content)
}

/// The files of another client that `/import` wants: only names the source
/// lists, only regular files (a symbolic link is not followed), within the
/// size a frame can carry. The launcher reads bytes; it parses nothing.
fn read_import(source: ImportSource, directory: Option<&str>) -> Result<(Vec<ImportFile>, Vec<String>), String> {
    use std::io::Read;
    let directories: Vec<std::path::PathBuf> = match directory {
        Some(directory) => {
            let path = std::path::PathBuf::from(directory);
            if !path.is_absolute() {
                return Err(format!("{directory} is not an absolute path"));
            }
            vec![path]
        }
        None => {
            let home = std::env::var_os("HOME").ok_or("HOME is not set, so the client's own directory is unknown; name it")?;
            source.default_directories().iter().map(|relative| std::path::Path::new(&home).join(relative)).collect()
        }
    };
    let mut files = Vec::new();
    let mut unread = Vec::new();
    let mut total = 0usize;
    let mut any_directory = false;
    for directory in &directories {
        // xmpp-client keeps one file, `~/.xmpp-client`, by default.
        if source == ImportSource::XmppClient && std::fs::symlink_metadata(directory).is_ok_and(|metadata| metadata.is_file()) {
            any_directory = true;
            let mut bytes = Vec::new();
            match std::fs::File::open(directory).and_then(|file| file.take(MAX_IMPORT_BYTES as u64).read_to_end(&mut bytes)) {
                Ok(_) => files.push(ImportFile { name: ".xmpp-client".into(), bytes: ipc::secret::SecretBytes::new(bytes) }),
                Err(error) => unread.push(format!("{}: cannot be read ({error})", directory.display())),
            }
            continue;
        }
        let Ok(entries) = std::fs::read_dir(directory) else { continue };
        any_directory = true;
        let mut names: Vec<String> = entries.flatten().filter_map(|entry| entry.file_name().into_string().ok()).filter(|name| source.wants(name)).collect();
        names.sort();
        for name in names {
            read_import_file(&directory.join(&name), name, &mut files, &mut unread, &mut total);
        }
        // One named folder down (Adium's `libpurple`), never further, never
        // through a link, and only the exact names listed for it.
        for (folder, wanted) in source.wanted_subfolder_files() {
            let subfolder = directory.join(folder);
            if !std::fs::symlink_metadata(&subfolder).is_ok_and(|metadata| metadata.is_dir()) {
                continue;
            }
            for name in *wanted {
                let path = subfolder.join(name);
                if std::fs::symlink_metadata(&path).is_err() {
                    continue;
                }
                read_import_file(&path, format!("{folder}/{name}"), &mut files, &mut unread, &mut total);
            }
        }
    }
    if !any_directory {
        let shown: Vec<String> = directories.iter().map(|directory| directory.display().to_string()).collect();
        return Err(format!("no {} directory was found (looked in {})", source.name(), shown.join(", ")));
    }
    Ok((files, unread))
}

/// Reads one wanted file if it is a regular file (a link is not followed)
/// and fits what is left of the import's budget.
fn read_import_file(path: &std::path::Path, name: String, files: &mut Vec<ImportFile>, unread: &mut Vec<String>, total: &mut usize) {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_file() => metadata,
        _ => {
            unread.push(format!("{name}: not a regular file"));
            return;
        }
    };
    let size = usize::try_from(metadata.len()).unwrap_or(usize::MAX);
    if files.len() >= MAX_IMPORT_FILES || total.saturating_add(size) > MAX_IMPORT_BYTES {
        unread.push(format!("{name}: too large to import ({size} bytes)"));
        return;
    }
    let mut bytes = Vec::with_capacity(size);
    // O_NOFOLLOW: a link put there after the check above is not followed either.
    let opened = std::fs::OpenOptions::new().read(true).custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32).open(path);
    match opened.and_then(|file| file.take(MAX_IMPORT_BYTES as u64).read_to_end(&mut bytes)) {
        Ok(_) => {
            *total += bytes.len();
            files.push(ImportFile { name, bytes: ipc::secret::SecretBytes::new(bytes) });
        }
        Err(error) => unread.push(format!("{name}: cannot be read ({error})")),
    }
}

fn forward_terminate(broker_pid: u32) {
    if let Some(pid) = rustix::process::Pid::from_raw(broker_pid as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
}

/// Children normally exit by themselves once the broker has closed their
/// sockets; whatever is left after the grace period is killed.
async fn stop_children(mut children: HashMap<Role, Running>, exits: &mut mpsc::UnboundedReceiver<Exit>) {
    let deadline = tokio::time::Instant::now() + GRACE;
    while !children.is_empty() {
        match tokio::time::timeout_at(deadline, exits.recv()).await {
            Ok(Some(exit)) => {
                if children.get(&exit.role).map(|running| running.pid) == Some(exit.pid) {
                    children.remove(&exit.role);
                }
            }
            Ok(None) => break,
            Err(_timeout) => {
                for (_, running) in children.drain() {
                    let _ = running.kill.send(());
                }
            }
        }
    }
    // Reap the killed ones, briefly.
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(500), exits.recv()).await {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adium's `libpurple` folder: its exact names are read, nothing else
    /// in it, nothing deeper, and not through a link.
    #[test]
    fn import_reads_only_the_named_files_one_folder_down() {
        let root = std::env::temp_dir().join(format!("burrow-launcher-import-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let adium = root.join("adium");
        std::fs::create_dir_all(adium.join("libpurple/deeper")).unwrap();
        std::fs::write(adium.join("Accounts.plist"), b"plist").unwrap();
        std::fs::write(adium.join("libpurple/accounts.xml"), b"accounts").unwrap();
        std::fs::write(adium.join("libpurple/secret.txt"), b"not wanted").unwrap();
        std::fs::write(adium.join("libpurple/deeper/blist.xml"), b"too deep").unwrap();
        std::fs::write(root.join("outside.xml"), b"outside").unwrap();
        std::os::unix::fs::symlink(root.join("outside.xml"), adium.join("libpurple/blist.xml")).unwrap();
        let (files, unread) = read_import(ImportSource::Adium, Some(adium.to_str().unwrap())).unwrap();
        let names: Vec<&str> = files.iter().map(|file| file.name.as_str()).collect();
        assert_eq!(names, ["Accounts.plist", "libpurple/accounts.xml"]);
        assert_eq!(files[1].bytes.expose(), b"accounts");
        assert!(unread.iter().any(|why| why.starts_with("libpurple/blist.xml: not a regular file")), "{unread:?}");

        // The folder itself a link: not followed.
        let linked = root.join("linked");
        std::fs::create_dir_all(&linked).unwrap();
        std::os::unix::fs::symlink(adium.join("libpurple"), linked.join("libpurple")).unwrap();
        std::fs::write(linked.join("otr.private_key"), b"key").unwrap();
        let (files, _) = read_import(ImportSource::Adium, Some(linked.to_str().unwrap())).unwrap();
        let names: Vec<&str> = files.iter().map(|file| file.name.as_str()).collect();
        assert_eq!(names, ["otr.private_key"]);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
