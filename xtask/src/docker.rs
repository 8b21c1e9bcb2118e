//! `cargo xtask test-docker [--bench] [--remote-only]`: build the local test images and run
//! the Docker-gated tests of deepagent-docker against a real engine.
//!
//! 1. Checks that an engine answers (`docker info`); without one, says how
//!    to start it and fails.
//! 2. Builds the test images locally, never pulling: a busybox image from
//!    Debian's `busybox-static` (`busybox --install -s` into a directory,
//!    `docker import`), and a Debian + python3 image from
//!    `debootstrap --variant=minbase --include=python3`, using the mirror
//!    apt is configured with. Each is tagged with a hash of its recipe and
//!    rebuilt only when the recipe changes; `:current` points at the
//!    latest.
//! 3. Runs `cargo test -p deepagent-docker --features engine-tests` with
//!    `DEEPAGENT_REQUIRE_DOCKER=1`, so a missing engine or image fails
//!    instead of skipping (`--bench` adds the ignored timing test).
//! 4. Runs the Docker tests of deepagent-reliability (killed container,
//!    engine down, 20 sessions, fork bomb, panicking holder + reaper,
//!    lying container tools, file tools as the command user, 1 GiB files
//!    under a host memory bound, container lifecycle leaks, timeout kills,
//!    hardened defaults) with
//!    the same environment; that variable is also what lets the reaper
//!    test run its real, engine-wide reaper. Runs even when step 3 failed,
//!    so one report shows both.
//!    Then the facade's `docker://` configuration test, the docker_hybrid
//!    example's test and the CLI's
//!    `--sandbox docker:RUNTIME` test.
//! 5. Remote engines (`remote.rs`): starts a second dockerd on 127.0.0.1
//!    with `--tlsverify` (certificates made with `openssl`; its own data
//!    root, exec root, pidfile and unix socket; the test images
//!    `docker save`d into it) and an sshd on a loopback port (generated
//!    host and client keys; logins reach the main engine), and runs the
//!    conformance and sandbox suites over TLS and over SSH, configured
//!    through `DOCKER_HOST`/`DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`, plus
//!    `tests/remote.rs` (error messages, `execute` over TLS against
//!    `docker --tlsverify exec`) and last `tests/pool.rs` (the engine
//!    pool, which stops the TLS engine mid-run). Both are stopped by PID;
//!    the TLS engine must hold no sandbox after its suites.
//!    `--remote-only` runs just this step.
//! 6. Fails if any container labelled `deepagent.sandbox=1` is left over
//!    (after removing it).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

const LABEL_FILTER: &str = "label=deepagent.sandbox=1";
const START_HINT: &str = "start one with `dockerd --bridge=none --iptables=false > /tmp/dockerd.log 2>&1 &` (Debian: apt-get install docker.io busybox-static debootstrap), or point DOCKER_HOST at one";

/// Bump when the way an image is made changes.
const BUSYBOX_RECIPE: &str = "busybox-static rootfs v2: /bin/busybox --install -s /bin; dirs tmp (1777) etc root workspace; docker import";
const PYTHON_RECIPE: &str =
    "debootstrap v1: --variant=minbase --include=python3 bookworm; docker import";

