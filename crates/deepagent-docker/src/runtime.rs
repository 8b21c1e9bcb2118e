//! What a sandbox runs: the image, how to build it, and the container's
//! limits.

use deepagent_core::{BackendError, Result};

use crate::hash::fnv1a64;

/// How a runtime's `packages` are installed when its image is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PackageManager {
    /// `pip install --no-cache-dir ...`
    Pip,
    /// `npm install -g ...`
    Npm,
    /// `apt-get install -y --no-install-recommends ...`
    Apt,
}

/// A host directory (or named volume) mounted into the container.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct VolumeMount {
    /// Host path or volume name.
    pub source: String,
    /// Absolute path inside the container.
    pub target: String,
    /// Mount read-only.
    pub read_only: bool,
}

impl VolumeMount {
    /// A mount of `source` (host path or volume name) at `target`; see
    /// also [`RuntimeConfig::volume`].
    pub fn new(source: impl Into<String>, target: impl Into<String>, read_only: bool) -> Self {
        VolumeMount {
            source: source.into(),
            target: target.into(),
            read_only,
        }
    }
}

/// Everything a [`DockerSandbox`](crate::DockerSandbox) needs to know about
/// its container.
///
/// Either `image` names an image the engine already has, or `base_image`
/// plus `packages` / `setup_commands` describe one to build: it is built
/// once from a generated Dockerfile and cached under a tag derived from the
/// Dockerfile's content (see [`RuntimeConfig::effective_image`]).
///
/// Hardened by default: every capability dropped except
/// [`DEFAULT_CAPABILITIES`], `no-new-privileges`, at most 512 processes and
/// 2 GiB of memory, and commands run as uid 65534 (`nobody`, which needs no
/// passwd entry). A read-only root filesystem
/// ([`RuntimeConfig::read_only_root`]) and another OCI runtime such as
/// gVisor's `runsc` ([`RuntimeConfig::oci_runtime`]) are options.
///
/// ```
/// use deepagent_docker::RuntimeConfig;
/// let rt = RuntimeConfig::builtin("python-minimal")?;
/// assert_eq!(rt.work_dir, "/workspace");
/// assert!(!rt.network_enabled);
/// assert_eq!(rt.run_as_uid, Some(65534));
/// assert_eq!(rt.pids_limit, Some(512));
/// assert_eq!(rt.memory_bytes, Some(2 << 30));
/// assert!(rt.no_new_privileges);
/// let custom = RuntimeConfig::new("tools", "busybox:latest").memory_limit(256 << 20);
/// assert_eq!(custom.memory_bytes, Some(256 << 20));
/// # Ok::<(), deepagent_core::BackendError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RuntimeConfig {
    /// A short name, used in labels, messages and built image tags.
    pub name: String,
    /// What the runtime is for (shown to people choosing one).
    pub description: String,
    /// The image to run when `base_image` is `None`.
    pub image: String,
    /// Build from this image instead, adding `packages` and `setup_commands`.
    pub base_image: Option<String>,
    /// Packages installed at build time with `package_manager`.
    pub packages: Vec<String>,
    /// How `packages` are installed.
    pub package_manager: PackageManager,
    /// Shell commands run at build time (`RUN`), after the packages.
    pub setup_commands: Vec<String>,
    /// Environment variables for the container (and the build).
    pub env_vars: Vec<(String, String)>,
    /// Where commands start (default `/workspace`). File paths are not
    /// relative to it: a relative path is taken from `/` on every backend;
    /// wrap the sandbox in `Scoped` to present this directory as `/`.
    pub work_dir: String,
    /// Run commands as this uid (default 65534; `None`: the image's user).
    /// The file tools (`read`, `write`, `edit`, `grep`, `ls`, `glob`) act
    /// as this uid too, so they can touch exactly what a command can; with
    /// `None` they act as root.
    pub run_as_uid: Option<u32>,
    /// Give the container a network (default false: `network_mode = none`).
    pub network_enabled: bool,
    /// Memory limit in bytes (default 2 GiB).
    pub memory_bytes: Option<i64>,
    /// CPU limit in CPUs (e.g. 1.5; default none).
    pub cpus: Option<f64>,
    /// Maximum number of processes (default 512).
    pub pids_limit: Option<i64>,
    /// Bind mounts and volumes.
    pub volumes: Vec<VolumeMount>,
    /// The Linux capabilities the container keeps; every other one is
    /// dropped (default [`DEFAULT_CAPABILITIES`]). Names as Docker spells
    /// them, without `CAP_`.
    pub capabilities: Vec<String>,
    /// Set `no-new-privileges`: setuid binaries and file capabilities
    /// give nothing (default true).
    pub no_new_privileges: bool,
    /// Mount the image's filesystem read-only, with a writable volume at
    /// `work_dir` and a tmpfs at `/tmp` (default false).
    pub read_only_root: bool,
    /// The OCI runtime the engine runs the container with, e.g. `runsc`
    /// for gVisor (default: the engine's, normally `runc`). The engine
    /// must know it (`dockerd --add-runtime runsc=/usr/bin/runsc`).
    pub oci_runtime: Option<String>,
}

