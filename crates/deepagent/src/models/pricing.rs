//! What tokens cost: a price table per model, shipped as data
//! (`prices.json`) and extendable.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::AgentError;
use crate::messages::Usage;

/// The built-in prices, as shipped.
pub const BUILTIN_PRICES_JSON: &str = include_str!("prices.json");

/// A model's prices in USD per million tokens.
///
/// ```
/// use deepagent::{ModelPrice, Usage};
/// let price = ModelPrice::new(3.0, 15.0).with_cache(3.75, 0.3);
/// let usage = Usage::tokens(1_000_000, 100_000);
/// assert!((price.cost(&usage) - 4.5).abs() < 1e-9);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ModelPrice {
    /// Uncached prompt tokens.
    pub input: f64,
    /// Completion tokens.
    pub output: f64,
    /// Prompt tokens written to the provider's prompt cache.
    pub cache_write: f64,
    /// Prompt tokens read from the prompt cache.
    pub cache_read: f64,
}

impl ModelPrice {
    /// Input and output prices, with cached prompt tokens priced as
    /// input (a model without cache prices); see
    /// [`with_cache`](Self::with_cache).
    pub const fn new(input: f64, output: f64) -> Self {
        ModelPrice {
            input,
            output,
            cache_write: input,
            cache_read: input,
        }
    }

    /// Sets the prices of cache writes and cache reads.
    pub const fn with_cache(mut self, cache_write: f64, cache_read: f64) -> Self {
        self.cache_write = cache_write;
        self.cache_read = cache_read;
        self
    }

    /// What `usage` costs at these prices, in USD. `input_tokens` counts
    /// every prompt token, cached or not (see [`Usage`]), so the cached
    /// ones are priced apart and the rest at the input price.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let cached = usage.cache_write_tokens + usage.cache_read_tokens;
        let plain = usage.input_tokens.saturating_sub(cached);
        (plain as f64 * self.input
            + usage.cache_write_tokens as f64 * self.cache_write
            + usage.cache_read_tokens as f64 * self.cache_read
            + usage.output_tokens as f64 * self.output)
            / 1_000_000.0
    }
}

#[derive(Deserialize)]
struct PriceFile {
    models: BTreeMap<String, ModelPrice>,
}

/// Prices per model name; [`PriceTable::default`] is the built-in table.
///
/// A name is looked up as given (`openai:gpt-4.1`), then without its
/// provider prefix (`gpt-4.1`), then by its longest listed prefix
/// followed by `-` (`claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`).
///
/// ```
/// use deepagent::{ModelPrice, PriceTable};
/// let mut table = PriceTable::default();
/// assert!(table.get("anthropic:claude-sonnet-4-5-20250929").is_some());
/// table.set("my-local-model", ModelPrice::new(0.0, 0.0));
/// table.extend_json(r#"{"models": {"gpt-4.1": {"input": 1, "output": 4, "cache_write": 1, "cache_read": 0.25}}}"#).unwrap();
/// assert_eq!(table.get("openai:gpt-4.1").unwrap().input, 1.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PriceTable {
    prices: BTreeMap<String, ModelPrice>,
}

impl Default for PriceTable {
    fn default() -> Self {
        static BUILTIN: OnceLock<PriceTable> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                let mut t = PriceTable::empty();
                // The shipped file is tested; a broken one fails every test.
                t.extend_json(BUILTIN_PRICES_JSON)
                    .expect("the built-in prices.json parses");
                t
            })
            .clone()
    }
}

impl PriceTable {
    /// A table with no prices.
    pub fn empty() -> Self {
        PriceTable {
            prices: BTreeMap::new(),
        }
    }

    /// Sets (or replaces) one model's price.
    pub fn set(&mut self, model: impl Into<String>, price: ModelPrice) -> &mut Self {
        self.prices.insert(model.into(), price);
        self
    }

    /// Adds the prices of a JSON document shaped like the built-in
    /// [`BUILTIN_PRICES_JSON`] (`{"models": {"name": {"input": ..,
    /// "output": .., "cache_write": .., "cache_read": ..}}}`), replacing
    /// those it names.
    pub fn extend_json(&mut self, json: &str) -> Result<&mut Self, AgentError> {
        let file: PriceFile = serde_json::from_str(json).map_err(|e| {
            AgentError::Config(format!(
                "the price table is not valid: {e}; write {{\"models\": {{\"<model>\": {{\"input\": 2.0, \"output\": 8.0, \"cache_write\": 2.0, \"cache_read\": 0.5}}}}}} (USD per million tokens)"
            ))
        })?;
        self.prices.extend(file.models);
        Ok(self)
    }

    /// The price of `model`, if the table has one (see the type's doc for
    /// how names match).
    pub fn get(&self, model: &str) -> Option<ModelPrice> {
        if let Some(p) = self.prices.get(model) {
            return Some(*p);
        }
        let bare = model.split_once(':').map_or(model, |(_, n)| n);
        if let Some(p) = self.prices.get(bare) {
            return Some(*p);
        }
        self.prices
            .iter()
            .filter(|(k, _)| {
                bare.strip_prefix(k.as_str())
                    .is_some_and(|rest| rest.starts_with('-'))
            })
            .max_by_key(|(k, _)| k.len())
            .map(|(_, p)| *p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_table_parses_and_matches_dated_names() {
        let t = PriceTable::default();
        assert_eq!(t.get("openai:gpt-4.1").map(|p| p.input), Some(2.0));
        assert_eq!(
            t.get("anthropic:claude-sonnet-4-5-20250929")
                .map(|p| p.cache_write),
            Some(3.75)
        );
        assert_eq!(t.get("gpt-4.1-mini").map(|p| p.input), Some(0.4));
        assert_eq!(t.get("function"), None);
        assert_eq!(t.get("gpt-4.1x"), None);
    }
}
