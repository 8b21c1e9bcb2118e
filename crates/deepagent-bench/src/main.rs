//! `deepagent-bench`: the Rust side of `cargo xtask bench`.
//!
//! ```text
//! deepagent-bench gen  --data DIR [--quick] WORKLOAD...
//! deepagent-bench run  --data DIR [--quick] WORKLOAD VARIANT
//! deepagent-bench list
//! ```
//!
//! `gen` writes the deterministic data sets (and `params.json`, which the
//! Python scripts read); `run` measures one variant in this process and
//! prints one JSON object (see [`measure`]). The xtask alternates these
//! processes with the Python ones and builds the report.

mod data;
mod docker;
mod measure;
mod scale;
mod workloads;

use std::path::PathBuf;

/// Errors end the process with a message; this is a tool, not a library.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() {
    if let Err(e) = real_main() {
        eprintln!("deepagent-bench: {e}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<(), Error> {
    let mut data: Option<PathBuf> = None;
    let mut quick = false;
    let mut rest = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--data" => data = Some(args.next().ok_or("--data needs a directory")?.into()),
            "--quick" => quick = true,
            _ => rest.push(arg),
        }
    }
    let sizes = data::Sizes::new(quick);
    let usage = "usage: deepagent-bench <gen|run|list> --data DIR [--quick] ...";
    match rest.first().map(String::as_str) {
        Some("list") => {
            for (w, vs) in workloads::VARIANTS {
                println!("{w}: {}", vs.join(" "));
            }
            Ok(())
        }
        Some("gen") => {
            let data = data.ok_or(usage)?;
            data::generate(&data, sizes, &rest[1..])
        }
        Some("scale-gen") => {
            let data = data.ok_or(usage)?;
            let files = rest.get(1).ok_or(usage)?.parse()?;
            scale::generate(&data, files)
        }
        Some("scale") => {
            let data = data.ok_or(usage)?;
            let (Some(backend), Some(files)) = (rest.get(1), rest.get(2)) else {
                return Err(usage.into());
            };
            scale::run(&data, backend, files.parse()?)
        }
        Some("usable") => {
            let data = data.ok_or(usage)?;
            let (Some(files), Some(query)) = (rest.get(1), rest.get(2)) else {
                return Err(usage.into());
            };
            scale::usable(&data, files.parse()?, query)
        }
        Some("run") => {
            let data = data.ok_or(usage)?;
            let [_, workload, variant] = rest.as_slice() else {
                return Err(usage.into());
            };
            // Timers and IO on: the Docker backend (bollard) needs both.
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let ctx = workloads::Ctx { rt, data, sizes };
            let sample = workloads::run(&ctx, workload, variant)?;
            println!("{}", sample.to_json());
            Ok(())
        }
        _ => Err(usage.into()),
    }
}
