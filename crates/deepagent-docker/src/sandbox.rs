//! `DockerSandbox`: the container's lifecycle.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, RemoveContainerOptionsBuilder,
    StartContainerOptions,
};
use bollard::Docker;
use deepagent_core::{BackendError, Result, VPath, DEFAULT_OUTPUT_LIMIT};
use tokio::sync::OnceCell;

use crate::engine::{container_gone, status_of, EngineConfig};
use crate::exec::{self, Target};
use crate::image::{ensure_image, missing_image};
use crate::RuntimeConfig;

/// The label every sandbox container carries.
pub const SANDBOX_LABEL: &str = "deepagent.sandbox";
/// The label holding the session id.
pub const SESSION_LABEL: &str = "deepagent.session";
/// The label holding the runtime name.
pub const RUNTIME_LABEL: &str = "deepagent.runtime";

/// The command that keeps the container alive between execs: plain `sh`
/// and `sleep`, so it works on busybox; the trap makes `docker stop`
/// immediate even without an init process.
const KEEPALIVE: &str = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done";

/// A sandbox backed by one Docker container.
///
/// The container is created on first use (not by [`DockerSandbox::new`]),
/// with the network off unless the runtime enables it, and labelled
/// `deepagent.sandbox=1` plus its session id so leftovers can be found
/// ([`SessionManager::reap_orphans`](crate::SessionManager::reap_orphans)).
/// Call [`DockerSandbox::shutdown`] when done. Dropping the last clone
/// without it (the end of `main`, a panic unwinding) removes the container
/// before the drop returns: it blocks the dropping thread for the engine's
/// answer (bounded by [`DROP_REMOVE_WAIT`]). A process that dies without
/// unwinding (killed, `abort`, `process::exit`) leaves its container
/// labelled with its owner and a lease, for
/// [`SessionManager::reap_orphans`](crate::SessionManager::reap_orphans).
///
/// Starting is not undone by cancellation: the container is created by a
/// task of its own, so a caller that gives up (`timeout(.., start())`)
/// leaves a start that finishes, and a [`DockerSandbox::shutdown`] (or the
/// drop) that follows removes what it made.
///
/// A container that dies (stopped, removed, OOM-killed) is **not**
/// restarted: its files died with it, so every later call reports that
/// the container is gone. A [`SessionManager`](crate::SessionManager)
/// replaces dead sandboxes.
///
/// Clones share the container.
#[derive(Clone)]
pub struct DockerSandbox {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) runtime: RuntimeConfig,
    pub(crate) session: String,
    /// The container's name, which is also the sandbox id.
    pub(crate) name: String,
    pub(crate) work_dir: VPath,
    pub(crate) output_limit: usize,
    /// The largest write and read that go through a shell (see `shellfs`).
    pub(crate) shell_write_max: usize,
    pub(crate) shell_read_max: usize,
    /// The engine this sandbox's container runs on.
    pub(crate) engine: EngineConfig,
    /// `engine.address()`, for messages.
    pub(crate) address: String,
    docker: OnceCell<Docker>,
    container: OnceCell<String>,
    /// Held by the task that creates the container, for its whole run:
    /// `shutdown` takes it to wait for a start in flight.
    start_lock: Arc<tokio::sync::Mutex<()>>,
    /// Set once a start began: from then on a container by this name may
    /// exist, whether or not the start finished.
    start_attempted: AtomicBool,
    shut_down: AtomicBool,
    lease: Duration,
    last_used: Mutex<Instant>,
    /// Per-path locks that make `edit` atomic within this sandbox.
    pub(crate) locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Idle shells for the fast `execute` path (see `shell`).
    pub(crate) shells: Mutex<Vec<crate::shell::Shell>>,
    /// Idle root shells for the fast small-file path (see `shellfs`);
    /// apart from `shells`, which run as the run-as user.
    pub(crate) file_shells: Mutex<Vec<crate::shell::Shell>>,
    /// Set once the container turned out unable to serve file requests
    /// from a shell (missing tools): files then go as archives only.
    pub(crate) shell_files_off: AtomicBool,
}

impl std::fmt::Debug for DockerSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerSandbox")
            .field("container", &self.inner.name)
            .field("session", &self.inner.session)
            .field("engine", &self.inner.address)
            .field("runtime", &self.inner.runtime.name)
            .finish()
    }
}

