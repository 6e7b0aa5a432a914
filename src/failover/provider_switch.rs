//! When a refused (or about to be sent) request finds its provider dry: move it to the next
//! provider of the priority list (a resend the plugin carries out, or a clear end and the next
//! message there), or end opencode's wait at once when the accounts rest long; short rests stay
//! with opencode. The rules are in `rules::provider_move`.

use std::collections::BTreeMap;

use actix::prelude::*;

use super::{
    Answer, DescribeProviders, ExhaustedOutcome, FailAnswer, Resubmit, ResultAnswer, RetryBalancer, SwitchAnswer,
};
use crate::accounts::{ExhaustedPlan, PlanExhausted};
use crate::events::{Notice, Notify, Publish, ToastVariant};
use crate::failover::rules::outbound::removed_on_switch;
use crate::failover::rules::provider_move::{exhausted_message, moved_message, resend, resubmit_message, ProviderApi};
use crate::model::{EventKind, NewEvent};

/// The status of a final answer: a plain client error, which opencode does not retry.
pub const FINAL_STATUS: u16 = 400;

impl Handler<DescribeProviders> for RetryBalancer {
    type Result = ();
    fn handle(&mut self, msg: DescribeProviders, _: &mut Context<Self>) {
        for (id, api) in msg.providers {
            self.learn_api(&id, api);
        }
    }
}

impl RetryBalancer {
    /// Keeps what is known of a provider's API; a field not given keeps its value.
    pub(super) fn learn_api(&mut self, provider: &str, api: ProviderApi) {
        let known = self.apis.entry(provider.to_string()).or_default();
        if api.npm.is_some() {
            known.npm = api.npm;
        }
        if api.base_url.is_some() {
            known.base_url = api.base_url;
        }
        if !api.headers.is_empty() {
            known.headers = api.headers;
        }
    }

    /// A refused answer no other account of the provider retries: move on, end at once, or hand
    /// it back (then `why`, when given, is told as `failover_exhausted`).
    pub(super) fn after_refusal(
        &mut self,
        request_id: String,
        provider: String,
        alias: String,
        why: Option<String>,
    ) -> Answer {
        Box::pin(self.when_exhausted(request_id).map(move |outcome, this, _| {
            Ok(match outcome {
                ExhaustedOutcome::Leave => {
                    if let Some(why) = why {
                        this.exhausted(&provider, &alias, &why);
                    }
                    ResultAnswer::Return
                }
                ExhaustedOutcome::Switch(s) => {
                    this.exhausted_event(&provider, &alias, why.as_deref().unwrap_or("no other healthy account"));
                    ResultAnswer::Switch(s)
                }
                ExhaustedOutcome::Fail(f) => {
                    if f.resubmit.is_some() {
                        this.exhausted_event(&provider, &alias, why.as_deref().unwrap_or("no other healthy account"));
                    }
                    ResultAnswer::Fail(f)
                }
            })
        }))
    }

    /// Decides what a request on a provider without a usable account does next.
    pub(super) fn when_exhausted(&mut self, request_id: String) -> ResponseActFuture<Self, ExhaustedOutcome> {
        let Some(req) = self.requests.get(&request_id) else {
            return Box::pin(actix::fut::ready(ExhaustedOutcome::Leave));
        };
        let mut exclude = req.providers_tried.clone();
        exclude.push(req.provider_id.clone());
        let ask = self.registry.send(PlanExhausted {
            provider_id: req.provider_id.clone(),
            exclude,
            want_next: true,
        });
        Box::pin(ask.into_actor(self).map(move |plan, this, _| match plan {
            Ok(plan) => this.carry_out(&request_id, plan),
            Err(_) => ExhaustedOutcome::Leave,
        }))
    }

