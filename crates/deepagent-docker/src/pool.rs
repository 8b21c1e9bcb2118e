//! Sessions spread over several engines.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use deepagent_core::{BackendError, ErrorKind, Result};

use crate::engine::EngineConfig;
use crate::{DockerSandbox, RuntimeConfig};

/// How long a health check's verdict stands before `get` checks again.
const HEALTH_TTL: Duration = Duration::from_secs(5);

/// One engine of an [`EnginePool`] and how much of the pool's work it
/// takes.
///
/// ```
/// use deepagent_docker::{EngineConfig, EngineSpec, TlsFiles};
///
/// let big = EngineSpec::new(EngineConfig::tcp("10.0.0.5:2376").with_tls(TlsFiles::from_dir("/certs")))
///     .weight(2.0)
///     .max_sessions(40)
///     .oci_runtime("runsc");
/// assert_eq!(big.engine().address(), "tcp://10.0.0.5:2376");
/// ```
#[derive(Debug, Clone)]
pub struct EngineSpec {
    engine: EngineConfig,
    weight: f64,
    max_sessions: Option<usize>,
    oci_runtime: Option<String>,
}

impl EngineSpec {
    /// An engine with weight 1, no cap, and the runtime's own OCI runtime.
    pub fn new(engine: EngineConfig) -> Self {
        EngineSpec {
            engine,
            weight: 1.0,
            max_sessions: None,
            oci_runtime: None,
        }
    }

    /// Its share of the sessions relative to the other engines (default
    /// 1; an engine of weight 2 takes twice the sessions of one of weight
    /// 1). Values at or below zero count as a tiny weight: such an engine
    /// is used only when the others are full or down.
    pub fn weight(mut self, weight: f64) -> Self {
        self.weight = weight;
        self
    }

    /// At most `sessions` live sessions on this engine.
    pub fn max_sessions(mut self, sessions: usize) -> Self {
        self.max_sessions = Some(sessions);
        self
    }

    /// Runs this engine's sandboxes with this OCI runtime (e.g. gVisor's
    /// `runsc`, which the engine must have registered), whatever the
    /// pool's [`RuntimeConfig`] says.
    pub fn oci_runtime(mut self, runtime: impl Into<String>) -> Self {
        self.oci_runtime = Some(runtime.into());
        self
    }

    /// The engine.
    pub fn engine(&self) -> &EngineConfig {
        &self.engine
    }
}

/// What the pool knows about one engine, from [`EnginePool::engines`].
#[derive(Debug, Clone, PartialEq)]
pub struct EngineStatus {
    /// The engine's address.
    pub address: String,
    /// Sessions the pool holds there.
    pub sessions: usize,
    /// Whether it answered its last health check (`true` before the
    /// first).
    pub healthy: bool,
    /// Why it did not, when it did not.
    pub last_error: Option<String>,
}

#[derive(Debug, Default)]
struct Health {
    down: Option<String>,
    checked: Option<Instant>,
}

struct Slot {
    engine: usize,
    sandbox: DockerSandbox,
}

/// A session manager over several Docker engines.
///
/// New sessions go to the least-loaded healthy engine (live sessions
/// divided by the engine's weight, under its cap); each session stays on
/// its engine. Engines are health-checked before they get a new session
/// (a verdict stands for 5 seconds) and by [`EnginePool::check_health`].
/// When an engine dies, its sessions report
/// [`BackendError::Unavailable`] (from their own calls and from
/// [`EnginePool::get`]) and new sessions go to the others;
/// [`EnginePool::remove`] forgets such a session. Idle sessions are
/// evicted by [`EnginePool::reap_idle`]. Each engine can run its
/// sandboxes under an OCI runtime of its own ([`EngineSpec::oci_runtime`]).
///
/// ```no_run
/// # async fn demo() -> deepagent_core::Result<()> {
/// use std::time::Duration;
/// use deepagent_core::Sandbox;
/// use deepagent_docker::{EngineConfig, EnginePool, EngineSpec, RuntimeConfig, TlsFiles};
///
/// let pool = EnginePool::new(
///     RuntimeConfig::builtin("python-minimal")?,
///     Duration::from_secs(600),
///     vec![
///         EngineSpec::new(EngineConfig::unix("/var/run/docker.sock")).max_sessions(8),
///         EngineSpec::new(EngineConfig::tcp("10.0.0.5:2376").with_tls(TlsFiles::from_dir("/certs")))
///             .weight(4.0)
///             .oci_runtime("runsc"),
///     ],
/// )?;
/// let sandbox = pool.get("user-42").await?; // started on the least-loaded engine
/// sandbox.execute("python3 -c 'print(1)'", None).await?;
/// pool.reap_idle().await?;
/// pool.shutdown_all().await?;
/// # Ok(()) }
/// ```
pub struct EnginePool {
    runtime: RuntimeConfig,
    idle_timeout: Duration,
    lease: Duration,
    engines: Vec<EngineSpec>,
    health: Vec<Mutex<Health>>,
    sessions: tokio::sync::Mutex<HashMap<String, Slot>>,
}

