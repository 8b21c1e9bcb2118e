//! Everything the bench needs, prepared by the bench itself: the Python
//! virtual environment, ripgrep, the release-built runner, the data.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Result;

/// The release of the original the issue names: the last one with
/// LocalBackend and CompositeBackend. The `docker` extra brings the Docker
/// SDK its DockerSandbox needs.
pub const PYTHON_PACKAGE: &str = "pydantic-ai-backend[docker]==0.2.20";
const PYTHON_VERSION: &str = "0.2.20";

/// Runs a command, failing with its name when it cannot start or fails.
pub fn run(cmd: &mut Command) -> Result {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

/// `target/bench/venv` with pydantic-ai-backend installed; returns its
/// python. Reuses a venv that already has the right version.
pub fn venv(bench_dir: &Path) -> Result<PathBuf> {
    let venv = bench_dir.join("venv");
    let python = venv.join("bin/python");
    let probe = format!(
        "import importlib.metadata as m, docker, pydantic_ai_backends; \
         assert m.version('pydantic-ai-backend') == '{PYTHON_VERSION}'"
    );
    let ready = python.exists()
        && Command::new(&python)
            .args(["-c", &probe])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if ready {
        return Ok(python);
    }
    eprintln!("bench: creating {} with {PYTHON_PACKAGE}", venv.display());
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    run(Command::new(&python).args(["-m", "pip", "install", "--quiet", PYTHON_PACKAGE]))?;
    Ok(python)
}

/// Makes sure ripgrep's `rg` is on PATH, installing Debian's package when
/// it is not and we may.
pub fn ripgrep() -> Result {
    if found("rg", "--version") {
        return Ok(());
    }
    eprintln!("bench: rg not found; installing Debian's ripgrep package");
    let sudo = !is_root();
    let mut cmd = if sudo {
        Command::new("sudo")
    } else {
        Command::new("apt-get")
    };
    if sudo {
        cmd.arg("apt-get");
    }
    run(cmd.args(["install", "-y", "ripgrep"]))
        .map_err(|e| format!("{e}; install ripgrep (`apt-get install ripgrep`) and rerun"))?;
    if found("rg", "--version") {
        Ok(())
    } else {
        Err("ripgrep was installed but `rg` is still not on PATH".into())
    }
}

fn found(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// The variable that names the image the Docker workload runs; both the
/// runner and the Python script read it.
pub const IMAGE_VAR: &str = "DEEPAGENT_BENCH_IMAGE";

/// Images tried, in order, when `DEEPAGENT_BENCH_IMAGE` is unset: the
/// ones `cargo xtask test-docker` builds, then common small ones. Only
/// images already on the engine are used; the bench never pulls.
const IMAGE_CANDIDATES: &[&str] = &[
    "deepagent-test/busybox:current",
    "busybox:latest",
    "alpine:latest",
    "debian:bookworm-slim",
];

/// A local image with a shell for the Docker workload, or why there is
/// none. When none of the candidates is on the engine, builds the busybox
/// test image the way `cargo xtask test-docker` does (from Debian's
/// `busybox-static`, never pulled).
pub fn docker_image() -> std::result::Result<String, String> {
    if let Ok(image) = std::env::var(IMAGE_VAR) {
        return Ok(image);
    }
    let found = IMAGE_CANDIDATES.iter().find(|image| {
        Command::new("docker")
            .args(["image", "inspect", image])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    match found {
        Some(image) => Ok((*image).to_owned()),
        None => crate::docker::busybox_image().map_err(|e| {
            format!(
                "skipped: no local image with a shell, and building one failed ({e}); \
                 set {IMAGE_VAR} to an image on the engine"
            )
        }),
    }
}

/// True when a Docker engine answers `docker info`.
pub fn docker_engine() -> bool {
    found("docker", "info")
}

/// Builds `deepagent-bench` in release mode and returns the executable.
pub fn build_runner(root: &Path, docker: bool) -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).args([
        "build",
        "--release",
        "-p",
        "deepagent-bench",
        "--message-format=json-render-diagnostics",
    ]);
    if docker {
        cmd.args(["--features", "docker"]);
    }
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err("building deepagent-bench failed".into());
    }
    // The last compiler-artifact line for the binary names the executable,
    // wherever CARGO_TARGET_DIR points.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("executable")?.as_str().map(PathBuf::from))
        .next_back()
        .ok_or_else(|| "cargo did not report the deepagent-bench executable".into())
}