    fn carry_out(&mut self, request_id: &str, plan: ExhaustedPlan) -> ExhaustedOutcome {
        let now = self.clock.now_ms();
        let Some(req) = self.requests.get(request_id) else {
            return ExhaustedOutcome::Leave;
        };
        if plan.healthy_left || !plan.managed {
            return ExhaustedOutcome::Leave;
        }
        let (from, session_id, url, alias) = (
            req.provider_id.clone(),
            req.session_id.clone(),
            req.url.clone(),
            req.alias.clone(),
        );
        if let Some((model, picked)) = plan.next {
            let target = format!("{}/{}", model.provider_id, model.model_id);
            let from_api = self.apis.get(&from).cloned().unwrap_or_default();
            let to_api = self.apis.get(&model.provider_id).cloned().unwrap_or_default();
            // An API key: the balancer's own, or opencode 2's (which the host sets, `credential`).
            let moved = match picked.auth.auth_type() {
                "api" => resend(&url, &from_api, &to_api, &model.provider_id, &model.model_id),
                _ => Err(crate::failover::rules::provider_move::NotSame::OtherApi(
                    model.provider_id.clone(),
                )),
            };
            // The session follows: its next message starts on the new provider.
            if let Some(s) = self.sessions.get_mut(&session_id) {
                s.model = model.clone();
                s.alias = Some(picked.alias.clone());
            }
            let first = self.note_switch(&session_id, &from, &target, moved.is_ok());
            return match moved {
                Ok(r) => {
                    let req = self.requests.get_mut(request_id).expect("present");
                    req.providers_tried.push(from.clone());
                    req.provider_id = model.provider_id.clone();
                    req.model_id = model.model_id.clone();
                    req.tried.clear();
                    req.url = r.url.clone();
                    req.refreshed.clear();
                    let (account, plan) = req.go_out_as(&picked);
                    // Only what describes the request follows it; the target's configured headers
                    // and credential are set anew (the credential wins a name both have).
                    let mut set_headers: BTreeMap<String, String> =
                        to_api.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    set_headers.extend(plan.set);
                    let remove_headers = removed_on_switch(&req.header_names, |h| set_headers.contains_key(h));
                    req.header_names.retain(|h| !remove_headers.contains(h));
                    let added: Vec<String> = set_headers
                        .keys()
                        .filter(|h| !req.header_names.contains(h))
                        .cloned()
                        .collect();
                    req.header_names.extend(added);
                    if first {
                        self.toast(
                            format!(
                                "{from} has no account left; turn moved to {}/{} ({target})",
                                model.provider_id, picked.alias
                            ),
                            ToastVariant::Warning,
                        );
                    }
                    let sync_auth = self.sync_auth(&model.provider_id, &picked);
                    let strip = self
                        .strip_for(&session_id, &model.provider_id, &picked.alias, true)
                        .or(Some(crate::continuity::Scope::ProviderMove));
                    ExhaustedOutcome::Switch(Box::new(SwitchAnswer {
                        account,
                        model_id: model.model_id,
                        url: r.url,
                        set_headers,
                        remove_headers,
                        credential: plan.credential,
                        body_set: r.body_set,
                        body_remove: r.body_remove,
                        sync_auth,
                        strip,
                    }))
                }
                Err(why) => {
                    let message = moved_message(&from, &plan.resting, now, &target, &why);
                    self.requests.remove(request_id);
                    if first {
                        self.toast(message.clone(), ToastVariant::Warning);
                    }
                    ExhaustedOutcome::Fail(FailAnswer {
                        status: FINAL_STATUS,
                        message,
                        resubmit: Some(Resubmit {
                            session_id,
                            message: resubmit_message(&from, &target),
                            model,
                        }),
                    })
                }
            };
        }
        let long = plan.first_back.is_some() && !plan.short_wait;
        if !long {
            return ExhaustedOutcome::Leave;
        }
        let message = exhausted_message(&from, &plan.resting, now, plan.balancing);
        self.requests.remove(request_id);
        self.bus.do_send(Publish(
            NewEvent::new(
                EventKind::FailoverExhausted,
                format!("{from}: every account rests past maxWaitSeconds (or is out of quota); answered at once"),
            )
            .account(&from, &alias)
            .meta("reason", "every account rests past maxWaitSeconds")
            .meta("until", plan.first_back.unwrap_or_default()),
        ));
        self.toast(message.clone(), ToastVariant::Error);
        ExhaustedOutcome::Fail(FailAnswer {
            status: FINAL_STATUS,
            message,
            resubmit: None,
        })
    }

    /// Publishes `provider_switched` once per session and target; true when it was new.
    fn note_switch(&mut self, session_id: &str, from: &str, target: &str, resent: bool) -> bool {
        let Some(s) = self.sessions.get_mut(session_id) else {
            return true;
        };
        if s.switched_to.as_deref() == Some(target) {
            return false;
        }
        s.switched_to = Some(target.to_string());
        let (provider, model) = target.split_once('/').unwrap_or((target, ""));
        self.bus.do_send(Publish(
            NewEvent::new(
                EventKind::ProviderSwitched,
                format!("{from} has no healthy account; session moves to {target}"),
            )
            .meta("from", from)
            .meta("to", provider)
            .meta("model", model)
            .meta("sessionID", session_id)
            .meta("mode", if resent { "resend" } else { "next-message" }),
        ));
        true
    }

    fn toast(&self, message: String, variant: ToastVariant) {
        self.bus.do_send(Notify(Notice::Toast { message, variant }));
    }
}
