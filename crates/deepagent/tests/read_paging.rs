//! `read_file` fits its own cap (issue 12, item 10): the default read of
//! a long file ends on a whole line with the offset to continue from, and
//! every byte of a file, even of a line longer than the cap, is reachable
//! by following the hints.

use std::sync::Arc;

use deepagent::{
    create_deep_agent, Backend, Bytes, DeepAgentDeps, Message, ModelResponse, ScriptedModel,
    StateBackend,
};
use regex::Regex;
use serde_json::{json, Value};

/// What the model is sent for one read_file call.
async fn read(deps: &DeepAgentDeps, args: Value) -> String {
    let model = ScriptedModel::new([
        ModelResponse::call("read_file", args),
        ModelResponse::text("done"),
    ]);
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .build()
        .unwrap();
    let r = agent.run("go", deps).await.unwrap();
    r.messages
        .iter()
        .find_map(|m| match m {
            Message::Tool { content, .. } => Some(content.clone()),
            _ => None,
        })
        .unwrap()
}

/// Follows the hints from the start of `path` and puts the file back
/// together from the numbered rows; returns it and the reads it took.
async fn read_all(deps: &DeepAgentDeps, path: &str) -> (String, usize) {
    let more_lines =
        Regex::new(r"^\.\.\. \((\d+) more lines; continue with offset=(\d+)\)$").unwrap();
    let continues = Regex::new(
        r"^\[line (\d+) continues: (\d+) more characters; read on with offset=(\d+) and char_offset=(\d+)\]$",
    )
    .unwrap();
    let mut lines: Vec<String> = Vec::new();
    let mut args = json!({"path": path});
    let mut reads = 0;
    loop {
        reads += 1;
        assert!(reads < 100, "the hints do not converge");
        let out = read(deps, args.clone()).await;
        assert!(
            out.chars().count() <= 20_000,
            "a read is over the cap: {} characters",
            out.chars().count()
        );
        assert!(!out.contains("[Output truncated"), "the cap cut a read");
        let mut next = None;
        let mut continuing = args.get("char_offset").is_some();
        for row in out.lines() {
            if let Some(c) = more_lines.captures(row) {
                next = Some(json!({"path": path, "offset": c[2].parse::<u64>().unwrap()}));
            } else if let Some(c) = continues.captures(row) {
                next = Some(json!({"path": path, "offset": c[3].parse::<u64>().unwrap(),
                                   "char_offset": c[4].parse::<u64>().unwrap()}));
            } else {
                let (number, text) = row.split_once('\t').expect("a numbered row");
                let number: usize = number.trim().parse().unwrap();
                if continuing {
                    assert_eq!(number, lines.len(), "a continuation row");
                    lines.last_mut().unwrap().push_str(text);
                    continuing = false;
                } else {
                    assert_eq!(number, lines.len() + 1, "rows come in order");
                    lines.push(text.to_owned());
                }
            }
        }
        match next {
            Some(n) => args = n,
            None => break,
        }
    }
    (lines.join("\n") + "\n", reads)
}

#[tokio::test]
async fn the_default_read_of_a_long_file_ends_on_a_whole_line() {
    // 1,000 lines of 70 bytes: 70 KB.
    let content: String = (0..1000)
        .map(|i| format!("{i:04} {}\n", "x".repeat(64)))
        .collect();
    let backend = StateBackend::new();
    backend
        .write("/big.txt", Bytes::from(content.clone()))
        .await
        .unwrap();
    let deps = DeepAgentDeps::new(backend);

    let first = read(&deps, json!({"path": "/big.txt"})).await;
    let rows: Vec<&str> = first.lines().collect();
    let last_row = rows[rows.len() - 2];
    assert_eq!(
        last_row.split_once('\t').unwrap().1.len(),
        69,
        "the last line shown is whole: {last_row:?}"
    );
    let hint = rows[rows.len() - 1];
    let shown = rows.len() - 1;
    assert_eq!(
        hint,
        format!(
            "... ({} more lines; continue with offset={shown})",
            1000 - shown
        )
    );
    assert!(shown > 250, "{shown} lines in one read");

    let (back, reads) = read_all(&deps, "/big.txt").await;
    assert_eq!(back, content);
    assert_eq!(reads, 4);
}

#[tokio::test]
async fn a_line_longer_than_the_cap_is_read_in_pieces() {
    // One 70,000-character line (multi-byte characters, so pieces are cut
    // on characters) between two short ones.
    let long: String = "aé".repeat(35_000);
    let content = format!("first\n{long}\nlast\n");
    let backend = StateBackend::new();
    backend
        .write("/wide.txt", Bytes::from(content.clone()))
        .await
        .unwrap();
    let deps = DeepAgentDeps::new(backend);
    let (back, reads) = read_all(&deps, "/wide.txt").await;
    assert_eq!(back, content);
    assert!(reads >= 4, "{reads}");
}
