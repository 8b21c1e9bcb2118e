//! `tracing` spans with OpenTelemetry GenAI attribute names: one per run
//! (`invoke_agent`), per model request (`chat`), per tool call
//! (`execute_tool`), and, through the [`Traced`] backend layer, per
//! backend operation.
//!
//! | span | attributes |
//! |---|---|
//! | `invoke_agent` | `gen_ai.operation.name`, `gen_ai.agent.name`, `gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens` (the run tree's totals, main agent only), `deepagent.depth`, `error.type` |
//! | `chat` | `gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.output.type` (`text` or `json`), `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`, `gen_ai.response.finish_reasons`, `error.type` |
//! | `execute_tool` | `gen_ai.operation.name`, `gen_ai.tool.name`, `gen_ai.tool.call.id`, `gen_ai.tool.type`, `error.type` (`invalid_arguments` or `tool_error`) |
//! | `backend.<op>` | `deepagent.backend.operation`, `deepagent.backend.name`, `deepagent.backend.path`, `deepagent.backend.exit_code` (execute), `error.type` (the [`ErrorKind`](deepagent_core::ErrorKind)) |
//!
//! `otel.name` carries the OpenTelemetry span name (`chat gpt-4.1`,
//! `execute_tool read_file`, ...) for `tracing-opentelemetry`. Runs,
//! requests and tool calls are `INFO` spans; backend operations `DEBUG`.
//! Prompts, arguments and results are not recorded: they may hold what
//! should not leave the process.
//!
//! ```
//! use deepagent::telemetry::Traced;
//! use deepagent::{DeepAgentDeps, StateBackend};
//!
//! // Every file operation of the run gets its own span.
//! let deps = DeepAgentDeps::new(Traced::new(StateBackend::new()));
//! # let _ = deps;
//! ```

use std::time::Duration;

use async_trait::async_trait;
use deepagent_core::{
    Backend, BackendError, BackendInfo, Bytes, EditResult, ExecuteResponse, FileInfo, GlobQuery,
    GlobResult, GrepQuery, GrepResult, ReadSlice, Replace, Sandbox, WriteResult,
};
use tracing::field::Empty;
use tracing::Span;

use crate::error::AgentError;
use crate::messages::{ModelResponse, Usage};

/// Splits `openai:gpt-4.1` into the provider and the model; a name
/// without a provider (`test`, `function`) is both.
fn provider_and_model(name: &str) -> (&str, &str) {
    name.split_once(':').unwrap_or((name, name))
}

/// The span of one agent run (the main agent's, or a subagent's inside
/// its `task` call).
pub(crate) fn agent_span(agent: &str, model: &str, depth: usize) -> Span {
    let (provider, model) = provider_and_model(model);
    tracing::info_span!(
        "invoke_agent",
        otel.name = %format!("invoke_agent {agent}"),
        gen_ai.operation.name = "invoke_agent",
        gen_ai.agent.name = agent,
        gen_ai.provider.name = provider,
        gen_ai.request.model = model,
        deepagent.depth = depth as i64,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        error.type = Empty,
    )
}

/// As `i64`: OpenTelemetry exporters write a `u64` as a string, and the
/// GenAI conventions want an int.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Records a run's totals and how it ended.
pub(crate) fn record_run(span: &Span, usage: &Usage, error: Option<&AgentError>) {
    span.record("gen_ai.usage.input_tokens", int(usage.input_tokens));
    span.record("gen_ai.usage.output_tokens", int(usage.output_tokens));
    if let Some(e) = error {
        span.record("error.type", error_type(e));
    }
}

/// Records why a subagent's run failed (its tokens are in the main
/// agent's totals: the run tree shares one budget).
pub(crate) fn record_error(span: &Span, error: &AgentError) {
    span.record("error.type", error_type(error));
}

/// The span of one model request.
pub(crate) fn chat_span(model: &str, typed: bool) -> Span {
    let (provider, model) = provider_and_model(model);
    tracing::info_span!(
        "chat",
        otel.name = %format!("chat {model}"),
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = provider,
        gen_ai.request.model = model,
        gen_ai.output.type = if typed { "json" } else { "text" },
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.response.finish_reasons = Empty,
        error.type = Empty,
    )
}

/// Records what a model request came to.
pub(crate) fn record_chat(span: &Span, response: &Result<ModelResponse, AgentError>) {
    match response {
        Ok(r) => {
            span.record("gen_ai.usage.input_tokens", int(r.usage.input_tokens));
            span.record("gen_ai.usage.output_tokens", int(r.usage.output_tokens));
            let reason = if r.truncated {
                "length"
            } else if r.tool_calls.is_empty() {
                "stop"
            } else {
                "tool_calls"
            };
            span.record("gen_ai.response.finish_reasons", format!("[\"{reason}\"]"));
        }
        Err(e) => {
            span.record("error.type", error_type(e));
        }
    }
}

