//! The provider and model names opencode knows, so a name a person types on the command line can
//! be checked ("unknown provider opneai; did you mean openai?"). Sources: opencode's own provider
//! ids, its models.dev cache (`$XDG_CACHE_HOME/opencode/models.json`), the `provider` section of
//! the global `opencode.json(c)`, and the providers the store already has.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::Path;

/// Provider ids opencode offers without any configuration (its `/connect` list and the bundled
/// providers), for when the models.dev cache is not there yet.
const BUILT_IN: &[&str] = &[
    "amazon-bedrock",
    "anthropic",
    "azure",
    "cerebras",
    "cloudflare-workers-ai",
    "deepinfra",
    "deepseek",
    "fireworks-ai",
    "github-copilot",
    "github-models",
    "google",
    "google-vertex",
    "google-vertex-anthropic",
    "groq",
    "huggingface",
    "llama",
    "lmstudio",
    "mistral",
    "moonshotai",
    "ollama",
    "openai",
    "opencode",
    "openrouter",
    "perplexity",
    "togetherai",
    "vercel",
    "xai",
    "zai",
    "zhipuai",
];

/// The cache file is read only up to this size (models.dev's is a few MB).
const MAX_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Known providers, each with its known model ids (empty: models not known).
#[derive(Debug, Default)]
pub struct Catalogue {
    providers: BTreeMap<String, BTreeSet<String>>,
}

/// What a check found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Known,
    /// Not known; the nearest known name, if any is close.
    Unknown(Option<String>),
    /// No list to check against.
    Unchecked,
}

impl Catalogue {
    /// Everything opencode knows from the environment (`XDG_CACHE_HOME`, `HOME`, the config
    /// folder), plus `store_providers`.
    pub fn load(store_providers: impl IntoIterator<Item = String>) -> Catalogue {
        let mut c = Catalogue::default();
        for p in BUILT_IN {
            c.add(p, []);
        }
        for p in store_providers {
            c.add(&p, []);
        }
        let paths = crate::install::Paths::from_env();
        c.add_models_dev(&paths.cache_dir.join("models.json"));
        for config in paths.config_files() {
            c.add_config(&config);
        }
        c
    }

    fn add(&mut self, provider: &str, models: impl IntoIterator<Item = String>) {
        let known = self.providers.entry(provider.to_string()).or_default();
        known.extend(models);
    }

    /// models.dev's `{"<provider>": {"models": {"<model>": {…}}}}`; skipped when unreadable.
    fn add_models_dev(&mut self, path: &Path) {
        let Some(value) = read_json(path, |text| serde_json::from_str(text).ok()) else {
            return;
        };
        self.add_providers(&value);
    }

    /// The `provider` section of an opencode config (JSONC), same shape as models.dev's.
    fn add_config(&mut self, path: &Path) {
        let parse = |text: &str| {
            jsonc_parser::parse_to_serde_value(text, &Default::default())
                .ok()
                .flatten()
        };
        if let Some(provider) = read_json(path, parse).and_then(|v| v.get("provider").cloned()) {
            self.add_providers(&provider);
        }
    }

    fn add_providers(&mut self, value: &serde_json::Value) {
        let Some(map) = value.as_object() else { return };
        for (id, entry) in map {
            let models = entry.get("models").and_then(|m| m.as_object());
            self.add(id, models.into_iter().flat_map(|m| m.keys().cloned()));
        }
    }

    pub fn provider(&self, id: &str) -> Verdict {
        if self.providers.contains_key(id) {
            Verdict::Known
        } else {
            Verdict::Unknown(nearest(id, self.providers.keys()))
        }
    }

    /// A model of a known provider; `Unchecked` when its models are not known.
    pub fn model(&self, provider: &str, model: &str) -> Verdict {
        match self.providers.get(provider) {
            Some(models) if models.contains(model) => Verdict::Known,
            Some(models) if !models.is_empty() => Verdict::Unknown(nearest(model, models.iter())),
            _ => Verdict::Unchecked,
        }
    }
}

/// The name closest to `typed`, if it is close enough to be a typo.
fn nearest<'a>(typed: &str, names: impl Iterator<Item = &'a String>) -> Option<String> {
    names
        .map(|n| (strsim::damerau_levenshtein(typed, n), n))
        .filter(|(d, n)| *d <= (n.len().max(typed.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.clone())
}

/// A file's text (bounded) parsed by `parse`; `None` when missing, too big or unparsable.
fn read_json(path: &Path, parse: impl FnOnce(&str) -> Option<serde_json::Value>) -> Option<serde_json::Value> {
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(MAX_CACHE_BYTES + 1).read_to_string(&mut text).ok()?;
    if text.len() as u64 > MAX_CACHE_BYTES {
        return None;
    }
    parse(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(json: &str) -> Catalogue {
        let mut c = Catalogue::default();
        c.add_providers(&serde_json::from_str(json).unwrap());
        c
    }

    #[test]
    fn a_typo_of_a_known_name_is_suggested_and_a_far_one_is_not() {
        let mut c = with(r#"{"openai": {"models": {"gpt-5": {}, "gpt-5-mini": {}}}, "mock": {}}"#);
        c.add("anthropic", []);
        assert_eq!(c.provider("openai"), Verdict::Known);
        assert_eq!(c.provider("opneai"), Verdict::Unknown(Some("openai".into())));
        assert_eq!(c.provider("zzzzzzzz"), Verdict::Unknown(None));
        assert_eq!(c.model("openai", "gpt-5"), Verdict::Known);
        assert_eq!(
            c.model("openai", "gpt5-mini"),
            Verdict::Unknown(Some("gpt-5-mini".into()))
        );
        assert_eq!(c.model("mock", "anything"), Verdict::Unchecked);
        assert_eq!(c.model("anthropic", "anything"), Verdict::Unchecked);
        assert_eq!(c.model("nobody", "anything"), Verdict::Unchecked);
    }
}
