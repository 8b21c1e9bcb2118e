//! Tools from [MCP](https://modelcontextprotocol.io) servers, through the
//! official Rust SDK (`rmcp`). Needs the `mcp` cargo feature.
//!
//! An [`McpServer`] is a connected server: a child process spoken to over
//! stdio, or a streamable HTTP endpoint. It is a [`Toolset`]: give it to
//! [`DeepAgentBuilder::toolset`](crate::DeepAgentBuilder::toolset) and
//! the server's tools are offered to the model like any other tool.
//!
//! ```no_run
//! use std::sync::Arc;
//! use deepagent::create_deep_agent;
//! use deepagent::mcp::McpServer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut cmd = tokio::process::Command::new("npx");
//! cmd.args(["-y", "@modelcontextprotocol/server-everything"]);
//! let everything = McpServer::stdio("everything", cmd).connect().await?;
//! let agent = create_deep_agent()
//!     .model("anthropic:claude-sonnet-4-5")
//!     .toolset(Arc::new(everything.clone()))
//!     // Approvals name MCP tools by their prefixed name.
//!     .interrupt_on(["everything__get-env"])
//!     .build()?;
//! # let _ = agent;
//! # Ok(()) }
//! ```
//!
//! ## Names
//!
//! Each tool is offered as `<label>__<tool>` (`everything__echo`), so two
//! servers, or a server and the built-in tools, cannot clash; characters
//! model providers refuse in a tool name become `_`. Turn the prefix off
//! with [`McpServerBuilder::no_prefix`] or pick another with
//! [`McpServerBuilder::prefix`]. A tool whose name would still be invalid
//! or taken is left out and listed by [`McpServer::skipped_tools`].
//!
//! ## Changes, errors and crashes
//!
//! - When the server announces `notifications/tools/list_changed`, the
//!   list is fetched again; runs started after that see the new tools
//!   (a run keeps the tools it started with).
//! - A call the server answers with `isError` is a failed tool call: the
//!   model sees `Error: <the server's text>` and decides what to do. So is
//!   a protocol error (an unknown tool, invalid arguments).
//! - A server that stops (its process dies, the HTTP endpoint goes away)
//!   fails every call in flight and after it with a message naming the
//!   server and saying that it is no longer running; the run goes on.
//!   [`McpServer::is_closed`] tells the caller.
//! - A call that takes longer than [`McpServerBuilder::call_timeout`] is
//!   abandoned (the server is told to cancel it) and fails saying so.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock, ResourceContents};
use rmcp::service::{NotificationContext, RunningService, ServiceError};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, Peer, RoleClient, ServiceExt};
use serde_json::Value;

use crate::messages::ToolDef;
use crate::tools::{Tool, ToolContext, ToolError};
use crate::Toolset;

mod http;

