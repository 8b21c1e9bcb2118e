//! Building a runtime's image once and finding it again by tag.

use std::collections::HashMap;

use bollard::query_parameters::BuildImageOptionsBuilder;
use bollard::Docker;
use deepagent_core::{BackendError, Result};
use futures::StreamExt;

use crate::engine::status_of;
use crate::RuntimeConfig;

/// Makes sure the runtime's image exists and returns its tag: a plain
/// image must already be on the engine (nothing is ever pulled); a built
/// runtime is built from its generated Dockerfile unless its content-hash
/// tag is already there.
pub(crate) async fn ensure_image(
    docker: &Docker,
    runtime: &RuntimeConfig,
    address: &str,
) -> Result<String> {
    let tag = runtime.effective_image()?;
    if image_exists(docker, &tag, address).await? {
        return Ok(tag);
    }
    let Some(dockerfile) = runtime.dockerfile()? else {
        return Err(missing_image(&tag, runtime, address));
    };
    // One build per tag at a time in this process; the engine would build
    // concurrent duplicates otherwise.
    static BUILDS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _guard = BUILDS.lock().await;
    if image_exists(docker, &tag, address).await? {
        return Ok(tag);
    }
    let context = build_context(&dockerfile)?;
    let mut labels = HashMap::new();
    labels.insert("deepagent.runtime".to_owned(), runtime.name.clone());
    let options = BuildImageOptionsBuilder::new()
        .dockerfile("Dockerfile")
        .t(&tag)
        .rm(true)
        .forcerm(true)
        .labels(&labels)
        .build();
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    let mut log = String::new();
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| build_failed(runtime, &tag, &e.to_string(), &log))?;
        if let Some(error) = info.error {
            return Err(build_failed(runtime, &tag, &error, &log));
        }
        if let Some(text) = info.stream {
            log.push_str(&text);
            if log.len() > 8192 {
                let cut = log.len() - 4096;
                let cut = (cut..log.len())
                    .find(|&i| log.is_char_boundary(i))
                    .unwrap_or(0);
                log.drain(..cut);
            }
        }
    }
    if !image_exists(docker, &tag, address).await? {
        return Err(build_failed(
            runtime,
            &tag,
            "the build ended without an image",
            &log,
        ));
    }
    Ok(tag)
}

async fn image_exists(docker: &Docker, tag: &str, address: &str) -> Result<bool> {
    match docker.inspect_image(tag).await {
        Ok(_) => Ok(true),
        Err(e) if matches!(status_of(&e), Some((404, _))) => Ok(false),
        Err(e) => Err(crate::engine::engine_call_error(
            format!("cannot inspect image {tag} on the Docker engine at {address}"),
            e,
        )),
    }
}

/// The error for an image the engine does not have.
pub(crate) fn missing_image(image: &str, runtime: &RuntimeConfig, address: &str) -> BackendError {
    BackendError::other(format!(
        "image {image} of runtime {:?} is not on the Docker engine at {address} (this sandbox never pulls: run `docker pull {image}` or build it first)",
        runtime.name,
    ))
}

fn build_failed(runtime: &RuntimeConfig, tag: &str, error: &str, log: &str) -> BackendError {
    BackendError::other(format!(
        "building image {tag} for runtime {:?} failed: {}\n{}",
        runtime.name,
        error.trim(),
        log.trim()
    ))
}

/// A build context holding only the Dockerfile, built in memory.
fn build_context(dockerfile: &str) -> Result<Vec<u8>> {
    crate::archive::single_file("Dockerfile", dockerfile.as_bytes(), 0o644, 0, 0)
}
