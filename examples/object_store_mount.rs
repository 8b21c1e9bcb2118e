//! The seed's layout plus `/artifacts/` in an object store: project files
//! on disk, scratch notes in memory, build artifacts in S3, so they
//! outlive the machine.
//!
//! ```sh
//! # S3 (or any S3-compatible server): the standard AWS variables
//! export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... AWS_REGION=...
//! export DEEPAGENT_ARTIFACTS_URL=s3://my-bucket/run-42
//! cargo run -p deepagent --features object-store-aws --example object_store_mount
//!
//! # the same layout from a TOML file
//! cargo run -p deepagent --features object-store-aws --example object_store_mount -- --config examples/object_store_mount.toml
//! ```
//!
//! `cargo xtask test-s3` runs it against moto's S3 server on 127.0.0.1.
//! With no S3 endpoint or credentials in the environment, `/artifacts/`
//! goes to object_store's in-memory store instead, through the same
//! `ObjectStoreBackend`, and the example says so. Without
//! `OPENAI_API_KEY` the offline demo model performs the steps.

use std::error::Error;
use std::path::Path;
use std::sync::Arc;

use deepagent::config::BackendConfig;
use deepagent::models::{demo, infer_model};
use deepagent::{
    create_deep_agent, Backend, CompositeBackend, DeepAgentDeps, GlobQuery, LocalBackend, Model,
    ObjectStoreBackend, StateBackend,
};

const INSTRUCTIONS: &str = "
    You are a project assistant.

    File organization:
    - /project/ - Persistent project files (saved to disk)
    - /workspace/ - Working files (saved to disk)
    - /artifacts/ - Build outputs and reports (kept in object storage, shared across machines)
    - /temp/ or /scratch/ - Temporary files (in memory only)

    Use the appropriate location based on whether files should persist.
";

const PROMPT: &str = "Create a small Python project:
    1. Create /project/src/app.py with a simple Flask app
    2. Create /project/requirements.txt with dependencies
    3. Create /scratch/notes.txt with implementation notes (temporary)
    4. Create /project/README.md with project description
    5. Create /artifacts/build-report.md with a build report for the project (kept in object storage)
";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = choose_model()?;
    match args.as_slice() {
        [flag, file] if flag == "--config" => run_from_config(Path::new(file), model).await,
        [] => run_default(model).await,
        _ => Err("usage: object_store_mount [--config FILE.toml]".into()),
    }
}

/// The seed's layout in code, `/artifacts/` chosen by URL.
async fn run_default(model: Arc<dyn Model>) -> Result<(), Box<dyn Error>> {
    let url = artifacts_url();
    let artifacts = ObjectStoreBackend::from_url(&url)?;
    // Learn now, not at the model's fifth tool call, that the bucket is
    // missing or the credentials are wrong.
    artifacts.check().await?;
    let artifacts = Arc::new(artifacts);

    let memory = StateBackend::new();
    let local = LocalBackend::new("./workspace")?;
    let backend = CompositeBackend::builder(memory.clone())
        .route("/project/", local.clone())
        .route("/workspace/", local.clone())
        .route_arc("/artifacts/", artifacts.clone())
        .build();

    let output = run_agent(backend, model).await?;
    println!("Agent output:\n{output}");
    println!("\nTemporary files (in memory):");
    for path in memory.paths() {
        println!("  {path}");
    }
    println!("\nPersistent files (on disk, ./workspace):");
    for file in local.glob(&GlobQuery::new("**/*")).await?.files {
        println!("  ./workspace{}", file.path);
    }
    println!("\nArtifacts (in {url}):");
    for file in artifacts.glob(&GlobQuery::new("**/*")).await?.files {
        println!(
            "  /artifacts{} ({} bytes)",
            file.path,
            file.size.unwrap_or(0)
        );
    }
    Ok(())
}

/// The same agent over a composite described by a TOML file.
async fn run_from_config(file: &Path, model: Arc<dyn Model>) -> Result<(), Box<dyn Error>> {
    let config = BackendConfig::load(file)?;
    println!("Mounts from {}:", file.display());
    println!("  (default) -> {}", config.default.url);
    for (prefix, mount) in &config.mounts {
        println!("  {prefix} -> {}", mount.url);
    }
    let backend = config.build_composite()?;
    let output = run_agent(backend.clone(), model).await?;
    println!("Agent output:\n{output}");
    println!("\nFiles, as the agent sees them:");
    for file in backend.glob(&GlobQuery::new("**/*")).await?.files {
        println!("  {}", file.path);
    }
    Ok(())
}

async fn run_agent(
    backend: CompositeBackend,
    model: Arc<dyn Model>,
) -> Result<String, Box<dyn Error>> {
    let agent = create_deep_agent()
        .model_impl(model)
        .instructions(INSTRUCTIONS)
        .build()?;
    let deps = DeepAgentDeps::new(backend);
    Ok(agent.run(PROMPT, &deps).await?.output)
}

/// `DEEPAGENT_ARTIFACTS_URL`, else S3 when the environment names an
/// endpoint or credentials (moto under `cargo xtask test-s3`), else memory.
fn artifacts_url() -> String {
    if let Ok(url) = std::env::var("DEEPAGENT_ARTIFACTS_URL") {
        return url;
    }
    let has = |k: &str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
    if cfg!(feature = "object-store-aws") && (has("AWS_ENDPOINT_URL") || has("AWS_ACCESS_KEY_ID")) {
        let bucket = std::env::var("DEEPAGENT_TEST_S3_URL")
            .unwrap_or_else(|_| "s3://deepagent-artifacts".into());
        return format!(
            "{}/object-store-mount-example",
            bucket.trim_end_matches('/')
        );
    }
    println!(
        "No S3 endpoint or credentials in the environment (set AWS_ENDPOINT_URL or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, \
         or DEEPAGENT_ARTIFACTS_URL=s3://bucket/prefix, and build with --features object-store-aws): \
         keeping /artifacts/ in object_store's in-memory store (memory://) for this run."
    );
    "memory://".into()
}

/// The real model when a key is set, the offline demo otherwise.
fn choose_model() -> Result<Arc<dyn Model>, Box<dyn Error>> {
    if let Ok(spec) = std::env::var("DEEPAGENT_MODEL") {
        return Ok(infer_model(&spec)?);
    }
    if std::env::var("OPENAI_API_KEY").is_ok_and(|k| !k.trim().is_empty()) {
        return Ok(infer_model("openai:gpt-4.1")?);
    }
    println!("OPENAI_API_KEY is not set: running the built-in offline demo model (set it, or DEEPAGENT_MODEL, to use a real model).");
    Ok(Arc::new(demo::demo_model()))
}