/// The default for [`McpServerBuilder::call_timeout`].
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a server could not be connected or listed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum McpError {
    /// The label or prefix would not make valid tool names.
    #[error("invalid MCP server configuration: {0}")]
    Config(String),
    /// The server process could not be started.
    #[error("could not start the MCP server {label:?} ({command}): {source}; check that the program is installed and on PATH")]
    Spawn {
        /// The server's label.
        label: String,
        /// The program that was started.
        command: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The MCP handshake failed (the process exited, the URL is wrong,
    /// the server speaks another protocol).
    #[error("could not connect to the MCP server {label:?}: {message}")]
    Connect {
        /// The server's label.
        label: String,
        /// What went wrong.
        message: String,
    },
    /// Listing the server's tools failed.
    #[error("the MCP server {label:?} did not list its tools: {message}")]
    List {
        /// The server's label.
        label: String,
        /// What went wrong.
        message: String,
    },
}

enum Transport {
    Stdio(tokio::process::Command),
    Http(String),
}

/// Configures an [`McpServer`]; start with [`McpServer::stdio`] or
/// [`McpServer::http`], finish with [`connect`](Self::connect).
pub struct McpServerBuilder {
    label: String,
    transport: Transport,
    prefix: Option<String>,
    call_timeout: Duration,
    http_client: Option<reqwest::Client>,
}

impl std::fmt::Debug for McpServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServerBuilder")
            .field("label", &self.label)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl McpServerBuilder {
    fn new(label: String, transport: Transport) -> Self {
        let prefix = Some(format!("{label}__"));
        McpServerBuilder {
            label,
            transport,
            prefix,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            http_client: None,
        }
    }

    /// Offers the tools as `<prefix><tool>` instead of `<label>__<tool>`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Offers the tools under the server's own names. A name that clashes
    /// with a built-in or another tool keeps its first owner.
    pub fn no_prefix(mut self) -> Self {
        self.prefix = None;
        self
    }

    /// The longest a tool call may take (default
    /// [`DEFAULT_CALL_TIMEOUT`]).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// The HTTP client for a streamable HTTP server (proxies, TLS roots,
    /// default headers); by default a plain `reqwest::Client`.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Starts (stdio) or reaches (HTTP) the server, does the MCP
    /// handshake and lists its tools.
    pub async fn connect(self) -> Result<McpServer, McpError> {
        if self.label.is_empty() || !self.label.bytes().all(valid_name_byte) {
            return Err(McpError::Config(format!(
                "the label {:?} must be 1 or more letters, digits, '_' or '-' (it prefixes tool names)",
                self.label
            )));
        }
        let shared = Arc::new(Shared {
            label: self.label.clone(),
            prefix: self.prefix,
            call_timeout: self.call_timeout,
            tools: RwLock::new(Vec::new()),
            skipped: RwLock::new(Vec::new()),
            refreshes: AtomicU64::new(0),
            list_changes: AtomicU64::new(0),
        });
        let handler = Handler {
            shared: shared.clone(),
        };
        let label = self.label.clone();
        let connect_error = |e: &dyn std::fmt::Display| McpError::Connect {
            label: label.clone(),
            message: e.to_string(),
        };
        let (service, pid) = match self.transport {
            Transport::Stdio(mut command) => {
                let program = command
                    .as_std()
                    .get_program()
                    .to_string_lossy()
                    .into_owned();
                // The server must not outlive a dropped connection.
                command.kill_on_drop(true);
                let child = TokioChildProcess::new(command).map_err(|source| McpError::Spawn {
                    label: label.clone(),
                    command: program,
                    source,
                })?;
                let pid = child.id();
                let service = handler.serve(child).await.map_err(|e| connect_error(&e))?;
                (service, pid)
            }
            Transport::Http(url) => {
                let client = http::ReqwestClient(self.http_client.unwrap_or_default());
                let transport = StreamableHttpClientTransport::with_client(
                    client,
                    StreamableHttpClientTransportConfig::with_uri(url),
                );
                let service = handler
                    .serve(transport)
                    .await
                    .map_err(|e| connect_error(&e))?;
                (service, None)
            }
        };
        let peer = service.peer().clone();
        let server = McpServer {
            inner: Arc::new(Inner {
                shared,
                peer,
                pid,
                service: tokio::sync::Mutex::new(Some(service)),
            }),
        };
        server.refresh().await?;
        Ok(server)
    }
}

/// A connected MCP server whose tools an agent can call. Cheap to clone
/// (clones share the connection); the connection closes when the last
/// clone is dropped or on [`close`](Self::close).
///
/// See the [module docs](self) for names, list changes and failures.
#[derive(Clone)]
pub struct McpServer {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    peer: Peer<RoleClient>,
    pid: Option<u32>,
    service: tokio::sync::Mutex<Option<RunningService<RoleClient, Handler>>>,
}

/// What the notification handler and the server handle share.
struct Shared {
    label: String,
    prefix: Option<String>,
    call_timeout: Duration,
    tools: RwLock<Vec<Arc<dyn Tool>>>,
    skipped: RwLock<Vec<String>>,
    refreshes: AtomicU64,
    list_changes: AtomicU64,
}

impl std::fmt::Debug for McpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer")
            .field("label", &self.inner.shared.label)
            .field("pid", &self.inner.pid)
            .finish()
    }
}

impl McpServer {
    /// A server started as a child process, spoken to over its stdin and
    /// stdout (its stderr is inherited).
    pub fn stdio(label: impl Into<String>, command: tokio::process::Command) -> McpServerBuilder {
        McpServerBuilder::new(label.into(), Transport::Stdio(command))
    }