/// Which engine takes the next session: the least `load / weight` among
/// those that are usable and under their cap; ties go to the first.
pub(crate) fn pick(
    loads: &[usize],
    weights: &[f64],
    caps: &[Option<usize>],
    usable: &[bool],
) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for i in 0..loads.len() {
        if !usable[i] || caps[i].is_some_and(|cap| loads[i] >= cap) {
            continue;
        }
        let weight = if weights[i] > 0.0 { weights[i] } else { 1e-9 };
        // The load this engine would have with the new session, so that
        // weights split sessions in proportion (2:1 gives 2 of every 3).
        let score = (loads[i] + 1) as f64 / weight;
        if best.is_none_or(|(_, s)| score < s) {
            best = Some((i, score));
        }
    }
    best.map(|(i, _)| i)
}

impl EnginePool {
    /// A pool running `runtime` on `engines`; a session idle past
    /// `idle_timeout` is evicted by [`EnginePool::reap_idle`]. Fails
    /// without engines.
    pub fn new(
        runtime: RuntimeConfig,
        idle_timeout: Duration,
        engines: Vec<EngineSpec>,
    ) -> Result<Self> {
        if engines.is_empty() {
            return Err(BackendError::InvalidArgument {
                message: "an engine pool needs at least one engine".into(),
            });
        }
        runtime.validate()?;
        let health = engines
            .iter()
            .map(|_| Mutex::new(Health::default()))
            .collect();
        Ok(EnginePool {
            runtime,
            idle_timeout,
            lease: crate::owner::DEFAULT_LEASE,
            engines,
            health,
            sessions: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    /// The lease of the pool's sandboxes (see [`SessionManager::with_lease`](crate::SessionManager::with_lease)).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    fn set_health(&self, i: usize, down: Option<String>) {
        if let Ok(mut h) = self.health[i].lock() {
            h.down = down;
            h.checked = Some(Instant::now());
        }
    }

    fn down_reason(&self, i: usize) -> Option<String> {
        self.health[i].lock().ok().and_then(|h| h.down.clone())
    }

    /// Whether engine `i` answers, from a recent verdict or a fresh check.
    async fn healthy(&self, i: usize) -> bool {
        let fresh = self.health[i].lock().ok().and_then(|h| {
            h.checked
                .map(|t| (t.elapsed() < HEALTH_TTL, h.down.is_none()))
        });
        if let Some((true, up)) = fresh {
            return up;
        }
        self.check(i).await
    }

    async fn check(&self, i: usize) -> bool {
        let engine = &self.engines[i].engine;
        let verdict = match engine.connect().await {
            Ok(docker) => {
                match tokio::time::timeout(Duration::from_secs(10), docker.ping()).await {
                    Ok(Ok(_)) => None,
                    Ok(Err(e)) => Some(format!("ping failed: {e}")),
                    Err(_) => Some("ping did not answer within 10s".to_owned()),
                }
            }
            Err(e) => Some(e.to_string()),
        };
        let up = verdict.is_none();
        self.set_health(i, verdict);
        up
    }

    /// Checks every engine now; returns each one's status.
    pub async fn check_health(&self) -> Vec<EngineStatus> {
        for i in 0..self.engines.len() {
            self.check(i).await;
        }
        self.engines().await
    }

    /// Each engine's address, sessions and last known health.
    pub async fn engines(&self) -> Vec<EngineStatus> {
        let loads = self.loads().await;
        self.engines
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let down = self.down_reason(i);
                EngineStatus {
                    address: spec.engine.address(),
                    sessions: loads[i],
                    healthy: down.is_none(),
                    last_error: down,
                }
            })
            .collect()
    }

