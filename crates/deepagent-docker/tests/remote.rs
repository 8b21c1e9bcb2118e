//! Remote engines for real: the TLS engine and the sshd that
//! `cargo xtask test-docker` starts on 127.0.0.1 (see xtask/src/remote.rs),
//! named by `DEEPAGENT_TEST_TLS_*` and `DEEPAGENT_TEST_SSH*`. Without
//! them each test says it skipped.
//!
//! - a wrong client certificate, a wrong CA and plain HTTP against the
//!   TLS engine are errors naming the address and the fix;
//! - an `ssh://` engine configured in code (key, known_hosts file) runs
//!   commands, and a wrong key or an unknown host is an error that says
//!   what ssh said;
//! - `execute("true")` over TLS against `docker --tlsverify exec` on the
//!   same engine (printed; the target is at most half the CLI's time).

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use deepagent_core::{ErrorKind, Sandbox};
use deepagent_docker::{DockerSandbox, EngineConfig, RuntimeConfig, TlsFiles};

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The TLS engine's address and good client certificates, or `None`
/// (and a note) when no TLS engine was started for this run.
fn tls_engine() -> Option<(String, PathBuf)> {
    match (
        var("DEEPAGENT_TEST_TLS_ADDRESS"),
        var("DEEPAGENT_TEST_TLS_CERTS"),
    ) {
        (Some(a), Some(c)) => Some((a, PathBuf::from(c))),
        _ => {
            common::say("skipped: no TLS engine (cargo xtask test-docker starts one)");
            None
        }
    }
}

fn ssh_engine() -> Option<(String, PathBuf, PathBuf)> {
    match (
        var("DEEPAGENT_TEST_SSH"),
        var("DEEPAGENT_TEST_SSH_KEY"),
        var("DEEPAGENT_TEST_SSH_KNOWN_HOSTS"),
    ) {
        (Some(d), Some(k), Some(h)) => Some((d, PathBuf::from(k), PathBuf::from(h))),
        _ => {
            common::say("skipped: no sshd (cargo xtask test-docker starts one)");
            None
        }
    }
}

#[tokio::test]
async fn tls_with_a_client_certificate_the_engine_does_not_trust_is_named() {
    let Some((address, _)) = tls_engine() else {
        return;
    };
    let Some(untrusted) = var("DEEPAGENT_TEST_TLS_UNTRUSTED") else {
        return;
    };
    let e = EngineConfig::tcp(&address)
        .with_tls(TlsFiles::from_dir(&untrusted))
        .connect()
        .await
        .expect_err("the engine refuses a stranger's certificate");
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    let text = e.to_string();
    assert!(text.contains(&format!("tcp://{address}")), "{text}");
    assert!(text.contains("TLS with the Docker engine"), "{text}");
    assert!(
        text.contains("client certificate signed by a CA the engine trusts"),
        "{text}"
    );
}

#[tokio::test]
async fn tls_with_the_wrong_ca_is_named() {
    let Some((address, _)) = tls_engine() else {
        return;
    };
    let Some(wrong_ca) = var("DEEPAGENT_TEST_TLS_WRONG_CA") else {
        return;
    };
    let e = EngineConfig::tcp(&address)
        .with_tls(TlsFiles::from_dir(&wrong_ca))
        .connect()
        .await
        .expect_err("the engine's certificate is not signed by that CA");
    let text = e.to_string();
    assert!(text.contains(&format!("tcp://{address}")), "{text}");
    assert!(text.contains("ca.pem"), "names the CA file: {text}");
    assert!(text.to_ascii_lowercase().contains("certificate"), "{text}");
}

