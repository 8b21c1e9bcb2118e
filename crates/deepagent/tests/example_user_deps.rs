//! `examples/user_deps.rs` offline: the tools change the program's own
//! inventory through the run's deps.

#[allow(dead_code)]
#[path = "../../../examples/user_deps.rs"]
mod example;

use std::sync::Arc;

#[tokio::test]
async fn the_user_deps_example_reserves_from_the_programs_inventory() {
    let inventory = Arc::new(example::Inventory::default());
    inventory.stock.lock().unwrap().insert("widget".into(), 5);
    let output = example::run_example(Arc::new(example::offline_model()), inventory.clone())
        .await
        .unwrap();
    assert_eq!(output, "Done: reserved 3 widget; 2 left");
    assert_eq!(inventory.stock.lock().unwrap()["widget"], 2);
}
