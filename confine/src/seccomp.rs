//! seccomp-bpf, built with seccompiler and installed on every thread (TSYNC).
//!
//! seccompiler gives one action to all the rules of a filter, so a policy is
//! installed as up to two filters. The kernel applies the strictest verdict of
//! all installed filters, so an allow-list filter (anything unlisted kills the
//! process) can sit beside a filter that turns a few listed calls into errors.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::ConfineError;

/// One system call, permitted (or matched) when all its conditions hold.
/// Several rules for the same call match when any of them does.
#[derive(Debug, Clone)]
pub struct Rule {
    pub syscall: i64,
    pub conditions: Vec<Cond>,
}

/// A condition on one argument (0-based), compared as a 32- or 64-bit value.
#[derive(Debug, Clone, Copy)]
pub enum Cond {
    /// `arg == value` on the low 32 bits (C `int` arguments).
    IntEq(u8, u64),
    /// `arg & mask == value` on the full 64 bits.
    MaskedEq(u8, u64, u64),
}

/// A call permitted whatever its arguments.
pub fn any(syscall: i64) -> Rule {
    Rule { syscall, conditions: Vec::new() }
}

/// A call permitted only when every condition holds.
pub fn when(syscall: i64, conditions: &[Cond]) -> Rule {
    Rule { syscall, conditions: conditions.to_vec() }
}

pub enum Seccomp {
    /// Everything not in `allow` kills the process; calls in `fail_with`
    /// (which must also be allowed) return the errno instead of running.
    AllowList { allow: Vec<Rule>, fail_with: Vec<(Rule, u32)> },
    /// Everything runs except `kill` (kills the process) and `deny`
    /// (returns the errno).
    DenyList { kill: Vec<Rule>, deny: Vec<(Rule, u32)> },
}

fn filter_error(error: impl std::fmt::Display) -> ConfineError {
    ConfineError::Seccomp(error.to_string())
}