    async fn loads(&self) -> Vec<usize> {
        let mut loads = vec![0; self.engines.len()];
        for slot in self.sessions.lock().await.values() {
            loads[slot.engine] += 1;
        }
        loads
    }

    /// The address of the engine that runs `session`, if the pool holds it.
    pub async fn engine_of(&self, session: &str) -> Option<String> {
        self.sessions
            .lock()
            .await
            .get(session)
            .map(|s| self.engines[s.engine].engine.address())
    }

    /// The session ids held.
    pub async fn sessions(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.sessions.lock().await.keys().cloned().collect();
        ids.sort();
        ids
    }

    fn engine_down(&self, i: usize, session: &str, why: &str) -> BackendError {
        BackendError::unavailable(
            format!(
                "session {session} runs on the Docker engine at {}, which does not answer ({why}); its sandbox is out of reach. Remove the session (EnginePool::remove) to start it over on another engine",
                self.engines[i].engine.address()
            ),
            None,
        )
    }

    /// The session's sandbox, started: the existing one while its
    /// container lives, a new one on the least-loaded healthy engine
    /// otherwise. A session whose engine stopped answering is an
    /// [`ErrorKind::Unavailable`] error (the session is kept, so the
    /// caller decides; [`EnginePool::remove`] forgets it).
    pub async fn get(&self, session: &str) -> Result<DockerSandbox> {
        let mut sessions = self.sessions.lock().await;
        if let Some(slot) = sessions.get(session) {
            if slot.sandbox.is_alive().await {
                return Ok(slot.sandbox.clone());
            }
            // Dead container, or an engine that does not answer.
            let i = slot.engine;
            if !self.check(i).await {
                let why = self.down_reason(i).unwrap_or_default();
                return Err(self.engine_down(i, session, &why));
            }
            let _ = slot.sandbox.shutdown().await;
            sessions.remove(session);
        }
        let mut loads = vec![0; self.engines.len()];
        for slot in sessions.values() {
            loads[slot.engine] += 1;
        }
        let weights: Vec<f64> = self.engines.iter().map(|e| e.weight).collect();
        let caps: Vec<Option<usize>> = self.engines.iter().map(|e| e.max_sessions).collect();
        let mut usable = vec![true; self.engines.len()];
        let mut failures = Vec::new();
        while let Some(i) = pick(&loads, &weights, &caps, &usable) {
            usable[i] = false;
            if !self.healthy(i).await {
                failures.push(format!(
                    "{}: {}",
                    self.engines[i].engine.address(),
                    self.down_reason(i).unwrap_or_default()
                ));
                continue;
            }
            let mut runtime = self.runtime.clone();
            if let Some(oci) = &self.engines[i].oci_runtime {
                runtime.oci_runtime = Some(oci.clone());
            }
            let sandbox = DockerSandbox::builder(runtime)
                .engine(self.engines[i].engine.clone())
                .lease(self.lease)
                .session(session)
                .build()?;
            match sandbox.start().await {
                Ok(()) => {
                    sessions.insert(
                        session.to_owned(),
                        Slot {
                            engine: i,
                            sandbox: sandbox.clone(),
                        },
                    );
                    return Ok(sandbox);
                }
                // The engine went away between the check and the start:
                // try the next one.
                Err(e) if e.kind() == ErrorKind::Unavailable => {
                    self.set_health(i, Some(e.to_string()));
                    failures.push(format!("{}: {e}", self.engines[i].engine.address()));
                }
                Err(e) => return Err(e),
            }
        }
        Err(BackendError::unavailable(
            if failures.is_empty() {
                format!(
                    "every engine of the pool is at its session cap; no room for session {session} (raise max_sessions, add an engine, or reap idle sessions)"
                )
            } else {
                format!(
                    "no engine of the pool can take session {session}: {}",
                    failures.join("; ")
                )
            },
            None,
        ))
    }