/// Configures a [`DockerSandbox`]; start with [`DockerSandbox::builder`].
///
/// Every setting is fixed by [`build`](DockerSandboxBuilder::build), before
/// the sandbox can be shared or started.
#[derive(Debug, Clone)]
pub struct DockerSandboxBuilder {
    runtime: RuntimeConfig,
    engine: Option<EngineConfig>,
    lease: Duration,
    session: Option<String>,
    output_limit: usize,
    shell_write_max: usize,
    shell_read_max: usize,
}

impl DockerSandboxBuilder {
    /// Runs the container on this engine (default:
    /// [`EngineConfig::from_env`], read when the sandbox is built).
    pub fn engine(mut self, engine: EngineConfig) -> Self {
        self.engine = Some(engine);
        self
    }

    /// How long the container's lease lasts (default
    /// [`DEFAULT_LEASE`](crate::DEFAULT_LEASE), 24 hours); the sandbox
    /// renews it every third of that while it lives (see
    /// [`DockerSandbox::with_lease`]).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Labels the container with `session` (default: a fresh unique id).
    /// [`SessionManager`](crate::SessionManager) uses it to find a
    /// session's sandbox again.
    pub fn session(mut self, session: impl Into<String>) -> Self {
        self.session = Some(session.into());
        self
    }

    /// Keeps at most `bytes` of each command's output (default 100,000).
    pub fn output_limit(mut self, bytes: usize) -> Self {
        self.output_limit = bytes;
        self
    }

    /// Sets the largest content a write (`write_max`) and a read
    /// (`read_max`) send through the container's long-lived shell instead
    /// of the engine's archive API; larger files go as archives. `0, 0`
    /// keeps every file operation on the archive API. The defaults (4 MiB
    /// and 2 MiB) come from measurements on docker.io 20.10; see the
    /// crate's `tests/bench.rs`.
    pub fn shell_file_limits(mut self, write_max: usize, read_max: usize) -> Self {
        self.shell_write_max = write_max;
        self.shell_read_max = read_max;
        self
    }

    /// The sandbox. Checks the runtime; does not touch the engine yet.
    pub fn build(self) -> Result<DockerSandbox> {
        let runtime = self.runtime;
        runtime.validate()?;
        let engine = match self.engine {
            Some(engine) => engine,
            None => EngineConfig::from_env()?,
        };
        let address = engine.address();
        let work_dir = VPath::new(&runtime.work_dir)?;
        let session = self.session.unwrap_or_else(unique_suffix);
        let safe: String = session
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let name = format!("deepagent-{safe}-{}", unique_suffix());
        Ok(DockerSandbox {
            inner: Arc::new(Inner {
                runtime,
                session,
                name,
                work_dir,
                output_limit: self.output_limit,
                shell_write_max: self.shell_write_max,
                shell_read_max: self.shell_read_max,
                engine,
                address,
                docker: OnceCell::new(),
                container: OnceCell::new(),
                start_lock: Arc::new(tokio::sync::Mutex::new(())),
                start_attempted: AtomicBool::new(false),
                shut_down: AtomicBool::new(false),
                lease: self.lease,
                last_used: Mutex::new(Instant::now()),
                locks: Mutex::new(HashMap::new()),
                shells: Mutex::new(Vec::new()),
                file_shells: Mutex::new(Vec::new()),
                shell_files_off: AtomicBool::new(false),
            }),
        })
    }
}

impl DockerSandbox {
    /// A sandbox for `runtime` under a fresh session id. Checks the
    /// runtime; does not touch the engine yet.
    pub fn new(runtime: RuntimeConfig) -> Result<Self> {
        Self::builder(runtime).build()
    }

    /// Configures a sandbox for `runtime` (session id, output cap, shell
    /// file limits) before it exists, so no setting can arrive too late.
    ///
    /// ```
    /// use deepagent_docker::{DockerSandbox, RuntimeConfig};
    ///
    /// let sandbox = DockerSandbox::builder(RuntimeConfig::new("tests", "busybox:latest"))
    ///     .session("user-42")
    ///     .output_limit(10_000)
    ///     .build()?;
    /// assert_eq!(sandbox.session(), "user-42");
    /// assert!(!sandbox.is_started());
    /// # Ok::<(), deepagent_core::BackendError>(())
    /// ```
    pub fn builder(runtime: RuntimeConfig) -> DockerSandboxBuilder {
        DockerSandboxBuilder {
            runtime,
            engine: None,
            lease: crate::owner::DEFAULT_LEASE,
            session: None,
            output_limit: DEFAULT_OUTPUT_LIMIT,
            shell_write_max: crate::shellfs::SHELL_WRITE_MAX,
            shell_read_max: crate::shellfs::SHELL_READ_MAX,
        }
    }

