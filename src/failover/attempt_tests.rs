//! Tests of the retry decision: a recorded answer and the attempt number in, what follows out.

use super::*;
use crate::accounts::rules::cooldown::classify::Reason;

fn info(verdict: Verdict, failover: bool, max_attempts: u32) -> OutcomeInfo {
    OutcomeInfo {
        verdict,
        until: None,
        source: None,
        clamped_from_secs: None,
        failures: 1,
        failover,
        max_attempts,
    }
}

#[test]
fn a_success_or_an_answer_about_the_request_goes_back_as_it_is() {
    assert_eq!(next_step(&info(Verdict::Success, true, 3), 1), Next::Return);
    assert_eq!(next_step(&info(Verdict::Return, true, 3), 1), Next::Return);
}

#[test]
fn a_cooldown_or_a_refused_credential_is_retried_while_attempts_are_left() {
    let limited = Verdict::Cooldown(Reason::RateLimit);
    assert_eq!(next_step(&info(limited, true, 3), 1), Next::Retry);
    assert_eq!(next_step(&info(limited, true, 3), 2), Next::Retry);
    assert_eq!(next_step(&info(Verdict::AuthFailed, true, 3), 2), Next::Retry);
}

#[test]
fn the_last_attempt_gives_up_and_says_how_many_were_used() {
    let limited = Verdict::Cooldown(Reason::Quota);
    assert_eq!(
        next_step(&info(limited, true, 3), 3),
        Next::GiveUp {
            why: Some("3 of 3 attempts used".into())
        }
    );
}

#[test]
fn with_failover_off_a_refusal_gives_up_without_a_reason() {
    let limited = Verdict::Cooldown(Reason::ServerError);
    assert_eq!(next_step(&info(limited, false, 3), 1), Next::GiveUp { why: None });
}
