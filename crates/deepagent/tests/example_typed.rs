//! `examples/typed_output.rs` offline: a typed tool runs, the first
//! report (missing a field) is sent back, the second arrives as a struct.

#[allow(dead_code)]
#[path = "../../../examples/typed_output.rs"]
mod example;

use std::sync::Arc;

#[tokio::test]
async fn the_typed_output_example_returns_a_validated_report() {
    let (report, requests) = example::run_example(Arc::new(example::offline_model()))
        .await
        .unwrap();
    assert_eq!(report.files, ["/src/main.rs", "/src/lib.rs"]);
    assert_eq!(report.total_lines, 6);
    assert!(report.summary.contains("prints hi"), "{}", report.summary);
    // Tools, the invalid report, the valid one.
    assert_eq!(requests, 3);
}