    /// A sandbox for `runtime` labelled with `session`; the same as
    /// `DockerSandbox::builder(runtime).session(session).build()`.
    pub fn for_session(runtime: RuntimeConfig, session: &str) -> Result<Self> {
        Self::builder(runtime).session(session).build()
    }

    /// Keeps at most `bytes` of each command's output (default 100,000).
    ///
    /// Does nothing once the sandbox has been cloned (the setting is
    /// shared); [`DockerSandboxBuilder::output_limit`] cannot be too late.
    #[deprecated(
        since = "0.2.0",
        note = "use DockerSandbox::builder(..).output_limit(..)"
    )]
    pub fn with_output_limit(mut self, bytes: usize) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.output_limit = bytes;
        }
        self
    }

    /// Sets the shell file limits (see
    /// [`DockerSandboxBuilder::shell_file_limits`]).
    ///
    /// Does nothing once the sandbox has been cloned.
    #[deprecated(
        since = "0.2.0",
        note = "use DockerSandbox::builder(..).shell_file_limits(..)"
    )]
    pub fn with_shell_file_limits(mut self, write_max: usize, read_max: usize) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.shell_write_max = write_max;
            inner.shell_read_max = read_max;
        }
        self
    }

    /// Sets how long the container's lease lasts (default 24 hours). This
    /// sandbox renews it every third of that while it lives; another
    /// process's [`SessionManager::reap_orphans`](crate::SessionManager::reap_orphans)
    /// leaves a container alone while its lease runs, and reaps it once
    /// the owner stopped renewing (hung, or gone from another host) and
    /// the lease ran out. Only before the sandbox is shared.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.lease = lease;
        }
        self
    }

    /// The runtime this sandbox runs.
    pub fn runtime(&self) -> &RuntimeConfig {
        &self.inner.runtime
    }

    /// The session id in the container's labels.
    pub fn session(&self) -> &str {
        &self.inner.session
    }

    /// The container name (also [`Sandbox::id`](deepagent_core::Sandbox::id)).
    pub fn container_name(&self) -> &str {
        &self.inner.name
    }

    /// True once the container has been created.
    pub fn is_started(&self) -> bool {
        self.inner.container.initialized()
    }

    /// Time since the last operation.
    pub fn idle_for(&self) -> Duration {
        self.inner
            .last_used
            .lock()
            .map(|t| t.elapsed())
            .unwrap_or_default()
    }

    /// Starts the container now instead of on first use.
    pub async fn start(&self) -> Result<()> {
        self.target().await.map(|_| ())
    }

    /// True when the container was started and is still running.
    pub async fn is_alive(&self) -> bool {
        self.running().await == Some(true)
    }

    /// Whether the container runs: `None` when it was never started, the
    /// sandbox was shut down, or the engine does not answer.
    async fn running(&self) -> Option<bool> {
        let docker = self.inner.docker.get()?;
        let id = self.inner.container.get()?;
        if self.inner.shut_down.load(Ordering::SeqCst) {
            return None;
        }
        match docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
        {
            Ok(info) => Some(info.state.and_then(|s| s.running).unwrap_or(false)),
            Err(e) if matches!(status_of(&e), Some((404, _))) => Some(false),
            Err(_) => None,
        }
    }

    /// Stops and removes the container. Idempotent; later calls fail with
    /// a clear error.
    ///
    /// A start in flight (another caller's first operation, or one whose
    /// caller gave up) is waited for, and the container is removed by its
    /// name, so nothing it creates outlives this call. Commands still
    /// running end with the container.
    pub async fn shutdown(&self) -> Result<()> {
        self.inner.shut_down.store(true, Ordering::SeqCst);
        if let Ok(mut shells) = self.inner.shells.lock() {
            shells.clear();
        }
        if let Ok(mut shells) = self.inner.file_shells.lock() {
            shells.clear();
        }
        // No start begins after the flag is set (the start task checks it
        // under this lock); one already running holds the lock until it is
        // done.
        let _started = self.inner.start_lock.lock().await;
        if !self.inner.start_attempted.load(Ordering::SeqCst) {
            return Ok(());
        }
        let docker = match self.inner.docker.get() {
            Some(d) => d.clone(),
            None => self.inner.engine.connect().await?,
        };
        let by = self.inner.container.get().unwrap_or(&self.inner.name);
        remove_by_id(&docker, by).await
    }

    /// The engine client and the running container, starting it on first
    /// use.
    pub(crate) async fn target(&self) -> Result<Target<'_>> {
        let inner = &self.inner;
        if inner.shut_down.load(Ordering::SeqCst) {
            return Err(shut_down_error(&inner.name));
        }
        if let Ok(mut t) = inner.last_used.lock() {
            *t = Instant::now();
        }
        let docker = inner
            .docker
            .get_or_try_init(|| inner.engine.connect())
            .await?;
        let id = match inner.container.get() {
            Some(id) => id,
            None => self.start_once(docker).await?,
        };
        // Again after a cold start, which can take a while: idleness counts
        // from when the sandbox was last ready to use.
        if let Ok(mut t) = inner.last_used.lock() {
            *t = Instant::now();
        }
        Ok(Target {
            docker,
            id,
            name: &inner.name,
            address: &inner.address,
        })
    }

    /// Creates and starts the container from a task of its own, which
    /// holds the start lock to the end: a caller that stops waiting (a
    /// timeout, a dropped future) does not stop the start half-way, and
    /// `shutdown` waits for it before removing the container.
    async fn start_once(&self, docker: &Docker) -> Result<&String> {
        let guard = self.inner.start_lock.clone().lock_owned().await;
        if let Some(id) = self.inner.container.get() {
            return Ok(id);
        }
        let inner = self.inner.clone();
        let docker = docker.clone();
        let task = tokio::spawn(async move {
            let _held = guard;
            if inner.shut_down.load(Ordering::SeqCst) {
                return Err(shut_down_error(&inner.name));
            }
            inner.start_attempted.store(true, Ordering::SeqCst);
            let id = match create_and_start(&docker, &inner).await {
                Ok(id) => id,
                Err(e) => {
                    // Every request of the failed start has been answered:
                    // once nothing by this name is left, there is nothing
                    // for shutdown or the drop to remove.
                    if remove_by_id(&docker, &inner.name).await.is_ok() {
                        inner.start_attempted.store(false, Ordering::SeqCst);
                    }
                    return Err(e);
                }
            };
            // `shutdown` waits for this lock and then removes the
            // container by name; set the id first so it uses it.
            spawn_lease_renewal(&inner, docker.clone(), id.clone());
            let _ = inner.container.set(id);
            Ok::<(), BackendError>(())
        });
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => {
                return Err(BackendError::other_with_source(
                    format!("starting container {} failed: {e}", self.inner.name),
                    e,
                ))
            }
        }
        self.inner
            .container
            .get()
            .ok_or_else(|| shut_down_error(&self.inner.name))
    }

    /// The lock that serializes edits of `path`.
    pub(crate) fn path_lock(&self, path: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = match self.inner.locks.lock() {
            Ok(l) => l,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Forget locks nobody holds so the map stays small.
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks.entry(path.to_owned()).or_default().clone()
    }

    /// Turns a "container gone" into a check: when the engine says the
    /// container is not running, the error says so plainly.
    pub(crate) async fn explain(&self, err: BackendError) -> BackendError {
        // Decided by kind: a gone container is already typed, and an
        // engine that does not answer keeps its "not reachable" error.
        if matches!(
            err.kind(),
            deepagent_core::ErrorKind::Other
                | deepagent_core::ErrorKind::Timeout
                | deepagent_core::ErrorKind::Io
        ) {
            // Only the engine's own word counts.
            if self.running().await == Some(false) {
                return container_gone(&self.inner.name, &err.to_string());
            }
        }
        err
    }
}

