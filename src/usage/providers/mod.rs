//! One usage client per provider, each behind [`super::UsageClient`]; the router in
//! `usage/router.rs` picks one per account. A new provider's usage reader is a file here.

mod anthropic;
pub mod anthropic_profile;
mod copilot;
#[cfg(test)]
mod fuzz;
mod json;
mod openai_api;
mod openai_oauth;

pub use anthropic::Anthropic;
pub use copilot::Copilot;
pub use openai_api::OpenAiApi;
pub use openai_oauth::ChatGpt;
