//! Workload 7: a DockerSandbox against the `docker` CLI and the Python
//! DockerSandbox. Built only with the `docker` feature; the image comes
//! from `DEEPAGENT_BENCH_IMAGE` (the xtask picks a local one, never pulls).

use crate::measure::Sample;
use crate::workloads::Ctx;
use crate::Error;

/// The environment variable naming the local image to run.
#[cfg(feature = "docker")]
const IMAGE_VAR: &str = "DEEPAGENT_BENCH_IMAGE";

/// Runs one Docker variant.
#[cfg(not(feature = "docker"))]
pub fn run(_ctx: &Ctx, variant: &str) -> Result<Sample, Error> {
    Err(format!("docker/{variant}: deepagent-bench was built without the `docker` feature").into())
}

/// Runs one Docker variant.
#[cfg(feature = "docker")]
pub fn run(ctx: &Ctx, variant: &str) -> Result<Sample, Error> {
    use deepagent_docker::{DockerSandbox, RuntimeConfig};

    let image = std::env::var(IMAGE_VAR).map_err(|_| format!("{IMAGE_VAR} is not set"))?;
    let sandbox = DockerSandbox::new(RuntimeConfig::new("bench", image))?;
    ctx.rt.block_on(sandbox.start())?;
    let result = run_with(ctx, &sandbox, variant);
    // Remove the container whatever happened.
    let _ = ctx.rt.block_on(sandbox.shutdown());
    result
}

#[cfg(feature = "docker")]
fn run_with(
    ctx: &Ctx,
    sandbox: &deepagent_docker::DockerSandbox,
    variant: &str,
) -> Result<Sample, Error> {
    use std::process::Command;

    use deepagent_core::{Backend, Sandbox};

    use crate::{data, measure};

    match variant {
        "exec-ours" => measure::run(
            || Ok(()),
            |()| {
                let out = ctx.rt.block_on(sandbox.execute("true", None))?;
                if out.exit_code != 0 {
                    return Err(format!("`true` exited {}: {}", out.exit_code, out.output).into());
                }
                Ok(())
            },
            |_| 1,
        ),
        "exec-cli" => measure::run(
            || Ok(()),
            |()| {
                let status = Command::new("docker")
                    .args(["exec", sandbox.container_name(), "true"])
                    .status()?;
                if !status.success() {
                    return Err(format!("docker exec failed: {status}").into());
                }
                Ok(())
            },
            |_| 1,
        ),
        "write-ours" => {
            let n = ctx.sizes.docker_files;
            let contents: Vec<bytes::Bytes> = (0..n).map(|i| data::small_file(i).into()).collect();
            let mut round = 0usize;
            measure::run(
                || {
                    round += 1;
                    Ok(round)
                },
                |round| {
                    ctx.rt.block_on(async {
                        for (i, content) in contents.iter().enumerate() {
                            let path = format!("/workspace/it{round}/d{}/f{i:05}.py", i % 10);
                            sandbox.write(&path, content.clone()).await?;
                        }
                        Ok::<_, Error>(n)
                    })
                },
                |n| *n as u64,
            )
        }
        _ => Err(format!("unknown docker variant {variant}").into()),
    }
}
