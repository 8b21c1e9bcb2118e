//! Your own state in tools: an inventory (standing in for a database pool
//! or an HTTP client) added to the run's deps and reached, typed, from the
//! tools with `ctx.dep::<Inventory>()?`.
//!
//! ```sh
//! cargo run --example user_deps                     # offline: a scripted model
//! DEEPAGENT_MODEL=openai:gpt-4.1 cargo run --example user_deps
//! ```

use std::collections::BTreeMap;
use std::error::Error;
use std::sync::{Arc, Mutex};

use deepagent::models::infer_model;
use deepagent::{
    create_deep_agent, typed_tool, DeepAgentDeps, FunctionModel, Model, ModelResponse,
    StateBackend, ToolCall, ToolError,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

/// The program's own state: items in stock. A real program would hold a
/// `sqlx::PgPool` or a `reqwest::Client` here.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Units in stock per item.
    pub stock: Mutex<BTreeMap<String, u32>>,
}

/// Which item.
#[derive(Deserialize, JsonSchema)]
pub struct Item {
    /// The item's name, e.g. `widget`.
    pub item: String,
}

/// Reserve some units of an item.
#[derive(Deserialize, JsonSchema)]
pub struct Reserve {
    /// The item's name.
    pub item: String,
    /// How many units.
    pub units: u32,
}

const PROMPT: &str = "Reserve 3 widgets if at least 3 are in stock, then say what is left.";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let inventory = Arc::new(Inventory::default());
    inventory.stock.lock().unwrap().insert("widget".into(), 5);
    let output = run_example(choose_model()?, inventory.clone()).await?;
    println!("Agent: {output}");
    println!("Stock afterwards: {:?}", inventory.stock.lock().unwrap());
    Ok(())
}

/// Runs the agent with `inventory` in its deps; the final answer.
pub async fn run_example(
    model: Arc<dyn Model>,
    inventory: Arc<Inventory>,
) -> Result<String, Box<dyn Error>> {
    let stock = typed_tool(
        "stock",
        "Units of an item in stock.",
        |ctx, a: Item| async move {
            let inventory = ctx.dep::<Inventory>()?;
            let n = inventory
                .stock
                .lock()
                .map_err(ToolError::failed)?
                .get(&a.item)
                .copied();
            Ok(format!("{}: {} in stock", a.item, n.unwrap_or(0)))
        },
    );
    let reserve = typed_tool(
        "reserve",
        "Reserves units of an item; fails when too few are in stock.",
        |ctx, a: Reserve| async move {
            let inventory = ctx.dep::<Inventory>()?;
            let mut stock = inventory.stock.lock().map_err(ToolError::failed)?;
            let have = stock.entry(a.item.clone()).or_insert(0);
            if *have < a.units {
                return Err(ToolError::failed(format!("only {have} {} left", a.item)));
            }
            *have -= a.units;
            Ok(format!("reserved {} {}; {} left", a.units, a.item, have))
        },
    );
    let agent = create_deep_agent()
        .model_impl(model)
        .include_filesystem(false)
        .include_subagents(false)
        .tools([stock, reserve])
        .build()?;
    let deps = DeepAgentDeps::new(StateBackend::new()).with_dep_arc(inventory);
    Ok(agent.run(PROMPT, &deps).await?.output)
}

fn choose_model() -> Result<Arc<dyn Model>, Box<dyn Error>> {
    if let Ok(spec) = std::env::var("DEEPAGENT_MODEL") {
        return Ok(infer_model(&spec)?);
    }
    println!("(offline: a scripted model; set DEEPAGENT_MODEL=openai:gpt-4.1 for a real one)");
    Ok(Arc::new(offline_model()))
}

/// Checks the stock, reserves, and reports the tool's answer.
pub fn offline_model() -> FunctionModel {
    FunctionModel::new(|req| match req.assistant_turns() {
        0 => ModelResponse::call("stock", json!({"item": "widget"})),
        1 => ModelResponse::tool_calls([ToolCall::new(
            "r1",
            "reserve",
            json!({"item": "widget", "units": 3}),
        )]),
        _ => ModelResponse::text(format!("Done: {}", req.latest_tool_results()[0].1)),
    })
}