pub fn test_docker(args: &[String]) -> crate::Result {
    let bench = args.iter().any(|a| a == "--bench");
    // Only the remote-engine part (TLS, SSH, the pool): for working on it.
    let remote_only = args.iter().any(|a| a == "--remote-only");
    if let Some(other) = args
        .iter()
        .find(|a| !matches!(a.as_str(), "--bench" | "--remote-only"))
    {
        return Err(format!(
            "unknown argument {other:?} (usage: cargo xtask test-docker [--bench] [--remote-only])"
        ));
    }
    check_engine()?;
    let busybox = busybox_image()?;
    let python = python_image()?;
    let leftovers = labelled_containers()?;
    if !leftovers.is_empty() {
        eprintln!(
            "test-docker: removing {} sandbox container(s) left by an earlier run",
            leftovers.len()
        );
        remove_containers(&leftovers)?;
    }

    if remote_only {
        let failures = remote_suites(&busybox, &python)?;
        return match failures.is_empty() {
            true => Ok(()),
            false => Err(failures.join("; ")),
        };
    }

    // Every test binary runs, so one report shows every failure.
    let mut test_args = vec![
        "test",
        "--no-fail-fast",
        "-p",
        "deepagent-docker",
        "--features",
        "engine-tests",
    ];
    if bench {
        test_args.extend(["--", "--include-ignored", "--nocapture"]);
    }
    let docker_status = run_tests(&test_args, &busybox, &python)?;
    let reliability_status = run_tests(&RELIABILITY_DOCKER_TESTS, &busybox, &python)?;
    // A TOML composite whose default is `docker://` (the facade's config),
    // and the seed's Docker + Local example.
    let config_status = run_tests(
        &[
            "test",
            "-p",
            "deepagent",
            "--features",
            "docker",
            "--test",
            "config_docker",
            "--test",
            "example_docker_hybrid",
        ],
        &busybox,
        &python,
    )?;

    // The CLI's `--sandbox docker:RUNTIME` (its other tests need no engine).
    let cli_status = run_tests(
        &[
            "test",
            "-p",
            "deepagent-cli",
            "--test",
            "cli",
            "sandbox_docker",
        ],
        &busybox,
        &python,
    )?;
    // The same suites against remote engines: TLS and SSH.
    let remote_failures = remote_suites(&busybox, &python)?;

    // Last, after every test: nothing may leave a sandbox behind.
    let leftovers = labelled_containers()?;
    if !leftovers.is_empty() {
        remove_containers(&leftovers)?;
        return Err(format!(
            "{} container(s) labelled deepagent.sandbox=1 were left after the tests (removed now): {}",
            leftovers.len(),
            leftovers.join(", ")
        ));
    }
    for (what, status) in [
        ("the deepagent-docker Docker tests", docker_status),
        ("the deepagent-reliability Docker tests", reliability_status),
        (
            "the docker:// configuration and docker_hybrid example tests",
            config_status,
        ),
        ("the CLI's --sandbox docker test", cli_status),
    ] {
        if !status.success() {
            return Err(format!("{what} failed ({status})"));
        }
    }
    if !remote_failures.is_empty() {
        return Err(format!(
            "over remote engines: {}",
            remote_failures.join("; ")
        ));
    }
    eprintln!("test-docker: all Docker tests passed (unix, TLS, SSH); no sandbox container left");
    Ok(())
}

/// The suites that run again over a remote engine.
const REMOTE_SUITES: [&str; 10] = [
    "test",
    "--no-fail-fast",
    "-p",
    "deepagent-docker",
    "--features",
    "engine-tests",
    "--test",
    "conformance",
    "--test",
    "sandbox",
];