fn rule_map(rules: &[Rule]) -> Result<BTreeMap<i64, Vec<SeccompRule>>, ConfineError> {
    let mut map: BTreeMap<i64, Option<Vec<SeccompRule>>> = BTreeMap::new();
    for rule in rules {
        let entry = map.entry(rule.syscall).or_insert_with(|| Some(Vec::new()));
        if rule.conditions.is_empty() {
            // Unconditional: an empty rule list matches every call.
            *entry = None;
            continue;
        }
        if let Some(list) = entry {
            let conditions = rule
                .conditions
                .iter()
                .map(|condition| match *condition {
                    Cond::IntEq(arg, value) => SeccompCondition::new(
                        arg,
                        SeccompCmpArgLen::Dword,
                        SeccompCmpOp::Eq,
                        value,
                    ),
                    Cond::MaskedEq(arg, mask, value) => SeccompCondition::new(
                        arg,
                        SeccompCmpArgLen::Qword,
                        SeccompCmpOp::MaskedEq(mask),
                        value,
                    ),
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(filter_error)?;
            list.push(SeccompRule::new(conditions).map_err(filter_error)?);
        }
    }
    Ok(map.into_iter().map(|(syscall, rules)| (syscall, rules.unwrap_or_default())).collect())
}

fn compile(
    rules: &[Rule],
    mismatch: SeccompAction,
    matched: SeccompAction,
) -> Result<BpfProgram, ConfineError> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(filter_error)?;
    let filter = SeccompFilter::new(rule_map(rules)?, mismatch, matched, arch).map_err(filter_error)?;
    filter.try_into().map_err(filter_error)
}

/// Groups errno rules by errno, one filter each.
fn errno_filters(rules: &[(Rule, u32)]) -> Result<Vec<BpfProgram>, ConfineError> {
    let mut by_errno: BTreeMap<u32, Vec<Rule>> = BTreeMap::new();
    for (rule, errno) in rules {
        by_errno.entry(*errno).or_default().push(rule.clone());
    }
    by_errno
        .into_iter()
        .map(|(errno, rules)| compile(&rules, SeccompAction::Allow, SeccompAction::Errno(errno)))
        .collect()
}

pub fn install(policy: &Seccomp) -> Result<(), ConfineError> {
    // The errno filters go in first: once an allow-list is in force, the
    // seccomp() call that would add another filter is itself forbidden.
    // (The kernel applies the strictest verdict of all filters, whatever
    // their order.)
    let mut programs = Vec::new();
    match policy {
        Seccomp::AllowList { allow, fail_with } => {
            programs.extend(errno_filters(fail_with)?);
            programs.push(compile(allow, SeccompAction::KillProcess, SeccompAction::Allow)?);
        }
        Seccomp::DenyList { kill, deny } => {
            programs.extend(errno_filters(deny)?);
            programs.push(compile(kill, SeccompAction::Allow, SeccompAction::KillProcess)?);
        }
    }
    for program in &programs {
        seccompiler::apply_filter_all_threads(program).map_err(filter_error)?;
    }
    Ok(())
}

/// Calls no Burrow process makes, and that an exploit would want: debugging
/// other processes, kernel attack surface (io_uring, bpf, perf, keyrings,
/// userfaultfd), new namespaces, mounts and module loading.
pub fn never_allowed() -> Vec<Rule> {
    [
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_userfaultfd,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_personality,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_kexec_load,
        libc::SYS_reboot,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_open_by_handle_at,
        libc::SYS_name_to_handle_at,
    ]
    .into_iter()
    .map(any)
    .collect()
}

/// What a Rust program on a single-threaded tokio runtime needs to run at
/// all: memory, its own signals, time, randomness, epoll, and reading and
/// writing descriptors it already holds. Nothing here opens a new socket or
/// file, starts a process or reaches another process.
pub fn runtime_baseline() -> Vec<Rule> {
    let mut rules: Vec<Rule> = [
        // memory
        libc::SYS_brk,
        libc::SYS_mmap,
        libc::SYS_munmap,
        libc::SYS_mremap,
        libc::SYS_madvise,
        // descriptors already held
        libc::SYS_read,
        libc::SYS_write,
        libc::SYS_readv,
        libc::SYS_writev,
        libc::SYS_close,
        libc::SYS_fcntl,
        libc::SYS_fstat,
        libc::SYS_lseek,
        libc::SYS_recvfrom,
        libc::SYS_recvmsg,
        libc::SYS_sendto,
        libc::SYS_sendmsg,
        libc::SYS_shutdown,
        // the event loop
        libc::SYS_epoll_create1,
        libc::SYS_epoll_ctl,
        libc::SYS_epoll_wait,
        libc::SYS_epoll_pwait,
        libc::SYS_eventfd2,
        libc::SYS_poll,
        libc::SYS_ppoll,
        libc::SYS_futex,
        libc::SYS_sched_yield,
        libc::SYS_sched_getaffinity,
        // time
        libc::SYS_clock_gettime,
        libc::SYS_clock_nanosleep,
        libc::SYS_nanosleep,
        // own signals and exit
        libc::SYS_rt_sigaction,
        libc::SYS_rt_sigprocmask,
        libc::SYS_rt_sigreturn,
        libc::SYS_sigaltstack,
        libc::SYS_restart_syscall,
        libc::SYS_exit,
        libc::SYS_exit_group,
        libc::SYS_getpid,
        libc::SYS_gettid,
        libc::SYS_getrandom,
    ]
    .into_iter()
    .map(any)
    .collect();
    // mprotect, but never to make memory executable after the fact.
    rules.push(when(libc::SYS_mprotect, &[Cond::MaskedEq(2, libc::PROT_EXEC as u64, 0)]));
    // ioctl only to switch a descriptor to non-blocking mode.
    rules.push(when(libc::SYS_ioctl, &[Cond::IntEq(1, libc::FIONBIO)]));
    // tokio's runtime wakes its signal handling through a Unix socket pair:
    // two connected ends that reach nothing outside the process.
    rules.push(when(libc::SYS_socketpair, &[Cond::IntEq(0, libc::AF_UNIX as u64)]));
    // Checking that descriptor 3 is the IPC socket it should be.
    rules.push(when(
        libc::SYS_getsockopt,
        &[Cond::IntEq(1, libc::SOL_SOCKET as u64), Cond::IntEq(2, libc::SO_TYPE as u64)],
    ));
    // A panic aborts by signalling its own thread.
    rules.push(any(libc::SYS_tgkill));
    rules
}

/// Starting threads (never processes): clone is allowed only with
/// CLONE_THREAD; clone3 hides its flags in memory where seccomp cannot look,
/// so it fails with ENOSYS and the C library falls back to clone.
pub fn threads() -> (Vec<Rule>, Vec<(Rule, u32)>) {
    let thread_flag = libc::CLONE_THREAD as u64;
    (
        vec![
            when(libc::SYS_clone, &[Cond::MaskedEq(0, thread_flag, thread_flag)]),
            any(libc::SYS_clone3),
            any(libc::SYS_set_robust_list),
            any(libc::SYS_rseq),
            // Threads name themselves; no other prctl (PR_SET_DUMPABLE above all).
            when(libc::SYS_prctl, &[Cond::IntEq(0, libc::PR_SET_NAME as u64)]),
        ],
        vec![(any(libc::SYS_clone3), libc::ENOSYS as u32)],
    )
}
