//! Measurements, not checks: run them with
//! `cargo test -p deepagent --release --test overhead -- --ignored --nocapture`.
//!
//! - framework overhead per tool call: 10,000 steps of a no-op tool driven
//!   by a FunctionModel (one model request + one tool call per step);
//! - peak memory (VmHWM) of a 1,000-step run;
//! - the per-step cost of a history processor (issue 16): 2,000 steps
//!   with no processor, a no-op sync one, a no-op async one, and
//!   compaction checking every step without reaching its threshold.

use std::sync::Arc;
use std::time::Instant;

use deepagent::{
    create_deep_agent, tool, DeepAgent, DeepAgentDeps, FunctionModel, ModelResponse, StateBackend,
    ToolCall,
};
use serde_json::json;

fn looping_agent(steps: usize) -> DeepAgent {
    looping_builder(steps).build().unwrap()
}

fn looping_builder(steps: usize) -> deepagent::DeepAgentBuilder {
    let model = FunctionModel::new(move |req| {
        // Count turns from the end of the history cheaply: the tool-call
        // id carries the step number.
        let step = match req.messages.last() {
            Some(deepagent::Message::Tool { tool_call_id, .. }) => {
                tool_call_id.parse::<usize>().unwrap_or(0) + 1
            }
            _ => 0,
        };
        if step >= steps {
            ModelResponse::text("done")
        } else {
            // Usage as a provider reports it: compaction measures from it.
            ModelResponse::tool_calls([ToolCall::new(step.to_string(), "noop", json!({}))])
                .with_usage(1_000 + step as u64 * 20, 10)
        }
    });
    let noop = tool("noop")
        .description("does nothing")
        .handler(|_ctx, _args| async { Ok(String::new()) });
    create_deep_agent()
        .model_impl(Arc::new(model))
        .tool(noop)
        .max_steps(steps as u64 + 10)
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test]
#[ignore = "measurement; run with --ignored --nocapture"]
async fn overhead_per_tool_call() {
    let steps = 10_000;
    let agent = looping_agent(steps);
    let deps = DeepAgentDeps::new(StateBackend::new());
    let start = Instant::now();
    let r = agent.run("loop", &deps).await.unwrap();
    let elapsed = start.elapsed();
    assert_eq!(r.usage.requests as usize, steps + 1);
    println!(
        "{steps} steps in {:.3}s: {:.2} us per step (model request + tool call)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / steps as f64
    );
}

#[tokio::test]
#[ignore = "measurement; run with --ignored --nocapture"]
async fn peak_memory_of_a_1000_step_run() {
    let before = vm_hwm_kib();
    let agent = looping_agent(1_000);
    let deps = DeepAgentDeps::new(StateBackend::new());
    let r = agent.run("loop", &deps).await.unwrap();
    assert_eq!(r.messages.len(), 1 + 2 * 1_000 + 1);
    println!(
        "1000-step run: VmHWM before {} KiB, after {} KiB",
        before.unwrap_or(0),
        vm_hwm_kib().unwrap_or(0)
    );
}

#[tokio::test]
#[ignore = "measurement; run with --ignored --nocapture"]
async fn history_processor_cost_per_step() {
    let steps = 10_000;
    let time = |agent: DeepAgent| async move {
        let deps = DeepAgentDeps::new(StateBackend::new());
        let start = Instant::now();
        let r = agent.run("loop", &deps).await.unwrap();
        assert_eq!(r.usage.requests as usize, steps + 1);
        start.elapsed().as_secs_f64() * 1e6 / steps as f64
    };
    type Variant = (&'static str, fn(usize) -> DeepAgent);
    let variants: [Variant; 5] = [
        ("compaction off, no processor", |n| {
            looping_builder(n)
                .compaction(deepagent::CompactionConfig::disabled())
                .build()
                .unwrap()
        }),
        ("no-op sync processor", |n| {
            looping_builder(n)
                .compaction(deepagent::CompactionConfig::disabled())
                .history_processor(|_ctx, _messages: &mut Vec<deepagent::Message>| {})
                .build()
                .unwrap()
        }),
        ("no-op async processor", |n| {
            looping_builder(n)
                .compaction(deepagent::CompactionConfig::disabled())
                .history_processor_async(|_ctx, _messages| Box::pin(async { Ok(()) }))
                .build()
                .unwrap()
        }),
        // The default: compaction on, but this model has no window.
        (
            "default (compaction on, model without a window)",
            looping_agent,
        ),
        // Compaction's check on every step, never reaching its threshold:
        // the model reports usage, so the measure is the last report plus
        // the messages added since, not a walk over the whole history.
        ("compaction checking every step, below its threshold", |n| {
            looping_builder(n)
                .context_window("function", u64::MAX / 2)
                .build()
                .unwrap()
        }),
    ];
    // Rounds interleave the variants so a busy moment hits them alike.
    let rounds = 7;
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for _ in 0..rounds {
        for (i, (_, make)) in variants.iter().enumerate() {
            times[i].push(time(make(steps)).await);
        }
    }
    println!("{steps} steps x {rounds} rounds, us per step (median, min):");
    for ((name, _), mut t) in variants.iter().zip(times) {
        t.sort_by(f64::total_cmp);
        println!("  {name}: {:.2}, {:.2}", t[t.len() / 2], t[0]);
    }
}