/// Starts a TLS engine and an sshd (see `remote`), runs the conformance
/// and sandbox suites over each (configured the standard way, through
/// `DOCKER_HOST`, `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`), the remote
/// engine tests (error messages, timing, the engine pool), and checks
/// that no sandbox is left on either engine. Returns what failed.
fn remote_suites(busybox: &str, python: &str) -> crate::Result<Vec<String>> {
    let dir = crate::remote::scratch()?;
    let main_engine =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned());
    let mut tls = crate::remote::TlsEngine::start(&dir, &[busybox, python])?;
    let mut ssh = crate::remote::SshServer::start(&dir, &main_engine)?;
    let p = |p: &Path| p.display().to_string();
    let remote_env: Vec<(&str, String)> = vec![
        ("DEEPAGENT_TEST_TLS_ADDRESS", tls.address.clone()),
        ("DEEPAGENT_TEST_TLS_CERTS", p(&tls.client_certs)),
        ("DEEPAGENT_TEST_TLS_UNTRUSTED", p(&tls.untrusted_client)),
        ("DEEPAGENT_TEST_TLS_WRONG_CA", p(&tls.wrong_ca)),
        ("DEEPAGENT_TEST_TLS_PIDFILE", p(&tls.pidfile)),
        ("DEEPAGENT_TEST_SSH", ssh.destination.clone()),
        ("DEEPAGENT_TEST_SSH_KEY", p(&ssh.identity)),
        ("DEEPAGENT_TEST_SSH_KNOWN_HOSTS", p(&ssh.known_hosts)),
        ("DEEPAGENT_TEST_MAIN_ENGINE", main_engine.clone()),
        (
            "DEEPAGENT_TEST_TLS_RUNSC",
            if tls.runsc { "1" } else { "0" }.to_owned(),
        ),
    ];
    let mut failures = Vec::new();
    let check = |failures: &mut Vec<String>, what: &str, status: ExitStatus| {
        if !status.success() {
            failures.push(format!("{what} failed ({status})"));
        }
    };

    eprintln!("test-docker: the suites over TLS (tcp://{})", tls.address);
    let mut env = tls.env();
    env.extend(remote_env.iter().cloned());
    let mut args = REMOTE_SUITES.to_vec();
    args.extend(["--test", "remote"]);
    check(
        &mut failures,
        "the suites over TLS",
        run_tests_with(&args, busybox, python, &env)?,
    );
    let left = tls_leftovers(&tls)?;
    if !left.is_empty() {
        failures.push(format!(
            "{} sandbox container(s) left on the TLS engine: {}",
            left.len(),
            left.join(", ")
        ));
    }

    eprintln!(
        "test-docker: the suites over SSH (ssh://{})",
        ssh.destination
    );
    let mut env = ssh.env();
    env.extend(remote_env.iter().cloned());
    check(
        &mut failures,
        "the suites over SSH",
        run_tests_with(&REMOTE_SUITES, busybox, python, &env)?,
    );
    ssh.stop();

    // The engine pool over the main engine and the TLS one; the test
    // stops the TLS engine half-way.
    eprintln!("test-docker: the engine pool (unix + TLS, the TLS engine stopped mid-run)");
    let pool_args = [
        "test",
        "-p",
        "deepagent-docker",
        "--features",
        "engine-tests",
        "--test",
        "pool",
    ];
    check(
        &mut failures,
        "the engine pool test",
        run_tests_with(&pool_args, busybox, python, &remote_env)?,
    );
    if !tls.running() {
        // What died with the engine stays on its disk; look at it.
        tls.stop();
        tls.launch()?;
        let left = tls_leftovers(&tls)?;
        if !left.is_empty() {
            eprintln!(
                "test-docker: {} container(s) of sessions whose engine was stopped under them (expected; removed): {}",
                left.len(),
                left.join(", ")
            );
        }
    } else {
        let left = tls_leftovers(&tls)?;
        if !left.is_empty() {
            failures.push(format!(
                "{} sandbox container(s) left on the TLS engine after the pool test: {}",
                left.len(),
                left.join(", ")
            ));
        }
    }
    tls.stop();
    drop(tls);
    drop(ssh);
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        eprintln!("test-docker: could not remove {}: {e}", dir.display());
    }
    Ok(failures)
}

/// The labelled containers on the TLS engine, removed.
fn tls_leftovers(tls: &crate::remote::TlsEngine) -> crate::Result<Vec<String>> {
    let out = tls.docker(&[
        "ps",
        "-a",
        "--filter",
        LABEL_FILTER,
        "--format",
        "{{.Names}}",
    ])?;
    let names: Vec<String> = out
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if !names.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(names.iter().map(String::as_str));
        tls.docker(&args)?;
    }
    Ok(names)
}

/// The Docker test binaries of deepagent-reliability (its `tests/docker_*.rs`).
const RELIABILITY_DOCKER_TESTS: [&str; 22] = [
    "test",
    "--no-fail-fast",
    "-p",
    "deepagent-reliability",
    "--test",
    "docker_faults",
    "--test",
    "docker_engine_down",
    "--test",
    "docker_panic_reaper",
    "--test",
    "docker_host_trust",
    "--test",
    "docker_large_files",
    "--test",
    "docker_lifecycle",
    "--test",
    "docker_kill_tree",
    "--test",
    "docker_hardening",
    "--test",
    "docker_permissions",
];

/// `cargo <args>` with the variables that make the Docker tests use the
/// local images and fail (not skip) without an engine.
fn run_tests(args: &[&str], busybox: &str, python: &str) -> crate::Result<ExitStatus> {
    run_tests_with(args, busybox, python, &[])
}