#[tokio::test]
async fn plain_http_against_the_tls_engine_says_to_turn_tls_on() {
    let Some((address, _)) = tls_engine() else {
        return;
    };
    let e = EngineConfig::tcp(&address)
        .connect()
        .await
        .expect_err("the engine wants TLS");
    let text = e.to_string();
    assert!(text.contains(&format!("tcp://{address}")), "{text}");
    assert!(text.contains("speaks TLS"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ssh_engine_configured_in_code_runs_commands() {
    let Some((destination, key, known_hosts)) = ssh_engine() else {
        return;
    };
    let engine = EngineConfig::ssh(&destination)
        .with_ssh_identity(&key)
        .with_ssh_known_hosts(&known_hosts);
    let sandbox = DockerSandbox::builder(
        RuntimeConfig::new("remote-ssh", common::busybox_image()).run_as_image_user(),
    )
    .engine(engine)
    .build()
    .expect("valid runtime");
    let ran = sandbox.execute("echo over-ssh", None).await;
    let shut = sandbox.shutdown().await;
    let ran = ran.expect("execute over ssh");
    assert_eq!((ran.exit_code, ran.output.as_str()), (0, "over-ssh\n"));
    shut.expect("shutdown over ssh");
}

#[tokio::test]
async fn ssh_refusals_say_what_ssh_said() {
    let Some((destination, _key, known_hosts)) = ssh_engine() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    // A key the server does not know.
    let stranger = dir.path().join("no-such-key");
    let e = EngineConfig::ssh(&destination)
        .with_ssh_identity(&stranger)
        .with_ssh_known_hosts(&known_hosts)
        .connect()
        .await
        .expect_err("no key the server accepts");
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    let text = e.to_string();
    assert!(text.contains(&format!("ssh://{destination}")), "{text}");
    assert!(text.contains("Permission denied"), "{text}");
    // A host missing from the known_hosts file.
    let empty = dir.path().join("known_hosts");
    std::fs::write(&empty, "").expect("write");
    let key = PathBuf::from(var("DEEPAGENT_TEST_SSH_KEY").unwrap_or_default());
    let e = EngineConfig::ssh(&destination)
        .with_ssh_identity(&key)
        .with_ssh_known_hosts(&empty)
        .connect()
        .await
        .expect_err("unknown host");
    let text = e.to_string();
    assert!(text.contains("Host key verification failed"), "{text}");
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Issue 14, item 7: `execute("true")` over TLS against `docker
/// --tlsverify exec` on the same engine and container. Target: at most
/// half the CLI's time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_over_tls_against_docker_exec() {
    let Some((address, certs)) = tls_engine() else {
        return;
    };
    let engine = EngineConfig::tcp(&address).with_tls(TlsFiles::from_dir(&certs));
    let sandbox = DockerSandbox::builder(
        RuntimeConfig::new("remote-timing", common::busybox_image()).run_as_image_user(),
    )
    .engine(engine)
    .build()
    .expect("valid runtime");
    // Start the container and the shell; warm both paths up.
    sandbox.execute("true", None).await.expect("execute");
    const RUNS: usize = 30;
    let mut ours = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let r = sandbox.execute("true", None).await.expect("execute");
        ours.push(t.elapsed());
        assert_eq!(r.exit_code, 0);
    }
    let name = sandbox.container_name().to_owned();
    let mut cli = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        let out = std::process::Command::new("docker")
            .args([
                "--tlsverify",
                "-H",
                &format!("tcp://{address}"),
                "exec",
                &name,
                "true",
            ])
            .env("DOCKER_CERT_PATH", &certs)
            .output()
            .expect("run docker");
        cli.push(t.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    sandbox.shutdown().await.expect("shutdown");
    let (ours, cli) = (median(ours), median(cli));
    let ratio = ours.as_secs_f64() / cli.as_secs_f64();
    common::say(&format!(
        "execute(\"true\") over TLS: median {:.2} ms ({RUNS} runs); docker --tlsverify exec: median {:.2} ms (10 runs); ratio {ratio:.3} (target <= 0.5)",
        ours.as_secs_f64() * 1e3,
        cli.as_secs_f64() * 1e3,
    ));
    assert!(ratio <= 0.5, "execute over TLS is {ratio:.2}x docker exec");
}
