//! Who owns a sandbox container, and until when.
//!
//! Every container carries an owner label naming the process that created
//! it (`<host>/<boot id>/<pid>/<process start time>`) and a lease label
//! (the unix time until which the owner claims it). `reap_orphans` uses
//! them to tell a live neighbour's sandbox from a leftover: a container
//! is an orphan when its owner process is provably gone (same host and
//! boot, and that pid no longer runs the same process), when its lease
//! expired, or when it has no owner at all (made before these labels).
//!
//! Labels cannot change after creation, so the owner renews the lease in
//! a root-owned file inside the container ([`LEASE_FILE`]), every third
//! of the lease, for as long as it holds the sandbox. The reaper takes the
//! later of the label and the file: a live owner's sandbox (on this host
//! or another one sharing the engine) keeps its lease; an owner that hangs
//! or dies stops renewing, and its sandboxes are reaped once the lease
//! runs out. Commands run as an unprivileged user by default, so they
//! cannot extend their own lease (as root they can; a root-run sandbox
//! trusts its commands anyway).

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The label naming the process that created the container.
pub const OWNER_LABEL: &str = "deepagent.owner";
/// The label holding the lease's end, in unix seconds.
pub const LEASE_LABEL: &str = "deepagent.lease-until";

/// The file inside the container holding the renewed lease's end, in unix
/// seconds, written by root (mode 0644 in the sticky `/tmp`). Not named
/// `.deepagent-*`, the prefix of the file tools' temporary files.
pub const LEASE_FILE: &str = "/tmp/.deepagent.lease";

/// How long a container's lease lasts unless the sandbox says otherwise
/// ([`DockerSandbox::with_lease`](crate::DockerSandbox::with_lease)).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(24 * 60 * 60);

/// What the reaper can tell about a container's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OwnerState {
    /// No owner label: made by an older version or by hand.
    Unknown,
    /// This very process.
    ThisProcess,
    /// Another process on this host that still runs.
    Alive,
    /// A process on this host (same boot) that no longer runs.
    Gone,
    /// A process elsewhere: only its lease says whether it still counts.
    Elsewhere,
}

/// This process's owner id (computed once).
pub(crate) fn this_owner() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let pid = std::process::id();
        format!(
            "{}/{}/{pid}/{}",
            host_name(),
            boot_id(),
            start_time(pid).unwrap_or_default()
        )
    })
}

/// The end of a lease that starts now, in unix seconds.
pub(crate) fn lease_until(lease: Duration) -> u64 {
    SystemTime::now()
        .checked_add(lease)
        .unwrap_or(SystemTime::now())
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The shell command (argv) that renews the lease file to `until`:
/// replaced atomically, never written through a link a command planted.
pub(crate) fn renew_argv(until: u64) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        r#"umask 022; rm -f "$1.new" && printf '%s\n' "$2" > "$1.new" && mv -f "$1.new" "$1""#
            .into(),
        "sh".into(),
        LEASE_FILE.into(),
        until.to_string(),
    ]
}

/// The renewed lease in a lease file's content, if it holds one.
pub(crate) fn parse_renewal(content: &[u8]) -> Option<u64> {
    std::str::from_utf8(content).ok()?.trim().parse().ok()
}

/// Whether a lease that runs until the later of the label's `until` and
/// `renewed` has run out.
pub(crate) fn lease_expired(labels: &HashMap<String, String>, renewed: Option<u64>) -> bool {
    let label = labels.get(LEASE_LABEL).and_then(|v| v.parse::<u64>().ok());
    match label.max(renewed) {
        Some(until) => now_secs() > until,
        None => false,
    }
}

/// Whether the reaper needs the lease file to decide: the owner is alive
/// or elsewhere and the label's lease has run out.
pub(crate) fn needs_renewal_check(labels: &HashMap<String, String>) -> bool {
    matches!(
        owner_state(labels.get(OWNER_LABEL).map(String::as_str)),
        OwnerState::Alive | OwnerState::Elsewhere
    ) && lease_expired(labels, None)
}

/// The owner and lease labels for a container created now.
pub(crate) fn labels(lease: Duration) -> [(String, String); 2] {
    let until = lease_until(lease);
    [
        (OWNER_LABEL.to_owned(), this_owner().to_owned()),
        (LEASE_LABEL.to_owned(), until.to_string()),
    ]
}