/// `run_tests` with more environment (a remote engine's).
fn run_tests_with(
    args: &[&str],
    busybox: &str,
    python: &str,
    env: &[(&str, String)],
) -> crate::Result<ExitStatus> {
    eprintln!("test-docker: cargo {}", args.join(" "));
    Command::new(cargo())
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("DEEPAGENT_REQUIRE_DOCKER", "1")
        .env("DEEPAGENT_TEST_IMAGE", busybox)
        .env("DEEPAGENT_TEST_PYTHON_IMAGE", python)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn check_engine() -> crate::Result {
    let out = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run the docker CLI ({e}); {START_HINT}"))?;
    if !out.status.success() {
        return Err(format!(
            "no Docker engine answers ({}); {START_HINT}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    eprintln!(
        "test-docker: engine {}",
        String::from_utf8_lossy(&out.stdout).trim()
    );
    Ok(())
}

fn image_exists(tag: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", tag])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn tag_current(tag: &str, repo: &str) -> crate::Result {
    run(Command::new("docker").args(["tag", tag, &format!("{repo}:current")]))
}

/// `deepagent-test/busybox:<hash>` from Debian's busybox-static.
pub(crate) fn busybox_image() -> crate::Result<String> {
    let busybox = Path::new("/bin/busybox");
    let version =
        capture(Command::new("dpkg-query").args(["-W", "-f=${Version}", "busybox-static"]))
            .map_err(|e| format!("{e}; install it with `apt-get install busybox-static`"))?;
    let repo = "deepagent-test/busybox";
    let tag = format!(
        "{repo}:{:016x}",
        fnv1a64(format!("{BUSYBOX_RECIPE}\n{version}").as_bytes())
    );
    if !image_exists(&tag) {
        eprintln!("test-docker: building {tag} from busybox-static {version}");
        let dir = scratch_dir("busybox-rootfs")?;
        for sub in ["bin", "tmp", "etc", "root", "workspace"] {
            std::fs::create_dir_all(dir.join(sub)).map_err(|e| format!("mkdir: {e}"))?;
        }
        // Like any /tmp: every user may create files there.
        std::fs::set_permissions(
            dir.join("tmp"),
            std::os::unix::fs::PermissionsExt::from_mode(0o1777),
        )
        .map_err(|e| format!("chmod tmp: {e}"))?;
        std::fs::copy(busybox, dir.join("bin/busybox"))
            .map_err(|e| format!("cannot copy {}: {e}", busybox.display()))?;
        std::fs::write(
            dir.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
        )
        .map_err(|e| format!("cannot write passwd: {e}"))?;
        std::fs::write(dir.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")
            .map_err(|e| format!("cannot write group: {e}"))?;
        // Install the applet links with the static binary itself: it
        // runs on the host, and the links are relative to the rootfs.
        run(Command::new(dir.join("bin/busybox")).args([
            "--install",
            "-s",
            &dir.join("bin").display().to_string(),
        ]))?;
        relink_applets(&dir)?;
        import(&dir, &tag)?;
        let _ = std::fs::remove_dir_all(&dir);
    }
    tag_current(&tag, repo)?;
    Ok(tag)
}

/// `busybox --install -s DIR` links to the binary's host path; make every
/// link point at `/bin/busybox` inside the image.
fn relink_applets(root: &Path) -> crate::Result {
    let bin = root.join("bin");
    for entry in std::fs::read_dir(&bin).map_err(|e| format!("read {}: {e}", bin.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == "busybox") {
            continue;
        }
        if entry.file_type().map_err(|e| e.to_string())?.is_symlink() {
            std::fs::remove_file(&path).map_err(|e| e.to_string())?;
            std::os::unix::fs::symlink("/bin/busybox", &path).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// `deepagent-test/python:<hash>` from debootstrap.
fn python_image() -> crate::Result<String> {
    let mirror = debian_mirror()?;
    let repo = "deepagent-test/python";
    let tag = format!(
        "{repo}:{:016x}",
        fnv1a64(format!("{PYTHON_RECIPE}\n{mirror}").as_bytes())
    );
    if !image_exists(&tag) {
        eprintln!("test-docker: building {tag} with debootstrap from {mirror} (a few minutes)");
        let dir = scratch_dir("python-rootfs")?;
        run(Command::new("debootstrap").args([
            "--variant=minbase",
            "--include=python3",
            "bookworm",
            &dir.display().to_string(),
            &mirror,
        ]))
        .map_err(|e| format!("{e} (install it with `apt-get install debootstrap`)"))?;
        std::fs::create_dir_all(dir.join("workspace")).map_err(|e| e.to_string())?;
        // Caches and docs make the image bigger and the import slower.
        for junk in ["var/cache/apt/archives", "usr/share/doc", "usr/share/man"] {
            let _ = std::fs::remove_dir_all(dir.join(junk));
        }
        import(&dir, &tag)?;
        let _ = std::fs::remove_dir_all(&dir);
    }
    tag_current(&tag, repo)?;
    Ok(tag)
}

/// The Debian archive apt uses here (deb822 `.sources` or `sources.list`),
/// unless DEEPAGENT_DEBIAN_MIRROR names one.
fn debian_mirror() -> crate::Result<String> {
    if let Ok(m) = std::env::var("DEEPAGENT_DEBIAN_MIRROR") {
        return Ok(m);
    }
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        if let Some(m) = mirror_in(&text) {
            return Ok(m);
        }
    }
    Err(
        "no Debian bookworm mirror found in /etc/apt/sources.list*; set DEEPAGENT_DEBIAN_MIRROR"
            .into(),
    )
}

/// The first URI serving the `bookworm` suite (not -security/-updates).
fn mirror_in(text: &str) -> Option<String> {
    // One-line format: deb [opts] URI SUITE COMPONENTS...
    for line in text.lines() {
        let words: Vec<&str> = line
            .split_whitespace()
            .filter(|w| !w.starts_with('[') && !w.ends_with(']'))
            .collect();
        if words.first() == Some(&"deb") && words.get(2) == Some(&"bookworm") {
            return words.get(1).map(|s| s.to_string());
        }
    }
    // deb822 stanzas.
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .map(|v| v.trim().to_owned())
            })
        };
        let suites = field("Suites").unwrap_or_default();
        if suites.split_whitespace().any(|s| s == "bookworm") {
            if let Some(uri) =
                field("URIs").and_then(|u| u.split_whitespace().next().map(str::to_owned))
            {
                return Some(uri);
            }
        }
    }
    None
}

fn import(dir: &Path, tag: &str) -> crate::Result {
    let mut tar = Command::new("tar")
        .args([
            "-C",
            &dir.display().to_string(),
            "--numeric-owner",
            "-c",
            ".",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    let stdout = tar.stdout.take().ok_or("tar has no stdout")?;
    let status = Command::new("docker")
        .args(["import", "--change", "WORKDIR /workspace", "-", tag])
        .stdin(stdout)
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run docker import: {e}"))?;
    let tar_status = tar.wait().map_err(|e| e.to_string())?;
    if !status.success() || !tar_status.success() {
        return Err(format!("importing {} as {tag} failed", dir.display()));
    }
    Ok(())
}

fn scratch_dir(name: &str) -> crate::Result<PathBuf> {
    let base = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("target"));
    let dir = base.join("xtask-docker").join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // debootstrap wants an absolute target.
    std::fs::canonicalize(&dir).map_err(|e| e.to_string())
}

fn labelled_containers() -> crate::Result<Vec<String>> {
    let out = capture(Command::new("docker").args([
        "ps",
        "-a",
        "--filter",
        LABEL_FILTER,
        "--format",
        "{{.Names}}",
    ]))?;
    Ok(out
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect())
}

fn remove_containers(names: &[String]) -> crate::Result {
    run(Command::new("docker").args(["rm", "-f"]).args(names))
}

fn run(cmd: &mut Command) -> crate::Result {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed ({status})"))
    }
}

fn capture(cmd: &mut Command) -> crate::Result<String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// FNV-1a 64: a stable recipe hash without a dependency.
fn fnv1a64(data: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_mirror_in_both_formats() {
        let deb822 = "Types: deb\nURIs: http://deb.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://deb.example/debian-security\nSuites: bookworm-security\n";
        assert_eq!(
            mirror_in(deb822).as_deref(),
            Some("http://deb.example/debian")
        );
        let one_line = "deb [arch=amd64] http://m.example/debian bookworm main\n";
        assert_eq!(
            mirror_in(one_line).as_deref(),
            Some("http://m.example/debian")
        );
        assert_eq!(
            mirror_in("Types: deb\nURIs: http://x\nSuites: nodistro\n"),
            None
        );
    }
}