    /// A server at a streamable HTTP endpoint, e.g.
    /// `http://127.0.0.1:3001/mcp`.
    pub fn http(label: impl Into<String>, url: impl Into<String>) -> McpServerBuilder {
        McpServerBuilder::new(label.into(), Transport::Http(url.into()))
    }

    /// The label given at construction.
    pub fn label(&self) -> &str {
        &self.inner.shared.label
    }

    /// The child process's id, for a stdio server.
    pub fn pid(&self) -> Option<u32> {
        self.inner.pid
    }

    /// The names of the server's tools as the model sees them.
    pub fn tool_names(&self) -> Vec<String> {
        self.tools().iter().map(|t| t.name().to_owned()).collect()
    }

    /// Tools left out, each with why (an invalid or clashing name).
    pub fn skipped_tools(&self) -> Vec<String> {
        read(&self.inner.shared.skipped).clone()
    }

    /// How many times the tool list was fetched (once at connect, then
    /// after each change the server announced).
    pub fn list_refreshes(&self) -> u64 {
        self.inner.shared.refreshes.load(Ordering::SeqCst)
    }

    /// How many `notifications/tools/list_changed` the server sent.
    pub fn list_changes(&self) -> u64 {
        self.inner.shared.list_changes.load(Ordering::SeqCst)
    }

    /// The connection is gone (the server exited or was closed).
    pub fn is_closed(&self) -> bool {
        self.inner.peer.is_transport_closed()
    }

    /// Fetches the tool list again now (it is also fetched by itself when
    /// the server announces a change).
    pub async fn refresh(&self) -> Result<(), McpError> {
        refresh(&self.inner.shared, &self.inner.peer).await
    }

    /// Closes the connection (and stops a stdio server). Calls in flight
    /// fail as if the server had stopped.
    pub async fn close(&self) {
        if let Some(service) = self.inner.service.lock().await.take() {
            let _ = service.cancel().await;
        }
    }
}

impl Toolset for McpServer {
    fn name(&self) -> &str {
        self.label()
    }

