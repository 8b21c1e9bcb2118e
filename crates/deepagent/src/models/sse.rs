//! A minimal server-sent-events decoder over a byte stream.

use std::time::Duration;

use futures::stream::BoxStream;
use futures::StreamExt;

use super::{ModelError, StreamChunk};

/// One SSE event: its `event:` name (if any) and its joined `data:` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Splits SSE text into events. Bytes are buffered until a blank line, so
/// an event split across network chunks (even inside a UTF-8 character)
/// comes out whole.
#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    buf: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
}

impl SseDecoder {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            self.line(line, &mut out);
        }
        out
    }

    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            let rest = String::from_utf8_lossy(&rest).into_owned();
            self.line(rest.trim_end_matches('\r'), &mut out);
        }
        self.line("", &mut out);
        out
    }

    fn line(&mut self, line: &str, out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if !self.data.is_empty() || self.event.is_some() {
                out.push(SseEvent {
                    event: self.event.take(),
                    data: std::mem::take(&mut self.data).join("\n"),
                });
            }
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => self.data.push(value.to_owned()),
            _ => {}
        }
    }
}

/// The events of a streaming HTTP response from `url`; a gap of more than
/// `idle` between network chunks ends the stream with a timeout error.
pub(crate) fn events(
    provider: &'static str,
    url: String,
    idle: Duration,
    resp: reqwest::Response,
) -> BoxStream<'static, Result<SseEvent, ModelError>> {
    let bytes = resp.bytes_stream();
    futures::stream::unfold(
        (
            bytes,
            SseDecoder::default(),
            std::collections::VecDeque::new(),
            false,
        ),
        move |(mut bytes, mut dec, mut pending, mut done)| {
            let url = url.clone();
            async move {
                loop {
                    if let Some(ev) = pending.pop_front() {
                        return Some((Ok(ev), (bytes, dec, pending, done)));
                    }
                    if done {
                        return None;
                    }
                    match tokio::time::timeout(idle, bytes.next()).await {
                        Ok(Some(Ok(chunk))) => pending.extend(dec.push(&chunk)),
                        Ok(Some(Err(err))) => {
                            done = true;
                            let e = ModelError::Transport {
                                provider: provider.to_owned(),
                                message: format!(
                                    "the stream from {url} broke off: {}",
                                    super::http::describe(&err)
                                ),
                            };
                            return Some((Err(e), (bytes, dec, pending, done)));
                        }
                        Ok(None) => {
                            done = true;
                            pending.extend(dec.finish());
                        }
                        Err(_) => {
                            done = true;
                            let e =
                                super::http::timed_out(provider, &url, idle, "more of the stream");
                            return Some((Err(e), (bytes, dec, pending, done)));
                        }
                    }
                }
            }
        },
    )
    .boxed()
}

/// What one event means to a provider's stream.
pub(crate) struct Parsed {
    /// The chunks it carries (or the error it reports).
    pub chunks: Result<Vec<StreamChunk>, ModelError>,
    /// The provider marked the answer complete (a finish reason, a stop
    /// event).
    pub complete: bool,
    /// Nothing more is to be read (OpenAI's `[DONE]`).
    pub end: bool,
}

/// Turns events into chunks, and a stream that ends before any event
/// marked it complete into a [`ModelError::Truncated`] naming `marker`,
/// so a cut connection is never taken for a whole answer.
pub(crate) fn chunks(
    provider: &'static str,
    marker: &'static str,
    events: BoxStream<'static, Result<SseEvent, ModelError>>,
    parse: fn(SseEvent) -> Parsed,
) -> BoxStream<'static, Result<StreamChunk, ModelError>> {
    futures::stream::unfold(
        (events, false, false),
        move |(mut events, mut complete, stopped)| async move {
            if stopped {
                return None;
            }
            let (batch, stop) = match events.next().await {
                None if complete => return None,
                None => (
                    vec![Err(ModelError::Truncated {
                        provider: provider.to_owned(),
                        message: format!("the stream ended before {marker}"),
                    })],
                    true,
                ),
                Some(Err(e)) => (vec![Err(e)], true),
                Some(Ok(ev)) => {
                    let parsed = parse(ev);
                    complete |= parsed.complete || parsed.end;
                    match parsed.chunks {
                        Ok(c) => (c.into_iter().map(Ok).collect(), parsed.end),
                        Err(e) => (vec![Err(e)], true),
                    }
                }
            };
            Some((futures::stream::iter(batch), (events, complete, stop)))
        },
    )
    .flatten()
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_come_out_whole() {
        let mut d = SseDecoder::default();
        assert!(d.push(b"event: a\ndata: {\"x\"").is_empty());
        let evs = d.push(b": 1}\r\n\r\ndata: two\n\n: comment\n");
        assert_eq!(
            evs,
            vec![
                SseEvent {
                    event: Some("a".into()),
                    data: "{\"x\": 1}".into()
                },
                SseEvent {
                    event: None,
                    data: "two".into()
                },
            ]
        );
        assert!(d.finish().is_empty());
    }

    #[test]
    fn a_multibyte_character_split_between_chunks_survives() {
        let mut d = SseDecoder::default();
        let text = "data: é\n\n".as_bytes();
        assert!(d.push(&text[..7]).is_empty());
        assert_eq!(d.push(&text[7..])[0].data, "é");
    }

    #[test]
    fn an_unterminated_last_event_is_flushed() {
        let mut d = SseDecoder::default();
        assert!(d.push(b"data: last").is_empty());
        assert_eq!(d.finish()[0].data, "last");
    }
}