/// Renews the container's lease every third of the lease while the
/// sandbox lives (see `owner`). Holds only a weak reference between
/// renewals, so it never keeps the sandbox (and its container) alive, and
/// it ends with the sandbox, its shutdown, or the runtime it runs on: an
/// owner that stops, hangs or dies stops renewing.
fn spawn_lease_renewal(inner: &Arc<Inner>, docker: Docker, id: String) {
    let weak = Arc::downgrade(inner);
    let every = (inner.lease / 3).max(Duration::from_millis(500));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            if inner.shut_down.load(Ordering::SeqCst) {
                return;
            }
            let target = Target {
                docker: &docker,
                id: &id,
                name: &inner.name,
                address: &inner.address,
            };
            let argv = crate::owner::renew_argv(crate::owner::lease_until(inner.lease));
            let _ = exec::capture(&target, argv).await;
        }
    });
}

fn shut_down_error(name: &str) -> BackendError {
    BackendError::sandbox_gone(
        name,
        format!("sandbox {name} was shut down; create a new one"),
    )
}

async fn create_and_start(docker: &Docker, inner: &Inner) -> Result<String> {
    let rt = &inner.runtime;
    let image = ensure_image(docker, rt, &inner.address).await?;
    let mut labels = HashMap::new();
    labels.insert(SANDBOX_LABEL.to_owned(), "1".to_owned());
    labels.insert(SESSION_LABEL.to_owned(), inner.session.clone());
    labels.insert(RUNTIME_LABEL.to_owned(), rt.name.clone());
    labels.extend(crate::owner::labels(inner.lease));
    let host_config = HostConfig {
        network_mode: Some(
            if rt.network_enabled {
                "default"
            } else {
                "none"
            }
            .to_owned(),
        ),
        memory: rt.memory_bytes,
        nano_cpus: rt.cpus.map(|c| (c * 1e9) as i64),
        pids_limit: rt.pids_limit,
        binds: Some(
            rt.volumes
                .iter()
                .map(|v| {
                    format!(
                        "{}:{}{}",
                        v.source,
                        v.target,
                        if v.read_only { ":ro" } else { "" }
                    )
                })
                .collect(),
        ),
        // docker-init (tini) as PID 1, and mounted at /sbin/docker-init
        // where each command's reaper comes from (see `exec`).
        init: Some(true),
        cap_drop: Some(vec!["ALL".to_owned()]),
        cap_add: Some(rt.capabilities.clone()),
        security_opt: rt
            .no_new_privileges
            .then(|| vec!["no-new-privileges".to_owned()]),
        readonly_rootfs: Some(rt.read_only_root),
        tmpfs: rt.read_only_root.then(|| {
            HashMap::from([(
                "/tmp".to_owned(),
                "rw,nosuid,nodev,exec,mode=1777".to_owned(),
            )])
        }),
        runtime: rt.oci_runtime.clone(),
        ..Default::default()
    };
    // With a read-only root, the work dir is an anonymous volume (removed
    // with the container) unless a mount of the caller's is there.
    let work_volume = rt.read_only_root
        && !rt
            .volumes
            .iter()
            .any(|v| v.target.trim_end_matches('/') == rt.work_dir.trim_end_matches('/'));
    let volumes =
        work_volume.then(|| HashMap::from([(rt.work_dir.clone(), HashMap::<(), ()>::new())]));
    let config = ContainerCreateBody {
        image: Some(image.clone()),
        cmd: Some(vec!["sh".to_owned(), "-c".to_owned(), KEEPALIVE.to_owned()]),
        env: Some(
            rt.env_vars
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        ),
        working_dir: Some(rt.work_dir.clone()),
        volumes,
        // The container's own processes run as root even with a run-as
        // uid: with no-new-privileges, an exec as root only has the kept
        // capabilities when the container's user is root. Commands and the
        // file tools run as the run-as uid (see `exec`); `None` keeps the
        // image's user for everything.
        user: rt.run_as_uid.map(|_| "0".to_owned()),
        labels: Some(labels),
        network_disabled: Some(!rt.network_enabled),
        attach_stdin: Some(false),
        attach_stdout: Some(false),
        attach_stderr: Some(false),
        tty: Some(false),
        host_config: Some(host_config),
        ..Default::default()
    };
    let created = docker
        .create_container(
            Some(CreateContainerOptionsBuilder::new().name(&inner.name).build()),
            config,
        )
        .await
        // The create endpoint answers 404 for one thing only, a missing
        // image (Engine API: "no such image"); the status decides, not
        // the message.
        .map_err(|e| match status_of(&e) {
            Some((404, _)) => missing_image(&image, rt, &inner.address),
            _ => crate::engine::engine_call_error(
                format!(
                    "cannot create container {} from image {image} (runtime {:?}) on the Docker engine at {}",
                    inner.name,
                    rt.name,
                    inner.address
                ),
                e,
            ),
        })?;
    if let Err(e) = docker
        .start_container(&created.id, None::<StartContainerOptions>)
        .await
    {
        let _ = remove_by_id(docker, &created.id).await;
        return Err(crate::engine::engine_call_error(
            format!(
                "cannot start container {} (runtime {:?}, image {image})",
                inner.name, rt.name
            ),
            e,
        ));
    }
    // The first renewal, so the file exists (root-owned) before any
    // command runs. Best effort: the label's lease holds without it.
    let _ = exec::capture(
        &Target {
            docker,
            id: &created.id,
            name: &inner.name,
            address: &inner.address,
        },
        crate::owner::renew_argv(crate::owner::lease_until(inner.lease)),
    )
    .await;
    if let Some(uid) = rt.run_as_uid {
        // The engine creates the working directory as root; the user the
        // commands run as must be able to write there.
        let target = Target {
            docker,
            id: &created.id,
            name: &inner.name,
            address: &inner.address,
        };
        let res = exec::capture(
            &target,
            vec![
                "sh".into(),
                "-c".into(),
                "mkdir -p \"$1\" && chown \"$2\" \"$1\"".into(),
                "sh".into(),
                rt.work_dir.clone(),
                format!("{uid}:{uid}"),
            ],
        )
        .await?;
        if res.exit_code != 0 {
            let _ = remove_by_id(docker, &created.id).await;
            return Err(BackendError::other(format!(
                "cannot prepare {} for uid {uid} in container {}: {}",
                rt.work_dir, inner.name, res.stderr
            )));
        }
    }
    Ok(created.id)
}