    fn tools(&self) -> Vec<Arc<dyn Tool>> {
        read(&self.inner.shared.tools).clone()
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    // A panic elsewhere cannot leave a list half-written (it is replaced
    // whole), so a poisoned lock still holds a usable value.
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn valid_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// The name a tool is offered under: prefixed, with characters providers
/// refuse replaced.
fn model_name(prefix: Option<&str>, remote: &str) -> String {
    let raw = format!("{}{remote}", prefix.unwrap_or(""));
    raw.chars()
        .map(|c| {
            if c.is_ascii() && valid_name_byte(c as u8) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

async fn refresh(shared: &Arc<Shared>, peer: &Peer<RoleClient>) -> Result<(), McpError> {
    let listed = peer.list_all_tools().await.map_err(|e| McpError::List {
        label: shared.label.clone(),
        message: describe_service_error(&shared.label, &e),
    })?;
    let mut tools: Vec<Arc<dyn Tool>> = Vec::with_capacity(listed.len());
    let mut skipped = Vec::new();
    for t in listed {
        let name = model_name(shared.prefix.as_deref(), &t.name);
        if name.is_empty() || name.len() > 64 {
            skipped.push(format!(
                "{}: {name:?} is not 1 to 64 characters, as model providers require",
                t.name
            ));
            continue;
        }
        if tools.iter().any(|x| x.name() == name) {
            skipped.push(format!(
                "{}: {name:?} is already the name of another tool of this server",
                t.name
            ));
            continue;
        }
        let description = t
            .description
            .as_deref()
            .map(str::to_owned)
            .or_else(|| t.title.clone())
            .unwrap_or_default();
        tools.push(Arc::new(McpTool {
            def: ToolDef {
                name,
                description,
                parameters: Value::Object((*t.input_schema).clone()),
            },
            remote: t.name.to_string(),
            label: shared.label.clone(),
            timeout: shared.call_timeout,
            peer: peer.clone(),
        }));
    }
    *shared.tools.write().unwrap_or_else(|e| e.into_inner()) = tools;
    *shared.skipped.write().unwrap_or_else(|e| e.into_inner()) = skipped;
    shared.refreshes.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

/// Listens for list changes.
struct Handler {
    shared: Arc<Shared>,
}

impl ClientHandler for Handler {
    async fn on_tool_list_changed(&self, context: NotificationContext<RoleClient>) {
        self.shared.list_changes.fetch_add(1, Ordering::SeqCst);
        let shared = self.shared.clone();
        let peer = context.peer;
        // Fetching from inside the handler would hold up the connection's
        // message loop while it waits for the answer.
        tokio::spawn(async move {
            // A failed refresh keeps the old list; the calls then say
            // what is wrong.
            let _ = refresh(&shared, &peer).await;
        });
    }
}

/// One tool of an MCP server.
struct McpTool {
    def: ToolDef,
    remote: String,
    label: String,
    timeout: Duration,
    peer: Peer<RoleClient>,
}

#[async_trait]
impl Tool for McpTool {
    fn name(&self) -> &str {
        &self.def.name
    }

    fn definition(&self) -> ToolDef {
        self.def.clone()
    }

    async fn call(&self, _ctx: &ToolContext, args: Value) -> Result<String, ToolError> {
        let mut params = CallToolRequestParams::new(self.remote.clone());
        params.arguments = match args {
            Value::Object(map) => Some(map),
            Value::Null => None,
            other => {
                return Err(ToolError::Retry(format!(
                    "arguments must be a JSON object, got {other}"
                )))
            }
        };
        let call = self.peer.call_tool(params);
        match tokio::time::timeout(self.timeout, call).await {
            Err(_) => Err(ToolError::Failed(format!(
                "the MCP server {:?} did not answer the call to {} within {:?}; the call was abandoned",
                self.label, self.remote, self.timeout
            ))),
            Ok(Err(e)) => Err(ToolError::Failed(describe_service_error(&self.label, &e))),
            Ok(Ok(result)) => {
                let text = result_text(&result);
                if result.is_error == Some(true) {
                    Err(ToolError::Failed(if text.is_empty() {
                        format!("the MCP tool {} failed without a message", self.remote)
                    } else {
                        text
                    }))
                } else {
                    Ok(text)
                }
            }
        }
    }
}

fn describe_service_error(label: &str, e: &ServiceError) -> String {
    match e {
        ServiceError::McpError(data) => {
            format!("the MCP server {label:?} refused the request: {}", data.message)
        }
        ServiceError::TransportClosed | ServiceError::TransportSend(_) => format!(
            "the MCP server {label:?} is not running any more (its connection closed: {e}); its tools cannot be used until it is restarted"
        ),
        ServiceError::Cancelled { .. } => format!(
            "the connection to the MCP server {label:?} was closed while the call ran ({e})"
        ),
        other => format!("the MCP server {label:?} failed: {other}"),
    }
}

/// The text the model sees for a result: text parts as they are, other
/// parts described, structured content as JSON when there is nothing
/// else.
fn result_text(result: &CallToolResult) -> String {
    let mut parts: Vec<String> = Vec::new();
    for block in &result.content {
        parts.push(match block {
            ContentBlock::Text(t) => t.text.clone(),
            ContentBlock::Image(i) => format!(
                "[image: {}, {} bytes base64, not shown]",
                i.mime_type,
                i.data.len()
            ),
            ContentBlock::Audio(a) => format!(
                "[audio: {}, {} bytes base64, not shown]",
                a.mime_type,
                a.data.len()
            ),
            ContentBlock::Resource(r) => match &r.resource {
                ResourceContents::TextResourceContents { uri, text, .. } => {
                    format!("[resource {uri}]\n{text}")
                }
                ResourceContents::BlobResourceContents { uri, mime_type, .. } => format!(
                    "[resource {uri}: binary{}, not shown]",
                    mime_type
                        .as_deref()
                        .map(|m| format!(" {m}"))
                        .unwrap_or_default()
                ),
                _ => "[resource]".to_owned(),
            },
            ContentBlock::ResourceLink(l) => format!("[resource link: {} ({})]", l.uri, l.name),
            _ => "[content of a kind this client does not show]".to_owned(),
        });
    }
    if parts.is_empty() {
        if let Some(v) = &result.structured_content {
            return v.to_string();
        }
    }
    parts.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prefixed_and_made_valid() {
        assert_eq!(model_name(Some("fs__"), "read.file"), "fs__read_file");
        assert_eq!(model_name(None, "get-sum"), "get-sum");
        assert_eq!(model_name(Some("a__"), "é/x"), "a____x");
    }
}
