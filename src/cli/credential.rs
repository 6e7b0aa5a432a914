//! The credential `accounts add` saves: from standard input when it is a pipe or a file (auth
//! JSON or a bare API key, at most 1 MiB), or typed at a terminal after a prompt, without echo.

use std::io::{IsTerminal as _, Read};

use anyhow::{anyhow, bail, Context as _};

use crate::model::Auth;

/// The most a credential on stdin may be; one byte more is refused, never cut.
pub const MAX_CREDENTIAL_BYTES: u64 = 1024 * 1024;

/// The credential for `provider/alias`: prompted for (not echoed) when stdin is a terminal.
pub fn read(provider: &str, alias: &str) -> anyhow::Result<Auth> {
    if !std::io::stdin().is_terminal() {
        return read_from(std::io::stdin());
    }
    let prompt = format!(
        "Paste the API key for {}/{}, then Enter: ",
        crate::safe_text::safe(provider),
        crate::safe_text::safe(alias)
    );
    let typed = rpassword::prompt_password(prompt).context("reading the key from the terminal")?;
    if typed.trim().is_empty() {
        bail!("no key was typed; nothing was saved");
    }
    Auth::from_user_input(&typed).map_err(|e| anyhow!("{e}"))
}

/// Reads at most one byte over the limit, so oversize input is noticed without reading it all.
fn read_from(input: impl Read) -> anyhow::Result<Auth> {
    let mut bytes = Vec::new();
    input
        .take(MAX_CREDENTIAL_BYTES + 1)
        .read_to_end(&mut bytes)
        .context("reading the credential from standard input")?;
    if bytes.len() as u64 > MAX_CREDENTIAL_BYTES {
        bail!("the credential on standard input is larger than 1 MiB; nothing was saved");
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow!("the credential on standard input is not UTF-8 text; nothing was saved"))?;
    Auth::from_user_input(&text).map_err(|e| anyhow!("{e}"))
}