/// The span of one tool call.
pub(crate) fn tool_span(name: &str, call_id: &str) -> Span {
    tracing::info_span!(
        "execute_tool",
        otel.name = %format!("execute_tool {name}"),
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = name,
        gen_ai.tool.call.id = call_id,
        gen_ai.tool.type = "function",
        error.type = Empty,
    )
}

/// A low-cardinality name for why a run or request failed.
fn error_type(e: &AgentError) -> &'static str {
    // A variant added later is "other" until it gets a name here.
    #[allow(unreachable_patterns)]
    match e {
        AgentError::Config(_) => "config",
        AgentError::Model(_) => "model_error",
        AgentError::StepLimit { .. } => "step_limit",
        AgentError::UsageLimit(_) => "usage_limit",
        AgentError::ToolRetriesExceeded { .. } => "tool_retries_exceeded",
        AgentError::EmptyAnswer { .. } => "empty_answer",
        AgentError::OutputTruncated => "output_truncated",
        AgentError::OutputInvalid { .. } => "output_invalid",
        AgentError::Cancelled => "cancelled",
        AgentError::Paused { .. } => "paused",
        _ => "other",
    }
}

/// A backend layer that puts every operation in a `DEBUG` span named
/// `backend.<operation>` (see the [module docs](self) for the
/// attributes). It forwards everything else, including
/// [`info`](Backend::info) (so a composite's mounts are still described)
/// and [`as_sandbox`](Backend::as_sandbox) (so `execute` is offered
/// exactly when the inner backend runs commands).
///
/// ```
/// use deepagent::telemetry::Traced;
/// use deepagent::{Backend, Bytes, StateBackend};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> deepagent::BackendResult<()> {
/// let backend = Traced::new(StateBackend::new());
/// backend.write("/a.txt", Bytes::from("hi")).await?; // a `backend.write` span
/// assert_eq!(backend.name(), "StateBackend");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Traced<B> {
    inner: B,
}

impl<B: Backend> Traced<B> {
    /// Traces `inner`.
    pub fn new(inner: B) -> Self {
        Traced { inner }
    }

    /// The traced backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    fn span(&self, op: &'static str, path: &str) -> Span {
        tracing::debug_span!(
            "backend",
            otel.name = %format!("backend.{op}"),
            deepagent.backend.operation = op,
            deepagent.backend.name = self.inner.name(),
            deepagent.backend.path = path,
            deepagent.backend.exit_code = Empty,
            error.type = Empty,
        )
    }
}

/// Runs `fut` in `span` and records the error kind when it fails.
async fn traced<T>(
    span: Span,
    fut: impl std::future::Future<Output = Result<T, BackendError>>,
) -> Result<T, BackendError> {
    use tracing::Instrument;
    let result = fut.instrument(span.clone()).await;
    if let Err(e) = &result {
        span.record("error.type", format!("{:?}", e.kind()));
    }
    result
}

#[async_trait]
impl<B: Backend> Backend for Traced<B> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    async fn exists(&self, path: &str) -> deepagent_core::Result<bool> {
        traced(self.span("exists", path), self.inner.exists(path)).await
    }
    async fn ls(&self, path: &str) -> deepagent_core::Result<Vec<FileInfo>> {
        traced(self.span("ls", path), self.inner.ls(path)).await
    }
    async fn read_bytes(&self, path: &str) -> deepagent_core::Result<Bytes> {
        traced(self.span("read_bytes", path), self.inner.read_bytes(path)).await
    }
    async fn read(
        &self,
        path: &str,
        offset: usize,
        limit: usize,
    ) -> deepagent_core::Result<ReadSlice> {
        traced(
            self.span("read", path),
            self.inner.read(path, offset, limit),
        )
        .await
    }
    async fn write(&self, path: &str, content: Bytes) -> deepagent_core::Result<WriteResult> {
        traced(self.span("write", path), self.inner.write(path, content)).await
    }
    async fn edit(
        &self,
        path: &str,
        old: &str,
        new: &str,
        replace: Replace,
    ) -> deepagent_core::Result<EditResult> {
        traced(
            self.span("edit", path),
            self.inner.edit(path, old, new, replace),
        )
        .await
    }
    async fn glob(&self, query: &GlobQuery) -> deepagent_core::Result<GlobResult> {
        traced(self.span("glob", &query.path), self.inner.glob(query)).await
    }
    async fn grep(&self, query: &GrepQuery) -> deepagent_core::Result<GrepResult> {
        traced(self.span("grep", &query.path), self.inner.grep(query)).await
    }
    async fn resolve_links(&self, paths: &[String]) -> deepagent_core::Result<Vec<Option<String>>> {
        self.inner.resolve_links(paths).await
    }
    fn as_sandbox(&self) -> Option<&dyn Sandbox> {
        self.inner.as_sandbox().map(|_| self as &dyn Sandbox)
    }
    fn info(&self) -> BackendInfo {
        self.inner.info()
    }
    async fn delete(&self, path: &str, recursive: bool) -> deepagent_core::Result<()> {
        traced(
            self.span("delete", path),
            self.inner.delete(path, recursive),
        )
        .await
    }
    async fn rename(&self, from: &str, to: &str) -> deepagent_core::Result<()> {
        traced(self.span("rename", from), self.inner.rename(from, to)).await
    }
    async fn upload(
        &self,
        files: Vec<(String, Bytes)>,
    ) -> deepagent_core::Result<Vec<WriteResult>> {
        let first = files.first().map(|(p, _)| p.clone()).unwrap_or_default();
        traced(self.span("upload", &first), self.inner.upload(files)).await
    }
    async fn download(
        &self,
        paths: &[&str],
    ) -> deepagent_core::Result<Vec<deepagent_core::FileDownload>> {
        let first = paths.first().copied().unwrap_or_default();
        traced(self.span("download", first), self.inner.download(paths)).await
    }
}

