//! Accounts: saving, replacing, the headers and identities that belong to one, opencode 2's own.

mod account_headers;
mod claude_identity;
mod hostile_claims;
mod opencode2_accounts;
mod replace;
