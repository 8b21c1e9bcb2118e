//! The seed's read-only-source variation, end to end through
//! `examples/readonly_source.rs`: the source mount refuses the write, the
//! model is told why, and the fix lands in the in-memory workspace.

#[allow(dead_code)]
#[path = "../../../examples/readonly_source.rs"]
mod example;

use std::sync::Arc;

#[tokio::test]
async fn a_write_to_the_source_is_refused_and_the_fix_goes_to_memory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("calc.py"), example::SOURCE).unwrap();

    let report = example::run_example(dir.path(), Arc::new(example::offline_model()))
        .await
        .unwrap();

    // The disk is untouched, byte for byte, and nothing new appeared there.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("calc.py")).unwrap(),
        example::SOURCE
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["calc.py"]);

    // The model was told the location is read-only and where to go instead.
    let refusal = report.refusal.expect("the write to /src/ was not refused");
    assert!(refusal.contains("/src/calc.py"), "{refusal}");
    assert!(
        refusal.contains("write your changes elsewhere"),
        "{refusal}"
    );

    // The fix is in memory only.
    assert_eq!(report.workspace_copy.as_deref(), Some(example::FIXED));
    assert!(report.output.contains("read-only"), "{}", report.output);
}

#[tokio::test]
async fn the_prompt_tells_the_model_the_source_is_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let backend = deepagent::CompositeBackend::builder(deepagent::StateBackend::new())
        .route(
            "/src/",
            deepagent::layers::ReadOnly::new(deepagent::LocalBackend::new(dir.path()).unwrap()),
        )
        .build();
    let description =
        deepagent::describe_mounts(&backend).expect("a composite describes its mounts");
    let line = description
        .lines()
        .find(|l| l.contains("/src/"))
        .unwrap_or_else(|| panic!("no /src/ line in:\n{description}"));
    assert!(line.contains("read-only"), "{line}");
}
