//! How many prompt tokens each model accepts: the table compaction
//! measures a conversation against, shipped as data
//! (`context_windows.json`) and extendable.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::error::AgentError;

/// The built-in context windows, as shipped.
pub const BUILTIN_CONTEXT_WINDOWS_JSON: &str = include_str!("context_windows.json");

#[derive(Deserialize)]
struct WindowFile {
    models: BTreeMap<String, u64>,
}

/// Prompt tokens per model name; [`ContextWindows::default`] is the
/// built-in table. Names match like the [`PriceTable`](crate::PriceTable)'s
/// (as given, without the provider, then by longest listed prefix).
///
/// A model the table does not know has no window, so
/// [compaction](crate::CompactionConfig) leaves its runs alone, unless a
/// [fallback](Self::set_fallback) is set.
///
/// ```
/// use deepagent::ContextWindows;
/// let mut windows = ContextWindows::default();
/// assert_eq!(windows.get("anthropic:claude-sonnet-4-5-20250929"), Some(200_000));
/// windows.set("my-local-model", 32_000);
/// windows.extend_json(r#"{"models": {"gpt-4o": 100000}}"#).unwrap();
/// assert_eq!(windows.get("openai:gpt-4o"), Some(100_000));
/// assert_eq!(windows.get("something-else"), None);
/// windows.set_fallback(Some(64_000));
/// assert_eq!(windows.get("something-else"), Some(64_000));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ContextWindows {
    windows: BTreeMap<String, u64>,
    fallback: Option<u64>,
}

impl Default for ContextWindows {
    fn default() -> Self {
        static BUILTIN: OnceLock<ContextWindows> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                let mut t = ContextWindows::empty();
                // The shipped file is tested; a broken one fails every test.
                t.extend_json(BUILTIN_CONTEXT_WINDOWS_JSON)
                    .expect("the built-in context_windows.json parses");
                t
            })
            .clone()
    }
}

impl ContextWindows {
    /// A table with no windows and no fallback.
    pub fn empty() -> Self {
        ContextWindows {
            windows: BTreeMap::new(),
            fallback: None,
        }
    }

    /// Sets (or replaces) one model's window, in prompt tokens.
    pub fn set(&mut self, model: impl Into<String>, tokens: u64) -> &mut Self {
        self.windows.insert(model.into(), tokens);
        self
    }

    /// The window of models the table does not list (default `None`:
    /// such models are not compacted).
    pub fn set_fallback(&mut self, tokens: Option<u64>) -> &mut Self {
        self.fallback = tokens;
        self
    }

    /// Adds the windows of a JSON document shaped like
    /// [`BUILTIN_CONTEXT_WINDOWS_JSON`] (`{"models": {"name": tokens}}`),
    /// replacing those it names.
    pub fn extend_json(&mut self, json: &str) -> Result<&mut Self, AgentError> {
        let file: WindowFile = serde_json::from_str(json).map_err(|e| {
            AgentError::Config(format!(
                "the context-window table is not valid: {e}; write {{\"models\": {{\"<model>\": 128000}}}} (prompt tokens)"
            ))
        })?;
        self.windows.extend(file.models);
        Ok(self)
    }

    /// The window of `model`, in prompt tokens, if known.
    pub fn get(&self, model: &str) -> Option<u64> {
        super::pricing::lookup(&self.windows, model)
            .copied()
            .or(self.fallback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_table_parses_and_every_priced_model_has_a_window() {
        let t = ContextWindows::default();
        assert_eq!(t.get("openai:gpt-4.1-mini"), Some(1_047_576));
        assert_eq!(t.get("function"), None);
        let prices: serde_json::Value =
            serde_json::from_str(crate::models::BUILTIN_PRICES_JSON).unwrap();
        for name in prices["models"].as_object().unwrap().keys() {
            assert!(t.get(name).is_some(), "{name} has a price but no window");
        }
    }
}
