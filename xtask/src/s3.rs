//! `cargo xtask test-s3 [--bench]`: run the object-store tests against a
//! real S3-compatible server.
//!
//! 1. Makes a venv under `target/moto-venv` with moto's server (PyPI
//!    `moto[server]`, pinned), unless it is there already.
//! 2. Starts `moto_server` on 127.0.0.1 on a free port (its log in
//!    `target/moto-server.log`), waits until it answers, creates the test
//!    bucket with boto3.
//! 3. Runs `cargo test -p deepagent-object-store --features s3-tests
//!    --test s3 --test s3_edit_storm` (the conformance suite over HTTP,
//!    the error cases, 8 processes × 25 edits of one object) with
//!    `DEEPAGENT_TEST_S3_URL` and the `AWS_*` variables pointing at moto,
//!    then the `object_store_mount` example against it.
//! 4. `--bench` also runs the ignored measurements (grep over 10,000
//!    objects against a boto3 loop; 1,000 writes and reads through the
//!    composite against direct object_store calls) and prints them.
//! 5. Stops the server by its PID, also when a step failed.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The moto release these tests were written against (conditional puts
/// with If-Match need 5.1 or later).
const MOTO: &str = "moto[server]==5.2.5";
const BUCKET: &str = "deepagent-test";

pub fn test_s3(args: &[String]) -> crate::Result {
    let bench = args.iter().any(|a| a == "--bench");
    if let Some(other) = args.iter().find(|a| a.as_str() != "--bench") {
        return Err(format!(
            "unknown argument {other:?} (usage: cargo xtask test-s3 [--bench])"
        ));
    }
    let root = workspace_root();
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let venv = moto_venv(&target)?;
    let server = MotoServer::start(&venv, &target)?;
    eprintln!("test-s3: moto listening on {}", server.endpoint);
    create_bucket(&venv, &server.endpoint)?;

    let env = server.env();
    let tests = run_cargo(
        &root,
        &[
            "test",
            "-p",
            "deepagent-object-store",
            "--features",
            "s3-tests",
            "--test",
            "s3",
            "--test",
            "s3_edit_storm",
        ],
        &env,
    )?;
    let example = run_cargo(
        &root,
        &[
            "run",
            "-p",
            "deepagent",
            "--features",
            "object-store-aws",
            "--example",
            "object_store_mount",
        ],
        &env,
    )?;
    let measured = if bench {
        let python = venv.join("bin/python");
        let mut bench_env = env.clone();
        bench_env.push((
            "DEEPAGENT_S3_BENCH_PYTHON".into(),
            python.display().to_string(),
        ));
        bench_env.push((
            "DEEPAGENT_S3_BENCH_SCRIPT".into(),
            root.join("xtask/bench/python/s3_grep.py")
                .display()
                .to_string(),
        ));
        Some(run_cargo(
            &root,
            &[
                "test",
                "-p",
                "deepagent-object-store",
                "--features",
                "s3-tests",
                "--test",
                "s3_bench",
                "--",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ],
            &bench_env,
        )?)
    } else {
        None
    };
    drop(server);

    if !tests {
        return Err("the S3 tests failed against moto".into());
    }
    if !example {
        return Err("the object_store_mount example failed against moto".into());
    }
    if measured == Some(false) {
        return Err("the S3 measurements failed".into());
    }
    eprintln!("test-s3: all S3 tests passed against moto; server stopped");
    Ok(())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `target/moto-venv` with moto's server, made once.
fn moto_venv(target: &Path) -> crate::Result<PathBuf> {
    let venv = target.join("moto-venv");
    let python = venv.join("bin/python");
    let probe = "import importlib.metadata as m, boto3, flask; assert m.version('moto') == '5.2.5'";
    let ready = python.exists()
        && Command::new(&python)
            .args(["-c", probe])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if ready {
        return Ok(venv);
    }
    eprintln!("test-s3: creating {} with {MOTO}", venv.display());
    let status = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .map_err(|e| {
            format!("cannot run python3 ({e}); install it (`apt-get install python3 python3-venv`)")
        })?;
    if !status.success() {
        return Err(format!(
            "python3 -m venv {} failed ({status}); on Debian install python3-venv",
            venv.display()
        ));
    }
    let status = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", MOTO])
        .status()
        .map_err(|e| format!("cannot run pip: {e}"))?;
    if !status.success() {
        return Err(format!(
            "pip install {MOTO} failed ({status}); is PyPI reachable?"
        ));
    }
    Ok(venv)
}

/// The moto server we started; dropping it stops it (by its PID).
struct MotoServer {
    child: Child,
    endpoint: String,
}

impl MotoServer {
    fn start(venv: &Path, target: &Path) -> crate::Result<Self> {
        let port = free_port()?;
        let log_path = target.join("moto-server.log");
        let log = std::fs::File::create(&log_path)
            .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
        let err_log = log
            .try_clone()
            .map_err(|e| format!("cannot share the log file: {e}"))?;
        let child = Command::new(venv.join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .spawn()
            .map_err(|e| format!("cannot start moto_server: {e}"))?;
        let server = MotoServer {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(format!(
                    "moto_server did not listen on 127.0.0.1:{port} within 60 s; see {}",
                    log_path.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    /// What the tests need to find the server, and nothing that could
    /// send them to a real AWS account.
    fn env(&self) -> Vec<(String, String)> {
        [
            ("DEEPAGENT_TEST_S3_URL", format!("s3://{BUCKET}")),
            ("DEEPAGENT_REQUIRE_S3", "1".into()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> crate::Result<u16> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot find a free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("cannot read the free port: {e}"))
}

fn create_bucket(venv: &Path, endpoint: &str) -> crate::Result {
    let script = format!(
        "import boto3\n\
         s3 = boto3.client('s3', endpoint_url='{endpoint}', aws_access_key_id='testing', \
         aws_secret_access_key='testing', region_name='us-east-1')\n\
         s3.create_bucket(Bucket='{BUCKET}')\n"
    );
    let status = Command::new(venv.join("bin/python"))
        .args(["-c", &script])
        .status()
        .map_err(|e| format!("cannot run the venv's python: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "creating the bucket {BUCKET} on {endpoint} failed ({status})"
        ))
    }
}

/// `cargo <args>` with `env`, and without AWS variables that could point
/// the tests elsewhere. Returns whether it succeeded.
fn run_cargo(root: &Path, args: &[&str], env: &[(String, String)]) -> crate::Result<bool> {
    eprintln!("test-s3: cargo {}", args.join(" "));
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    cmd.current_dir(root).args(args);
    for key in [
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT",
        "AWS_DEFAULT_REGION",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ] {
        cmd.env_remove(key);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    Ok(status.success())
}