/// The capabilities a container keeps by default, each for a part of the
/// sandbox that runs as root inside it: `CHOWN` and `FOWNER` to give
/// files to the command user and keep modes on edit, `DAC_OVERRIDE` for
/// the root helpers that list, read and write files, `KILL` to stop the
/// command user's processes at a timeout, `SETUID` and `SETGID` to start
/// each command as the command user below a root-owned reaper. Everything
/// else (`NET_RAW`, `MKNOD`, `SYS_CHROOT`, `AUDIT_WRITE`, ...) is dropped.
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "KILL",
    "SETUID",
    "SETGID",
];

/// The uid commands run as by default: `nobody` (65534), which works
/// without a passwd entry.
pub const DEFAULT_UID: u32 = 65534;
/// The default memory limit: 2 GiB.
pub const DEFAULT_MEMORY_BYTES: i64 = 2 << 30;
/// The default limit on processes.
pub const DEFAULT_PIDS_LIMIT: i64 = 512;

/// The names [`RuntimeConfig::builtin`] knows.
pub const BUILTIN_RUNTIMES: &[&str] = &[
    "python-minimal",
    "python-datascience",
    "python-web",
    "node-minimal",
];

impl RuntimeConfig {
    /// A runtime that runs `image` as it is.
    pub fn new(name: impl Into<String>, image: impl Into<String>) -> Self {
        RuntimeConfig {
            name: name.into(),
            description: String::new(),
            image: image.into(),
            base_image: None,
            packages: Vec::new(),
            package_manager: PackageManager::Pip,
            setup_commands: Vec::new(),
            env_vars: Vec::new(),
            work_dir: "/workspace".to_owned(),
            run_as_uid: Some(DEFAULT_UID),
            network_enabled: false,
            memory_bytes: Some(DEFAULT_MEMORY_BYTES),
            cpus: None,
            pids_limit: Some(DEFAULT_PIDS_LIMIT),
            volumes: Vec::new(),
            capabilities: DEFAULT_CAPABILITIES
                .iter()
                .map(|c| (*c).to_owned())
                .collect(),
            no_new_privileges: true,
            read_only_root: false,
            oci_runtime: None,
        }
    }

    /// A built-in runtime by name, or an error listing the known names.
    pub fn builtin(name: &str) -> Result<Self> {
        let pip = |name: &str, desc: &str, pkgs: &[&str]| {
            let mut rt = RuntimeConfig::new(name, "python:3.12-slim").description(desc);
            rt.base_image = Some("python:3.12-slim".to_owned());
            rt.packages = pkgs.iter().map(|p| (*p).to_owned()).collect();
            rt.package_manager = PackageManager::Pip;
            rt
        };
        Ok(match name {
            "python-minimal" => RuntimeConfig::new(name, "python:3.12-slim")
                .description("Python 3.12 with the standard library only"),
            "python-datascience" => pip(
                name,
                "Python 3.12 with numpy, pandas, scipy, scikit-learn and matplotlib",
                &["numpy", "pandas", "scipy", "scikit-learn", "matplotlib"],
            ),
            "python-web" => pip(
                name,
                "Python 3.12 with requests, httpx and beautifulsoup4 (enable the network to use them)",
                &["requests", "httpx", "beautifulsoup4"],
            ),
            "node-minimal" => RuntimeConfig::new(name, "node:20-slim")
                .description("Node.js 20 with npm"),
            other => {
                return Err(BackendError::InvalidArgument {
                    message: format!(
                        "unknown runtime {other:?}; known runtimes: {}",
                        BUILTIN_RUNTIMES.join(", ")
                    ),
                })
            }
        })
    }