#[async_trait]
impl<B: Backend> Sandbox for Traced<B> {
    fn id(&self) -> &str {
        self.inner.as_sandbox().map_or("", |s| s.id())
    }
    async fn execute(
        &self,
        command: &str,
        timeout: Option<Duration>,
    ) -> deepagent_core::Result<ExecuteResponse> {
        // The command itself is not recorded: it may carry secrets.
        let span = self.span("execute", "");
        let result = match self.inner.as_sandbox() {
            Some(sandbox) => traced(span.clone(), sandbox.execute(command, timeout)).await,
            None => Err(BackendError::unsupported("execute", self.inner.name())),
        };
        if let Ok(r) = &result {
            span.record("deepagent.backend.exit_code", r.exit_code);
        }
        result
    }
}

/// OTLP/HTTP export of the spans (cargo feature `otel`): a
/// `tracing-subscriber` layer that sends them to an OpenTelemetry
/// collector (or Jaeger, Tempo, Honeycomb, ... anything that takes
/// OTLP over HTTP).
///
/// ```no_run
/// use tracing_subscriber::layer::SubscriberExt;
/// use deepagent::telemetry::otlp;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (layer, guard) = otlp::layer("http://127.0.0.1:4318", "my-agent", otlp::Protocol::HttpBinary)?;
/// tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))?;
/// // ... run agents ...
/// guard.shutdown()?; // sends what is still buffered
/// # Ok(()) }
/// ```
#[cfg(feature = "otel")]
pub mod otlp {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::WithExportConfig;
    use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
    use opentelemetry_sdk::Resource;
    use tracing_opentelemetry::OpenTelemetryLayer;

    /// The wire format: `HttpBinary` (protobuf, the OTLP default) or
    /// `HttpJson`.
    pub use opentelemetry_otlp::Protocol;

    /// Why the exporter could not be built or shut down.
    pub type OtlpError = Box<dyn std::error::Error + Send + Sync>;

    /// Keeps the exporter alive; [`shutdown`](OtlpGuard::shutdown) (or
    /// dropping it) sends the spans still buffered.
    #[derive(Debug)]
    pub struct OtlpGuard {
        provider: Option<SdkTracerProvider>,
    }

    impl OtlpGuard {
        /// Sends what is buffered and stops the exporter. Blocks until
        /// the collector answered (or the export timed out); from async
        /// code, call it in `spawn_blocking`.
        pub fn shutdown(mut self) -> Result<(), OtlpError> {
            match self.provider.take() {
                Some(p) => p.shutdown().map_err(|e| Box::new(e) as OtlpError),
                None => Ok(()),
            }
        }
    }

    impl Drop for OtlpGuard {
        fn drop(&mut self) {
            if let Some(p) = self.provider.take() {
                // Nothing to report to at drop; shutdown() says why.
                let _ = p.shutdown();
            }
        }
    }

    /// A layer exporting every span to `endpoint` (the collector's base
    /// URL, e.g. `http://127.0.0.1:4318`; `/v1/traces` is appended) as
    /// service `service_name`. Spans are batched and sent from a thread
    /// of the exporter's own.
    pub fn layer<S>(
        endpoint: &str,
        service_name: &str,
        protocol: Protocol,
    ) -> Result<(OpenTelemetryLayer<S, SdkTracer>, OtlpGuard), OtlpError>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .with_endpoint(url)
            .build()?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name(service_name.to_owned())
                    .build(),
            )
            .build();
        let tracer = provider.tracer("deepagent");
        let layer = tracing_opentelemetry::layer().with_tracer(tracer);
        Ok((
            layer,
            OtlpGuard {
                provider: Some(provider),
            },
        ))
    }
}