/// Whether a container with these labels (and the lease its owner last
/// renewed, if known) is a leftover nobody will clean up: its owner is
/// gone or is this process (and the caller does not hold it), its lease
/// ran out, or it has no owner at all.
pub(crate) fn is_orphan(labels: &HashMap<String, String>, renewed: Option<u64>) -> bool {
    let expired = lease_expired(labels, renewed);
    match owner_state(labels.get(OWNER_LABEL).map(String::as_str)) {
        OwnerState::Unknown | OwnerState::ThisProcess | OwnerState::Gone => true,
        OwnerState::Alive | OwnerState::Elsewhere => expired,
    }
}

pub(crate) fn owner_state(owner: Option<&str>) -> OwnerState {
    let Some(owner) = owner else {
        return OwnerState::Unknown;
    };
    if owner == this_owner() {
        return OwnerState::ThisProcess;
    }
    let parts: Vec<&str> = owner.split('/').collect();
    let [host, boot, pid, start] = parts[..] else {
        return OwnerState::Unknown;
    };
    if host != host_name() || boot != boot_id() || boot.is_empty() {
        return OwnerState::Elsewhere;
    }
    let Ok(pid) = pid.parse::<u32>() else {
        return OwnerState::Unknown;
    };
    // The same pid running a process started at the same time is the
    // owner; anything else (no such pid, a reused pid) means it is gone.
    match start_time(pid) {
        Some(now) if now == start => OwnerState::Alive,
        _ => OwnerState::Gone,
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().replace('/', "_"))
        .unwrap_or_default()
}

fn host_name() -> String {
    read_trimmed("/proc/sys/kernel/hostname")
}

fn boot_id() -> String {
    read_trimmed("/proc/sys/kernel/random/boot_id")
}

/// The start time of `pid` in clock ticks since boot (field 22 of
/// `/proc/<pid>/stat`), which tells a reused pid from the original.
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses; the
    // fields after its closing parenthesis are plain numbers.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_states() {
        assert_eq!(owner_state(None), OwnerState::Unknown);
        assert_eq!(owner_state(Some("junk")), OwnerState::Unknown);
        assert_eq!(owner_state(Some(this_owner())), OwnerState::ThisProcess);
        let parts: Vec<&str> = this_owner().split('/').collect();
        // pid 1 with its real start time is a live owner; with another
        // start time it is a reused pid, so the owner is gone.
        let init = format!("{}/{}/1/{}", parts[0], parts[1], start_time(1).unwrap());
        assert_eq!(owner_state(Some(&init)), OwnerState::Alive);
        let reused = format!("{}/{}/1/0", parts[0], parts[1]);
        assert_eq!(owner_state(Some(&reused)), OwnerState::Gone);
        let elsewhere = "other-host/some-boot/1/1";
        assert_eq!(owner_state(Some(elsewhere)), OwnerState::Elsewhere);
    }

    #[test]
    fn leases_decide_for_live_and_remote_owners() {
        let parts: Vec<&str> = this_owner().split('/').collect();
        let init = format!("{}/{}/1/{}", parts[0], parts[1], start_time(1).unwrap());
        let with = |owner: &str, until: u64| {
            HashMap::from([
                (OWNER_LABEL.to_owned(), owner.to_owned()),
                (LEASE_LABEL.to_owned(), until.to_string()),
            ])
        };
        let later = now_secs() + 3600;
        assert!(!is_orphan(&with(&init, later), None));
        assert!(is_orphan(&with(&init, 1), None));
        assert!(!is_orphan(&with("h/b/1/1", later), None));
        assert!(is_orphan(&with("h/b/1/1", 1), None));
        assert!(is_orphan(&with(this_owner(), later), None));
        assert!(is_orphan(&HashMap::new(), None));
        // A renewal keeps an expired label's container; an old renewal
        // does not.
        assert!(!is_orphan(&with("h/b/1/1", 1), Some(later)));
        assert!(is_orphan(&with("h/b/1/1", 1), Some(2)));
        assert!(needs_renewal_check(&with("h/b/1/1", 1)));
        assert!(!needs_renewal_check(&with("h/b/1/1", later)));
        assert!(!needs_renewal_check(&with(this_owner(), 1)));
        assert_eq!(parse_renewal(b"123\n"), Some(123));
        assert_eq!(parse_renewal(b"junk"), None);
    }
}
