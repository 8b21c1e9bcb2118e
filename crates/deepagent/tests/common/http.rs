//! A tiny scripted HTTP/1.1 server on 127.0.0.1 for provider tests: it
//! records each request and answers with the next scripted reply.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One scripted answer.
pub enum Reply {
    /// A complete response with a body.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// A body written in pieces with pauses, then the connection closes.
    Chunked {
        content_type: String,
        pieces: Vec<String>,
    },
    /// Close the connection without answering.
    Drop,
    /// Promise a 200 body of `promised` bytes, send `sent`, then close.
    Truncated { promised: usize, sent: String },
    /// Send a 200 head of `content_type` and `sent` (possibly nothing, or
    /// no head at all when `head` is false), then hold the connection open
    /// without another byte.
    Stall {
        head: bool,
        content_type: String,
        sent: String,
    },
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Reply::Full {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }
    pub fn raw(status: u16, body: &str) -> Self {
        Reply::Full {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        }
    }
    pub fn sse(pieces: Vec<String>) -> Self {
        Reply::Chunked {
            content_type: "text/event-stream".into(),
            pieces,
        }
    }
}

/// What the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct MockServer {
    pub base: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where the answers come from: a script, or a function of the request.
enum Source {
    Script(Mutex<VecDeque<Reply>>),
    Handler(Box<dyn Fn(&Recorded) -> Reply + Send + Sync>),
}

impl MockServer {
    /// Answers the requests with `replies`, in order (then with a 500).
    pub async fn start(replies: Vec<Reply>) -> Self {
        // Bounded: never serves more than it was scripted for (plus a few).
        Self::start_with(Source::Script(Mutex::new(VecDeque::from(replies))), 64).await
    }

    /// Answers every request with what `handler` makes of it, for runs
    /// too long to script reply by reply.
    pub async fn serve(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        Self::start_with(Source::Handler(Box::new(handler)), usize::MAX).await
    }

    async fn start_with(source: Source, bound: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let rec = requests.clone();
        let task = tokio::spawn(async move {
            for _ in 0..bound {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let Some(req) = read_request(&mut sock).await else {
                    continue;
                };
                let reply = match &source {
                    Source::Script(replies) => replies.lock().unwrap().pop_front(),
                    Source::Handler(handler) => Some(handler(&req)),
                };
                rec.lock().unwrap().push(req);
                match reply {
                    None => {
                        let body = r#"{"error":{"message":"mock server: no reply scripted"}}"#;
                        let _ = write_full(&mut sock, 500, &[], body).await;
                    }
                    Some(Reply::Drop) => drop(sock),
                    Some(Reply::Stall {
                        head,
                        content_type,
                        sent,
                    }) => {
                        if head {
                            let head = format!("HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\nconnection: close\r\n\r\n");
                            let _ = sock.write_all(head.as_bytes()).await;
                            let _ = sock.write_all(sent.as_bytes()).await;
                            let _ = sock.flush().await;
                        }
                        // Held in a task of its own so later requests are served.
                        tokio::spawn(async move {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            drop(sock);
                        });
                    }
                    Some(Reply::Truncated { promised, sent }) => {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {promised}\r\n\r\n"
                        );
                        let _ = sock.write_all(head.as_bytes()).await;
                        let _ = sock.write_all(sent.as_bytes()).await;
                        let _ = sock.shutdown().await;
                    }
                    Some(Reply::Full {
                        status,
                        headers,
                        body,
                    }) => {
                        let _ = write_full(&mut sock, status, &headers, &body).await;
                    }
                    Some(Reply::Chunked {
                        content_type,
                        pieces,
                    }) => {
                        let head = format!("HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\nconnection: close\r\n\r\n");
                        if sock.write_all(head.as_bytes()).await.is_err() {
                            continue;
                        }
                        for p in pieces {
                            if sock.write_all(p.as_bytes()).await.is_err() {
                                break;
                            }
                            let _ = sock.flush().await;
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        let _ = sock.shutdown().await;
                    }
                }
            }
        });
        MockServer {
            base,
            requests,
            task,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

async fn write_full(
    sock: &mut tokio::net::TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &str,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    sock.write_all(head.as_bytes()).await?;
    sock.write_all(body.as_bytes()).await?;
    sock.shutdown().await
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = serde_json::from_slice(&buf[header_end..]).unwrap_or(Value::Null);
    Some(Recorded {
        method,
        path,
        headers,
        body,
    })
}
