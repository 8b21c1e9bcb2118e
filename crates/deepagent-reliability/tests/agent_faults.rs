//! Agent faults: a model server on 127.0.0.1 that misbehaves (malformed
//! JSON, truncated streams, 500s, a stall), and a user tool that panics.
//! The run retries what is transient and otherwise ends with an error that
//! names the cause; a panicking tool becomes a tool error for the model.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deepagent::models::openai::OpenAiModel;
use deepagent::{
    create_deep_agent, tool, DeepAgentDeps, FunctionModel, ModelResponse, RetryPolicy, ToolError,
};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the fake server does with one request.
#[derive(Clone)]
enum Reply {
    /// Status and body, then close.
    Full(u16, String),
    /// A 200 with only the first `n` bytes of `body`, then close.
    Truncated(String, usize),
    /// Read the request, never answer.
    Stall,
}

struct Server {
    base: String,
    hits: Arc<Mutex<usize>>,
}

async fn serve(script: Vec<Reply>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let hits = Arc::new(Mutex::new(0));
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let counter = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (script, counter) = (script.clone(), counter.clone());
            tokio::spawn(async move {
                // Read headers and the declared body; the content is not needed.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                *counter.lock().unwrap() += 1;
                let reply = script.lock().unwrap().pop_front().unwrap_or(Reply::Full(
                    500,
                    r#"{"error":{"message":"script exhausted"}}"#.into(),
                ));
                match reply {
                    Reply::Full(status, body) => {
                        let head = format!("HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
                        let _ = sock.write_all(head.as_bytes()).await;
                        let _ = sock.write_all(body.as_bytes()).await;
                    }
                    Reply::Truncated(body, n) => {
                        let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
                        let _ = sock.write_all(head.as_bytes()).await;
                        let _ = sock.write_all(&body.as_bytes()[..n]).await;
                    }
                    Reply::Stall => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                }
                let _ = sock.shutdown().await;
            });
        }
    });
    Server { base, hits }
}

fn ok_body(text: &str) -> String {
    json!({
        "id": "x", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    })
    .to_string()
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .max_retries(3)
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(50))
}