    /// Shuts down and forgets one session. False when there was none. A
    /// session on an engine that is down is forgotten all the same (its
    /// container went with the engine, or its lease lets a reaper remove
    /// it).
    pub async fn remove(&self, session: &str) -> Result<bool> {
        let removed = self.sessions.lock().await.remove(session);
        match removed {
            Some(slot) => match slot.sandbox.shutdown().await {
                Err(e) if e.kind() != ErrorKind::Unavailable => Err(e),
                _ => Ok(true),
            },
            None => Ok(false),
        }
    }

    /// Evicts sessions idle for longer than the idle timeout; returns
    /// their ids.
    pub async fn reap_idle(&self) -> Result<Vec<String>> {
        let idle: Vec<String> = self
            .sessions
            .lock()
            .await
            .iter()
            .filter(|(_, s)| s.sandbox.idle_for() > self.idle_timeout)
            .map(|(id, _)| id.clone())
            .collect();
        let mut reaped = Vec::new();
        let mut first_error = None;
        for id in idle {
            match self.remove(&id).await {
                Ok(_) => reaped.push(id),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        reaped.sort();
        first_error.map_or(Ok(reaped), Err)
    }

    /// Shuts down every session; sessions on engines that are down are
    /// forgotten. Returns the first other error.
    pub async fn shutdown_all(&self) -> Result<()> {
        let ids = self.sessions().await;
        let mut first_error = None;
        for id in ids {
            if let Err(e) = self.remove(&id).await {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Removes orphaned sandbox containers (see
    /// [`SessionManager::reap_orphans`](crate::SessionManager::reap_orphans))
    /// on every engine that answers, sparing the pool's own sessions.
    pub async fn reap_orphans(&self) -> Result<Vec<String>> {
        let owned: HashSet<String> = self
            .sessions
            .lock()
            .await
            .values()
            .map(|s| s.sandbox.container_name().to_owned())
            .collect();
        let mut reaped = Vec::new();
        for (i, spec) in self.engines.iter().enumerate() {
            if !self.healthy(i).await {
                continue;
            }
            reaped.extend(crate::session::reap_orphans_on(&spec.engine, &owned).await?);
        }
        reaped.sort();
        Ok(reaped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_loaded_usable_engine_under_its_cap_wins() {
        let w = [1.0, 1.0];
        let no_caps = [None, None];
        assert_eq!(pick(&[0, 0], &w, &no_caps, &[true, true]), Some(0));
        assert_eq!(pick(&[1, 0], &w, &no_caps, &[true, true]), Some(1));
        assert_eq!(pick(&[1, 1], &w, &no_caps, &[true, true]), Some(0));
        // Down engines are skipped; none left is None.
        assert_eq!(pick(&[0, 5], &w, &no_caps, &[false, true]), Some(1));
        assert_eq!(pick(&[0, 0], &w, &no_caps, &[false, false]), None);
        // Caps.
        assert_eq!(pick(&[2, 9], &w, &[Some(2), None], &[true, true]), Some(1));
        assert_eq!(pick(&[2, 1], &w, &[Some(2), Some(1)], &[true, true]), None);
    }

    #[test]
    fn weights_split_sessions_in_proportion() {
        let weights = [2.0, 1.0];
        let caps = [None, None];
        let mut loads = [0usize, 0];
        for _ in 0..30 {
            let i = pick(&loads, &weights, &caps, &[true, true]).unwrap();
            loads[i] += 1;
        }
        assert_eq!(loads, [20, 10]);
        // A zero weight takes sessions only when the others cannot.
        let mut loads = [0usize, 0];
        for _ in 0..5 {
            let i = pick(&loads, &[1.0, 0.0], &[Some(3), None], &[true, true]).unwrap();
            loads[i] += 1;
        }
        assert_eq!(loads, [3, 2]);
    }

    #[test]
    fn a_pool_needs_an_engine() {
        let e = EnginePool::new(
            RuntimeConfig::new("t", "busybox"),
            Duration::from_secs(1),
            vec![],
        )
        .err()
        .unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    }
}
