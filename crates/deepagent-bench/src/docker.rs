//! Workload 7: a DockerSandbox against the `docker` CLI and the Python
//! DockerSandbox. Built only with the `docker` feature.

use crate::measure::Sample;
use crate::workloads::Ctx;
use crate::Error;

/// Runs one Docker variant.
#[cfg(not(feature = "docker"))]
pub fn run(_ctx: &Ctx, variant: &str) -> Result<Sample, Error> {
    Err(format!("docker/{variant}: deepagent-bench was built without the `docker` feature").into())
}
