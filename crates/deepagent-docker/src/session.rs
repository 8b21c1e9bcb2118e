//! One sandbox per session, reused while alive, reaped when idle.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bollard::query_parameters::ListContainersOptionsBuilder;
use deepagent_core::Result;

use crate::engine::{engine_address, EngineConfig};
use crate::sandbox::{remove_by_id, SANDBOX_LABEL};
use crate::{DockerSandbox, RuntimeConfig};

/// Keeps one [`DockerSandbox`] per session id.
///
/// `get` returns the session's sandbox, creating it on first request and
/// replacing it when its container died; `reap_idle` shuts down sandboxes
/// unused for longer than the idle timeout; `reap_orphans` removes
/// labelled containers nobody will clean up (left by a crashed process),
/// judged by their owner and lease labels.
///
/// ```no_run
/// # async fn demo() -> deepagent_core::Result<()> {
/// use std::time::Duration;
/// use deepagent_core::Sandbox;
/// use deepagent_docker::{RuntimeConfig, SessionManager};
///
/// let sessions = SessionManager::new(RuntimeConfig::builtin("python-minimal")?, Duration::from_secs(600));
/// sessions.reap_orphans().await?;
/// let sandbox = sessions.get("user-42").await?;
/// sandbox.execute("python3 -c 'print(1)'", None).await?;
/// sessions.reap_idle().await?;
/// sessions.shutdown_all().await?;
/// # Ok(()) }
/// ```
pub struct SessionManager {
    runtime: RuntimeConfig,
    engine: Option<EngineConfig>,
    lease: Duration,
    idle_timeout: Duration,
    sessions: tokio::sync::Mutex<HashMap<String, DockerSandbox>>,
}

