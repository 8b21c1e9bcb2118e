//! `examples/custom_prompt.rs` offline: each request's system prompt has
//! the replaced base, no planning section, the extended files section,
//! and instructions computed for that request.

#[allow(dead_code)]
#[path = "../../../examples/custom_prompt.rs"]
mod example;

#[tokio::test]
async fn the_custom_prompt_example_fits_every_request() {
    let systems = example::run_example().await.unwrap();
    assert_eq!(systems.len(), 2);
    for (i, s) in systems.iter().enumerate() {
        assert!(s.starts_with("You are the changelog keeper"), "{s}");
        assert!(!s.contains("## Planning"), "{s}");
        assert!(s.contains("- The changelog is /CHANGELOG.md"), "{s}");
        let expected = format!(
            "## Instructions\nYou are talking to Ada. This is model request {} of the run.",
            i + 1
        );
        assert!(s.ends_with(&expected), "{s}");
    }
}