pub(crate) async fn remove_by_id(docker: &Docker, id: &str) -> Result<()> {
    let opts = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .link(false)
        .build();
    match docker.remove_container(id, Some(opts)).await {
        Ok(()) => Ok(()),
        Err(e) if matches!(status_of(&e), Some((404, _))) => Ok(()),
        // Already being removed by someone else (another clone's drop).
        Err(e) if matches!(status_of(&e), Some((409, _))) => Ok(()),
        Err(e) => Err(crate::engine::engine_call_error(
            format!("cannot remove container {id}"),
            e,
        )),
    }
}

/// Force-removes a container by name or id with a client of its own, on a
/// thread of its own: usable from `Drop` and from synchronous code, even
/// inside an async runtime. Returns once the engine answered.
///
/// Uses the engine the environment names ([`EngineConfig::from_env`]).
pub fn remove_container_blocking(name: &str) -> Result<()> {
    remove_blocking(EngineConfig::from_env()?, name, false, None)
}

/// How long dropping the last clone of a started sandbox waits for the
/// engine to remove its container.
pub const DROP_REMOVE_WAIT: Duration = Duration::from_secs(15);

/// `remove_container_blocking`, optionally watching a while for a
/// container whose create request may still be on its way (a start cut
/// off mid-flight), and optionally giving up waiting after `wait`.
fn remove_blocking(
    engine: EngineConfig,
    name: &str,
    watch_for_late_create: bool,
    wait: Option<Duration>,
) -> Result<()> {
    let owned = name.to_owned();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let name = owned;
        let result = (|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| {
                    BackendError::other_with_source(
                        format!("cannot start a runtime to remove container {name}: {e}"),
                        e,
                    )
                })?;
            rt.block_on(async {
                let docker = engine.connect().await?;
                remove_by_id(&docker, &name).await?;
                if watch_for_late_create {
                    for _ in 0..5 {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        remove_by_id(&docker, &name).await?;
                    }
                }
                Ok(())
            })
        })();
        let _ = tx.send(result);
    });
    match wait {
        Some(wait) => rx.recv_timeout(wait).unwrap_or_else(|_| {
            Err(BackendError::Timeout {
                operation: format!("removing container {name}"),
                after: wait,
            })
        }),
        // The thread ended without an answer: it panicked.
        None => rx.recv().unwrap_or_else(|_| {
            Err(BackendError::other(format!(
                "removing container {name} did not finish: its thread stopped without an answer"
            )))
        }),
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.start_attempted.load(Ordering::SeqCst) && !self.shut_down.load(Ordering::SeqCst) {
            // Blocking, on purpose: when the last clone goes at the end of
            // `main` or while a panic unwinds, the process may exit right
            // after this returns, and a detached removal would die with it.
            // A start that never finished may still have its create
            // request in the engine: watch for it a moment.
            let unfinished = !self.container.initialized();
            let _ = remove_blocking(
                self.engine.clone(),
                &self.name,
                unfinished,
                Some(DROP_REMOVE_WAIT),
            );
        }
    }
}

/// A suffix unique within this process and very likely across processes.
pub(crate) fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{:x}{:08x}{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