impl SessionManager {
    /// Sandboxes run `runtime`; one idle past `idle_timeout` is reaped by
    /// [`SessionManager::reap_idle`].
    pub fn new(runtime: RuntimeConfig, idle_timeout: Duration) -> Self {
        SessionManager {
            runtime,
            engine: None,
            lease: crate::owner::DEFAULT_LEASE,
            idle_timeout,
            sessions: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Runs this manager's sandboxes on `engine` (default:
    /// [`EngineConfig::from_env`], read when a sandbox is made), and
    /// reaps orphans there.
    ///
    /// ```
    /// use std::time::Duration;
    /// use deepagent_docker::{EngineConfig, RuntimeConfig, SessionManager, TlsFiles};
    ///
    /// let remote = EngineConfig::tcp("10.0.0.5:2376").with_tls(TlsFiles::from_dir("/etc/deepagent/certs"));
    /// let sessions = SessionManager::new(RuntimeConfig::new("t", "busybox"), Duration::from_secs(600))
    ///     .on_engine(remote);
    /// assert_eq!(sessions.engine_address(), "tcp://10.0.0.5:2376");
    /// ```
    pub fn on_engine(mut self, engine: EngineConfig) -> Self {
        self.engine = Some(engine);
        self
    }

    /// Gives this manager's sandboxes leases of `lease` (default 24
    /// hours), renewed every third of that while the manager holds them:
    /// another process's reaper spares them while the lease runs, and
    /// reaps them soon after this process hangs or dies.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// The address of the engine this manager uses.
    pub fn engine_address(&self) -> String {
        match &self.engine {
            Some(e) => e.address(),
            None => engine_address(),
        }
    }

    fn engine_config(&self) -> Result<EngineConfig> {
        match &self.engine {
            Some(e) => Ok(e.clone()),
            None => EngineConfig::from_env(),
        }
    }

    /// The session's sandbox: the existing one while its container lives
    /// (or has not started yet), a new one otherwise.
    pub async fn get(&self, session: &str) -> Result<DockerSandbox> {
        let mut sessions = self.sessions.lock().await;
        if let Some(existing) = sessions.get(session) {
            if !existing.is_started() || existing.is_alive().await {
                return Ok(existing.clone());
            }
            // Dead: clean up what is left of it and start over.
            let _ = existing.shutdown().await;
        }
        let sandbox = DockerSandbox::builder(self.runtime.clone())
            .engine(self.engine_config()?)
            .lease(self.lease)
            .session(session)
            .build()?;
        sessions.insert(session.to_owned(), sandbox.clone());
        Ok(sandbox)
    }

    /// The session ids currently held.
    pub async fn sessions(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.sessions.lock().await.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Shuts down and forgets one session. False when there was none.
    pub async fn remove(&self, session: &str) -> Result<bool> {
        let removed = self.sessions.lock().await.remove(session);
        match removed {
            Some(sandbox) => sandbox.shutdown().await.map(|()| true),
            None => Ok(false),
        }
    }

    /// Shuts down sandboxes idle for longer than the idle timeout; returns
    /// their session ids.
    pub async fn reap_idle(&self) -> Result<Vec<String>> {
        let idle: Vec<(String, DockerSandbox)> = {
            let mut sessions = self.sessions.lock().await;
            let ids: Vec<String> = sessions
                .iter()
                .filter(|(_, s)| s.idle_for() > self.idle_timeout)
                .map(|(id, _)| id.clone())
                .collect();
            ids.into_iter()
                .filter_map(|id| sessions.remove(&id).map(|s| (id, s)))
                .collect()
        };
        let mut reaped = Vec::new();
        let mut first_error = None;
        for (id, sandbox) in idle {
            match sandbox.shutdown().await {
                Ok(()) => reaped.push(id),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        reaped.sort();
        match first_error {
            Some(e) => Err(e),
            None => Ok(reaped),
        }
    }

    /// Shuts down every sandbox.
    pub async fn shutdown_all(&self) -> Result<()> {
        let all: Vec<DockerSandbox> = self.sessions.lock().await.drain().map(|(_, s)| s).collect();
        let mut first_error = None;
        for sandbox in all {
            if let Err(e) = sandbox.shutdown().await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Removes the labelled sandbox containers that nobody will clean up;
    /// returns their names.
    ///
    /// A container this manager holds is kept. Of the others, a container
    /// is removed when its owner label names this process (a sandbox this
    /// process forgot), a process on this host that no longer runs (a
    /// crash), or nobody (containers older than owner labels), and when
    /// its lease ([`DockerSandbox::with_lease`]) has run out. A live
    /// process's sandboxes, here or on another host sharing the engine,
    /// are left alone until their lease ends.
    pub async fn reap_orphans(&self) -> Result<Vec<String>> {
        let owned: HashSet<String> = self
            .sessions
            .lock()
            .await
            .values()
            .map(|s| s.container_name().to_owned())
            .collect();
        reap_orphans_on(&self.engine_config()?, &owned).await
    }
}

/// Removes the orphaned sandbox containers on `engine` (see
/// [`SessionManager::reap_orphans`]), sparing the containers in `owned`.
pub(crate) async fn reap_orphans_on(
    engine: &EngineConfig,
    owned: &HashSet<String>,
) -> Result<Vec<String>> {
    let docker = engine.connect().await?;
    let mut filters = HashMap::new();
    filters.insert("label".to_owned(), vec![format!("{SANDBOX_LABEL}=1")]);
    let list = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| {
            crate::engine::engine_call_error(
                format!(
                    "cannot list containers on the Docker engine at {}",
                    engine.address()
                ),
                e,
            )
        })?;
    let mut reaped = Vec::new();
    for container in list {
        let name = container
            .names
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/').to_owned())
            .unwrap_or_default();
        if owned.contains(&name) {
            continue;
        }
        let empty = HashMap::new();
        let labels = container.labels.as_ref().unwrap_or(&empty);
        // The label's lease ran out: the owner may have renewed it.
        let renewed = match (&container.id, crate::owner::needs_renewal_check(labels)) {
            (Some(id), true) => read_renewal(&docker, id, &name, &engine.address()).await,
            _ => None,
        };
        if !crate::owner::is_orphan(labels, renewed) {
            continue;
        }
        if let Some(id) = &container.id {
            remove_by_id(&docker, id).await?;
            reaped.push(if name.is_empty() { id.clone() } else { name });
        }
    }
    reaped.sort();
    Ok(reaped)
}

/// The lease a container's owner last renewed (its lease file), or `None`
/// when it cannot be read (stopped container, no file, junk).
async fn read_renewal(
    docker: &bollard::Docker,
    id: &str,
    name: &str,
    address: &str,
) -> Option<u64> {
    let target = crate::exec::Target {
        docker,
        id,
        name,
        address,
    };
    let argv = vec!["cat".to_owned(), crate::owner::LEASE_FILE.to_owned()];
    match crate::exec::capture(&target, argv).await {
        Ok(out) if out.exit_code == 0 => crate::owner::parse_renewal(&out.stdout),
        _ => None,
    }
}
