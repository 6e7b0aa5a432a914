//! The benchmark's continuity line: what removing another account's conversation state costs
//! ([`strip_foreign_state`]) on a ~1 MiB Responses body (encrypted reasoning items between
//! function-call pairs) and a ~1 MiB Messages body (signed thinking before tool use), in process.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::Stats;
use crate::continuity::{strip_foreign_state, Api, Edit, Scope};

const TARGET: usize = 1 << 20;

/// A fake blob of `n` base64-looking characters (no secret: a fixed pattern).
fn blob(prefix: &str, n: usize) -> String {
    let mut s = String::from(prefix);
    s.extend(
        "QmVuY2ggZmFrZSBibG9i"
            .chars()
            .cycle()
            .take(n.saturating_sub(prefix.len())),
    );
    s
}

/// Turns appended by `turn(i)` until the serialised body passes 1 MiB.
fn grow(mut body: Value, key: &str, turn: impl Fn(usize) -> Vec<Value>) -> (String, usize) {
    let mut turns = 0;
    let mut approx = 0;
    while approx < TARGET {
        for item in turn(turns) {
            approx += item.to_string().len() + 1;
            body[key].as_array_mut().expect("array").push(item);
        }
        turns += 1;
    }
    (body.to_string(), turns)
}

/// A codex request of many tool-using turns: reasoning with ~3 KiB of encrypted content each.
pub fn responses_body() -> (String, usize) {
    let base = json!({"model": "gpt-5.1-codex", "instructions": "You are opencode.", "input": [],
        "store": false, "stream": true, "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "ses_bench_fake", "reasoning": {"effort": "medium", "summary": "auto"}});
    grow(base, "input", |i| {
        let call = format!("call_bench_{i}");
        vec![
            json!({"role": "user", "content": [{"type": "input_text", "text": format!("Step {i}: run the tests.")}]}),
            json!({"type": "reasoning", "encrypted_content": blob("gAAAA-fake-", 3000),
                "summary": [{"type": "summary_text", "text": "**Running the tests**"}]}),
            json!({"type": "function_call", "call_id": call, "name": "bash",
                "arguments": "{\"command\":\"cargo test\"}"}),
            json!({"type": "function_call_output", "call_id": call, "output": "test result: ok. ".repeat(60)}),
            json!({"role": "assistant", "content": [{"type": "output_text", "text": "All green."}]}),
        ]
    })
}

/// A Claude request of many tool-using turns: signed thinking (~1.5 KiB) before each tool use.
pub fn messages_body() -> (String, usize) {
    let base = json!({"model": "claude-sonnet-4-5", "max_tokens": 32000, "stream": true,
        "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
        "thinking": {"type": "enabled", "budget_tokens": 16000}, "messages": []});
    grow(base, "messages", |i| {
        let id = format!("toolu_bench_{i}");
        vec![
            json!({"role": "user", "content": [{"type": "text", "text": format!("Step {i}: run the tests.")}]}),
            json!({"role": "assistant", "content": [
                {"type": "thinking", "thinking": "I will run the tests. ".repeat(40),
                 "signature": blob("EqQBCkYI-fake-", 600)},
                {"type": "tool_use", "id": id, "name": "bash", "input": {"command": "cargo test"}}]}),
            json!({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": id, "content": "test result: ok. ".repeat(60)}]}),
        ]
    })
}

fn time(api: Api, body: &str, rounds: usize) -> anyhow::Result<(Stats, usize)> {
    let mut samples = Vec::with_capacity(rounds);
    let mut removed = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let edit = strip_foreign_state(api, body.as_bytes(), Scope::SameProvider);
        samples.push(t.elapsed());
        match edit {
            Edit::Edited { removed: n, .. } => removed = n,
            Edit::Unchanged => anyhow::bail!("the {api:?} bench body was not edited"),
        }
    }
    Ok((Stats::of(samples), removed))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// The report's continuity section.
pub fn run(rounds: usize) -> anyhow::Result<String> {
    let mut out = String::from("\nContinuity edit (`strip_foreign_state`, in process, one body at a time):\n\n");
    let _ = writeln!(out, "| body | size | pieces removed | median | p99 |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    for (name, api, (body, turns)) in [
        ("Responses", Api::Responses, responses_body()),
        ("Messages", Api::Messages, messages_body()),
    ] {
        let (stats, removed) = time(api, &body, rounds)?;
        let _ = writeln!(
            out,
            "| {name}, {turns} tool turns | {:.2} MiB | {removed} | {} | {} |",
            body.len() as f64 / TARGET as f64,
            ms(stats.median),
            ms(stats.p99)
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_bodies_are_about_a_mebibyte_and_get_edited() {
        for (api, (body, turns)) in [(Api::Responses, responses_body()), (Api::Messages, messages_body())] {
            assert!(
                (TARGET..TARGET + 64 * 1024).contains(&body.len()),
                "{api:?}: {}",
                body.len()
            );
            let Edit::Edited { removed, .. } = strip_foreign_state(api, body.as_bytes(), Scope::SameProvider) else {
                panic!("{api:?} not edited");
            };
            // One reasoning item / thinking block per turn; the Messages body ends in an open
            // tool loop, so its `thinking` setting goes too.
            let settings = usize::from(api == Api::Messages);
            assert_eq!(removed, turns + settings, "{api:?}");
        }
    }
}