    /// Sets the description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// Builds from `base` with `packages` installed by `manager`.
    pub fn build_from(
        mut self,
        base: impl Into<String>,
        manager: PackageManager,
        packages: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.base_image = Some(base.into());
        self.package_manager = manager;
        self.packages = packages.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a build-time shell command.
    pub fn setup_command(mut self, command: impl Into<String>) -> Self {
        self.setup_commands.push(command.into());
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env_vars.push((key.into(), value.into()));
        self
    }

    /// Sets the directory commands start in (see [`RuntimeConfig::work_dir`](Self#structfield.work_dir)).
    pub fn work_dir(mut self, dir: impl Into<String>) -> Self {
        self.work_dir = dir.into();
        self
    }

    /// Runs commands, and the file tools, as `uid`.
    pub fn run_as_uid(mut self, uid: u32) -> Self {
        self.run_as_uid = Some(uid);
        self
    }

    /// Runs commands as the image's own user (often root) instead of
    /// uid 65534.
    pub fn run_as_image_user(mut self) -> Self {
        self.run_as_uid = None;
        self
    }

    /// Keeps exactly these capabilities (names without `CAP_`); every
    /// other one is dropped. An empty list drops all, which breaks the
    /// root helpers: see [`DEFAULT_CAPABILITIES`].
    pub fn capabilities(mut self, caps: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.capabilities = caps.into_iter().map(Into::into).collect();
        self
    }

    /// Turns `no-new-privileges` on or off.
    pub fn no_new_privileges(mut self, on: bool) -> Self {
        self.no_new_privileges = on;
        self
    }

    /// Mounts the root filesystem read-only (a volume keeps `work_dir`
    /// writable, a tmpfs `/tmp`).
    pub fn read_only_root(mut self, on: bool) -> Self {
        self.read_only_root = on;
        self
    }

    /// Runs the container with the engine's OCI runtime `name` (e.g.
    /// `runsc`).
    pub fn oci_runtime(mut self, name: impl Into<String>) -> Self {
        self.oci_runtime = Some(name.into());
        self
    }

    /// Turns the container's network on or off.
    pub fn network(mut self, enabled: bool) -> Self {
        self.network_enabled = enabled;
        self
    }

    /// Limits memory to `bytes`.
    pub fn memory_limit(mut self, bytes: i64) -> Self {
        self.memory_bytes = Some(bytes);
        self
    }

    /// Limits CPU time to `cpus` CPUs.
    pub fn cpu_limit(mut self, cpus: f64) -> Self {
        self.cpus = Some(cpus);
        self
    }

    /// Limits the number of processes.
    pub fn pids_limit(mut self, n: i64) -> Self {
        self.pids_limit = Some(n);
        self
    }

    /// Mounts `source` (host path or volume) at `target`.
    pub fn volume(
        mut self,
        source: impl Into<String>,
        target: impl Into<String>,
        read_only: bool,
    ) -> Self {
        self.volumes
            .push(VolumeMount::new(source, target, read_only));
        self
    }

    /// Checks every field that reaches the engine or a Dockerfile; the
    /// error names the field and the runtime.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, why: &str| BackendError::InvalidArgument {
            message: format!("runtime {:?}: {what} {why}", self.name),
        };
        if self.name.is_empty() || !self.name.chars().all(is_name_char) {
            return Err(bad(
                "name",
                "must be non-empty and use only letters, digits, '.', '_' and '-'",
            ));
        }
        if self.base_image.is_none() && self.image.trim().is_empty() {
            return Err(bad("image", "is empty; name an image or set base_image"));
        }
        for image in std::iter::once(&self.image).chain(self.base_image.iter()) {
            if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(bad(&format!("image {image:?}"), "contains whitespace"));
            }
        }
        if !self.work_dir.starts_with('/') || self.work_dir.chars().any(char::is_control) {
            return Err(bad(
                &format!("work_dir {:?}", self.work_dir),
                "must be an absolute path without control characters",
            ));
        }
        for pkg in &self.packages {
            if !is_safe_package(pkg) {
                return Err(bad(
                    &format!("package {pkg:?}"),
                    "is refused: package names may use letters, digits and . _ + - = < > ! ~ @ : / [ ] , and may not start with '-'",
                ));
            }
        }
        for cmd in &self.setup_commands {
            if cmd.contains(['\n', '\r', '\0']) || cmd.trim_end().ends_with('\\') {
                return Err(bad(
                    &format!("setup command {cmd:?}"),
                    "is refused: it must be one line (a newline or trailing backslash would add Dockerfile instructions)",
                ));
            }
        }
        for (key, value) in &self.env_vars {
            let key_ok = !key.is_empty()
                && !key.starts_with(|c: char| c.is_ascii_digit())
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !key_ok {
                return Err(bad(
                    &format!("environment variable name {key:?}"),
                    "is refused: use letters, digits and '_'",
                ));
            }
            if value.contains(['\n', '\r', '\0', '"', '\\', '$']) {
                return Err(bad(
                    &format!("environment value for {key}"),
                    "is refused: newlines, quotes, backslashes and '$' could change the Dockerfile",
                ));
            }
        }
        for cap in &self.capabilities {
            if cap.is_empty() || !cap.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                return Err(bad(
                    &format!("capability {cap:?}"),
                    "is invalid: use Docker's upper-case names without CAP_, e.g. CHOWN",
                ));
            }
        }
        if let Some(rt) = &self.oci_runtime {
            if rt.is_empty() || !rt.chars().all(is_name_char) {
                return Err(bad(
                    &format!("oci_runtime {rt:?}"),
                    "is invalid: use the name the engine knows it by, e.g. runsc",
                ));
            }
        }
        for v in &self.volumes {
            if v.source.is_empty() || v.source.contains([':', '\0']) {
                return Err(bad(&format!("volume source {:?}", v.source), "is invalid"));
            }
            if !v.target.starts_with('/') || v.target.contains([':', '\0']) {
                return Err(bad(
                    &format!("volume target {:?}", v.target),
                    "must be an absolute container path without ':'",
                ));
            }
        }
        if let Some(cpus) = self.cpus {
            if !(cpus.is_finite() && cpus > 0.0) {
                return Err(bad("cpu limit", "must be a positive number"));
            }
        }
        Ok(())
    }

    /// The Dockerfile this runtime builds from, or `None` when it runs
    /// `image` unchanged. Validates first.
    pub fn dockerfile(&self) -> Result<Option<String>> {
        self.validate()?;
        let Some(base) = &self.base_image else {
            return Ok(None);
        };
        let json = |parts: Vec<String>| -> String {
            let quoted: Vec<String> = parts.iter().map(|p| json_string(p)).collect();
            format!("[{}]", quoted.join(", "))
        };
        let mut out = format!("FROM {base}\n");
        for (key, value) in &self.env_vars {
            out.push_str(&format!("ENV {key}=\"{value}\"\n"));
        }
        if !self.packages.is_empty() {
            // Exec form with the packages as separate arguments: no shell
            // ever parses a package name.
            let argv: Vec<String> = match self.package_manager {
                PackageManager::Pip => ["pip", "install", "--no-cache-dir"]
                    .iter()
                    .map(|s| s.to_string())
                    .chain(self.packages.iter().cloned())
                    .collect(),
                PackageManager::Npm => ["npm", "install", "-g"]
                    .iter()
                    .map(|s| s.to_string())
                    .chain(self.packages.iter().cloned())
                    .collect(),
                PackageManager::Apt => [
                    "sh",
                    "-c",
                    "apt-get update && apt-get install -y --no-install-recommends \"$@\" && rm -rf /var/lib/apt/lists/*",
                    "sh",
                ]
                .iter()
                .map(|s| s.to_string())
                .chain(self.packages.iter().cloned())
                .collect(),
            };
            out.push_str(&format!("RUN {}\n", json(argv)));
        }
        for cmd in &self.setup_commands {
            out.push_str(&format!("RUN {cmd}\n"));
        }
        out.push_str(&format!("WORKDIR {}\n", json_string(&self.work_dir)));
        Ok(Some(out))
    }

    /// The image the container runs: `image`, or for a runtime that is
    /// built, `deepagent-runtime/<name>:<hash of the Dockerfile>`.
    pub fn effective_image(&self) -> Result<String> {
        Ok(match self.dockerfile()? {
            None => self.image.clone(),
            Some(dockerfile) => format!(
                "deepagent-runtime/{}:{:016x}",
                self.name.to_ascii_lowercase(),
                fnv1a64(dockerfile.as_bytes())
            ),
        })
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn is_safe_package(pkg: &str) -> bool {
    !pkg.is_empty()
        && !pkg.starts_with('-')
        && pkg.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    '.' | '_'
                        | '+'
                        | '-'
                        | '='
                        | '<'
                        | '>'
                        | '!'
                        | '~'
                        | '@'
                        | ':'
                        | '/'
                        | '['
                        | ']'
                        | ','
                )
        })
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_runtime_lists_known_names() {
        let err = RuntimeConfig::builtin("ruby").unwrap_err().to_string();
        assert!(err.contains("\"ruby\""), "{err}");
        for name in BUILTIN_RUNTIMES {
            assert!(err.contains(name), "{err}");
            assert!(RuntimeConfig::builtin(name).is_ok());
        }
    }

    #[test]
    fn injection_is_refused() {
        let base =
            RuntimeConfig::new("x", "img").build_from("debian", PackageManager::Apt, ["curl"]);
        assert!(base.validate().is_ok());
        for pkg in [
            "curl\nRUN rm -rf /",
            "a;b",
            "$(id)",
            "--index-url=http://x",
            "a b",
            "`x`",
        ] {
            let rt = base
                .clone()
                .build_from("debian", PackageManager::Apt, [pkg]);
            assert!(rt.validate().is_err(), "{pkg:?} accepted");
        }
        assert!(base.clone().env("A", "x\nRUN id").validate().is_err());
        assert!(base.clone().env("A", "${HOME}").validate().is_err());
        assert!(base.clone().env("A B", "x").validate().is_err());
        assert!(base
            .clone()
            .setup_command("echo a\nRUN id")
            .validate()
            .is_err());
        assert!(base.clone().setup_command("echo a \\").validate().is_err());
        assert!(base.clone().work_dir("rel").validate().is_err());
        assert!(base
            .clone()
            .env("PIP_INDEX", "http://mirror/simple")
            .validate()
            .is_ok());
    }

    #[test]
    fn hardened_defaults_and_their_checks() {
        let rt = RuntimeConfig::new("x", "img");
        assert_eq!(rt.run_as_uid, Some(DEFAULT_UID));
        assert_eq!(rt.pids_limit, Some(512));
        assert_eq!(rt.memory_bytes, Some(2 << 30));
        assert!(rt.no_new_privileges && !rt.read_only_root);
        assert_eq!(rt.capabilities, DEFAULT_CAPABILITIES);
        assert!(rt.validate().is_ok());
        assert!(rt.clone().run_as_image_user().run_as_uid.is_none());
        assert!(rt.clone().capabilities(["CAP_X; y"]).validate().is_err());
        assert!(rt.clone().capabilities(["chown"]).validate().is_err());
        assert!(rt.clone().capabilities(["NET_RAW"]).validate().is_ok());
        assert!(rt.clone().oci_runtime("runsc").validate().is_ok());
        assert!(rt.clone().oci_runtime("run sc").validate().is_err());
        assert!(rt.clone().oci_runtime("").validate().is_err());
    }

    #[test]
    fn dockerfile_uses_exec_form_and_tag_follows_content() {
        let rt = RuntimeConfig::new("ds", "unused")
            .build_from(
                "python:3.12-slim",
                PackageManager::Pip,
                ["numpy==2.0", "pandas"],
            )
            .env("MPLBACKEND", "Agg")
            .setup_command("mkdir -p /data");
        let df = rt.dockerfile().unwrap().unwrap();
        assert_eq!(
            df,
            "FROM python:3.12-slim\nENV MPLBACKEND=\"Agg\"\n\
             RUN [\"pip\", \"install\", \"--no-cache-dir\", \"numpy==2.0\", \"pandas\"]\n\
             RUN mkdir -p /data\nWORKDIR \"/workspace\"\n"
        );
        let tag = rt.effective_image().unwrap();
        assert!(tag.starts_with("deepagent-runtime/ds:"), "{tag}");
        assert_eq!(tag, rt.effective_image().unwrap());
        let other = rt.clone().setup_command("true").effective_image().unwrap();
        assert_ne!(tag, other);
        let plain = RuntimeConfig::new("p", "busybox:1");
        assert_eq!(plain.effective_image().unwrap(), "busybox:1");
    }
}