async fn run_against(server: &Server, retry: RetryPolicy) -> Result<String, String> {
    // A short request timeout: the default (120 s) is sized for real models
    // that think for minutes before the first byte.
    let model = OpenAiModel::new("gpt-test", "sk-test")
        .base_url(&server.base)
        .retry(retry)
        .timeout(Duration::from_secs(2));
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .build()
        .unwrap();
    let deps = DeepAgentDeps::new(deepagent::StateBackend::new());
    agent
        .run("hello", &deps)
        .await
        .map(|r| r.output)
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_then_succeed() {
    let server = serve(vec![
        Reply::Full(500, r#"{"error":{"message":"boom"}}"#.into()),
        Reply::Full(503, "upstream down".into()),
        Reply::Full(200, ok_body("recovered")),
    ])
    .await;
    let out = run_against(&server, fast_retries())
        .await
        .expect("retried to success");
    assert_eq!(out, "recovered");
    assert_eq!(*server.hits.lock().unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_500s_end_with_an_error_naming_the_status() {
    let server = serve(vec![
        Reply::Full(
            500,
            r#"{"error":{"message":"the GPU caught fire"}}"#.into()
        );
        10
    ])
    .await;
    let err = run_against(&server, fast_retries())
        .await
        .expect_err("must fail");
    eprintln!("persistent 500: {err}");
    assert!(
        err.contains("500") && err.contains("the GPU caught fire"),
        "{err}"
    );
    assert_eq!(*server.hits.lock().unwrap(), 4, "1 attempt + 3 retries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_ends_with_a_decode_error() {
    let server = serve(vec![
        Reply::Full(200, r#"{"choices": [ {"message": "#.into());
        10
    ])
    .await;
    let err = run_against(&server, fast_retries())
        .await
        .expect_err("must fail");
    eprintln!("malformed JSON: {err}");
    assert!(
        err.contains("decode") || err.contains("JSON") || err.contains("json"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_shaped_json_ends_with_a_decode_error() {
    let server = serve(vec![
        Reply::Full(200, r#"{"choices": "not a list"}"#.into());
        10
    ])
    .await;
    let err = run_against(&server, fast_retries())
        .await
        .expect_err("must fail");
    eprintln!("wrong-shaped JSON: {err}");
    assert!(err.contains("decode") || err.contains("choices"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_body_fails_or_retries_but_never_hangs() {
    let body = ok_body("whole");
    let cut = body.len() / 2;
    let server = serve(vec![
        Reply::Truncated(body.clone(), cut),
        Reply::Truncated(body, cut),
        Reply::Full(200, ok_body("whole")),
    ])
    .await;
    let r = tokio::time::timeout(
        Duration::from_secs(60),
        run_against(&server, fast_retries()),
    )
    .await
    .expect("truncated body hung the run");
    eprintln!(
        "truncated body: {r:?} after {} requests",
        server.hits.lock().unwrap()
    );
    match r {
        Ok(out) => assert_eq!(out, "whole"),
        Err(e) => assert!(!e.is_empty()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_stream_ends_with_an_error_not_a_partial_answer() {
    // An SSE stream cut before `[DONE]` and before finish_reason.
    let listener_body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"}}]}\n\n";
    let server = serve(vec![Reply::Full(200, listener_body.into()); 5]).await;
    let model = OpenAiModel::new("gpt-test", "sk-test")
        .base_url(&server.base)
        .retry(fast_retries());
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .build()
        .unwrap();
    let deps = DeepAgentDeps::new(deepagent::StateBackend::new());
    let mut stream = agent.run_stream("hello", &deps);
    let r = tokio::time::timeout(Duration::from_secs(60), async {
        use futures::StreamExt;
        let mut last = None;
        while let Some(ev) = stream.next().await {
            last = Some(format!("{ev:?}"));
        }
        last
    })
    .await
    .expect("truncated stream hung the run");
    eprintln!("truncated stream: last event {r:?}");
    let last = r.expect("the stream ends with a Finished event");
    assert!(
        !last.contains("Finished(Ok"),
        "a stream cut before finish_reason and [DONE] must not finish as a success: {last}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_server_does_not_hold_a_run_forever() {
    let server = serve(vec![Reply::Stall; 5]).await;
    let t = Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(20),
        run_against(&server, RetryPolicy::none()),
    )
    .await;
    eprintln!("stalled server: {:?} after {:.1?}", r, t.elapsed());
    assert!(
        r.is_ok(),
        "a server that never answers held the run past 20 s (no request timeout setting)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_ends_with_an_error_naming_it() {
    // Bind then drop: a closed port on 127.0.0.1.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = Server {
        base: format!("http://{addr}/v1"),
        hits: Arc::new(Mutex::new(0)),
    };
    let t = Instant::now();
    let err = run_against(&server, fast_retries())
        .await
        .expect_err("nothing listens");
    eprintln!("unreachable: {:.1?}: {err}", t.elapsed());
    assert!(
        err.contains(&addr.port().to_string()) || err.contains("connect"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_tool_becomes_a_tool_error_for_the_model() {
    let boom = tool("boom")
        .description("Always panics.")
        .handler(|_ctx, _args| async move {
            if std::hint::black_box(true) {
                panic!("user tool exploded");
            }
            Ok::<_, ToolError>(String::new())
        });
    let seen = Arc::new(Mutex::new(String::new()));
    let seen2 = seen.clone();
    let model = FunctionModel::new(move |req| {
        let results = req.latest_tool_results();
        if results.is_empty() {
            ModelResponse::call("boom", json!({}))
        } else {
            *seen2.lock().unwrap() = results[0].1.to_owned();
            ModelResponse::text("handled")
        }
    });
    let agent = create_deep_agent()
        .model_impl(Arc::new(model))
        .tool(boom)
        .build()
        .unwrap();
    let deps = DeepAgentDeps::new(deepagent::StateBackend::new());
    // The run in a task of its own, so a panic is observed, not inherited.
    let run = tokio::spawn(async move { agent.run("go", &deps).await.map(|r| r.output) });
    let outcome = run.await;
    let tool_text = seen.lock().unwrap().clone();
    eprintln!(
        "panicking tool: run outcome {:?}; model saw {tool_text:?}",
        outcome
            .as_ref()
            .map(|r| r.as_ref().map_err(|e| e.to_string()))
    );
    let out = outcome
        .expect("the run crashed with the tool's panic")
        .expect("run ok");
    assert_eq!(out, "handled");
    assert!(
        tool_text.contains("panic") || tool_text.contains("exploded"),
        "{tool_text}"
    );
}
