//! GitHub Copilot (github-copilot / copilot, OAuth): `GET /copilot_internal/user` premium quota;
//! with `metadata.githubOrg`, the organization's Copilot billing; else the login's premium request
//! billing (`usageItems[].netQuantity`), then its usage summary.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::json::{at, num, num_at, percent, text_at, time_at};
use crate::model::{Auth, Millis, UsageWindow};
use crate::usage::http::{check_status, json_body, url, Http};
use crate::usage::{round1, BoxFuture, Confidence, FetchError, Usage, UsageClient, UsageRequest};

pub const USER_PATH: &str = "/copilot_internal/user";
const API_VERSION: &str = "2022-11-28";

pub struct Copilot {
    pub http: Arc<Http>,
    pub base: Option<String>,
}

impl UsageClient for Copilot {
    fn check(&self, _: &str, auth: &Auth) -> Result<(), String> {
        match auth {
            Auth::Oauth {
                enterprise_url: Some(_),
                ..
            } => Err("usage of GitHub Enterprise Copilot logins is not read yet".into()),
            Auth::Oauth { .. } => Ok(()),
            _ => Err("Copilot usage needs the GitHub login (OAuth)".into()),
        }
    }

    fn fetch(&self, req: UsageRequest) -> BoxFuture<Result<Usage, FetchError>> {
        let http = self.http.clone();
        let base = self.base.clone();
        Box::pin(async move {
            let token = github_token(&req.auth)
                .ok_or_else(|| FetchError::Unsupported("Copilot usage needs the GitHub login (OAuth)".into()))?;
            let org = org_of(&req.auth);
            Lookup {
                http: &http,
                base: &base,
                headers: [
                    ("authorization", format!("token {token}")),
                    ("x-github-api-version", API_VERSION.to_string()),
                ],
                auth: &req.auth,
                now: req.now,
                raw: Map::new(),
            }
            .run(org)
            .await
        })
    }
}

/// The GitHub token of a Copilot login: `refresh`, as opencode 1.18.33 sends it. `access` is
/// never used: older opencode versions kept a short-lived Copilot token there.
fn github_token(auth: &Auth) -> Option<String> {
    let Auth::Oauth { refresh, .. } = auth else {
        return None;
    };
    Some(refresh.clone()).filter(|r| !r.is_empty())
}

/// A GitHub login or organization name, safe in a URL path.
fn github_name(s: &str) -> Option<String> {
    let ok = !s.is_empty() && s.len() <= 100 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| s.to_string())
}

fn org_of(auth: &Auth) -> Option<String> {
    let Auth::Oauth { metadata: Some(m), .. } = auth else {
        return None;
    };
    m.get("githubOrg").and_then(|o| github_name(o.trim()))
}

/// Errors after which asking other endpoints would only add load.
fn is_final(e: &FetchError) -> bool {
    matches!(
        e,
        FetchError::Unauthorized | FetchError::RateLimited { .. } | FetchError::Timeout(_) | FetchError::Network { .. }
    )
}

struct Lookup<'a> {
    http: &'a Http,
    base: &'a Option<String>,
    headers: [(&'static str, String); 2],
    auth: &'a Auth,
    now: Millis,
    raw: Map<String, Value>,
}

impl Lookup<'_> {
    async fn get(&mut self, path: &str) -> Result<Value, FetchError> {
        let reply = self
            .http
            .get(&url(self.base, "OPENCODE_BALANCER_GITHUB_URL", path)?, &self.headers)
            .await?;
        check_status(&reply, self.now)?;
        let v = json_body(&reply, self.auth)?;
        let key = path.split('?').next().unwrap_or(path).trim_start_matches('/');
        self.raw.insert(key.to_string(), v.clone());
        Ok(v)
    }

    fn done(self, mut usage: Usage) -> Result<Usage, FetchError> {
        usage.raw = Some(Value::Object(self.raw));
        Ok(usage)
    }

    async fn run(mut self, org: Option<String>) -> Result<Usage, FetchError> {
        let mut last = match self.get(USER_PATH).await {
            Ok(v) => match parse_internal(&v) {
                Some(u) => return self.done(u),
                None => FetchError::BadPayload("the Copilot answer has no premium quota".into()),
            },
            Err(e) if is_final(&e) => return Err(e),
            Err(e) => e,
        };
        let known_login = self
            .raw
            .get("copilot_internal/user")
            .and_then(|v| text_at(v, &["login"]))
            .and_then(|l| github_name(&l));
        if let Some(org) = org {
            match self.get(&format!("/orgs/{org}/copilot/billing")).await {
                Ok(v) => {
                    if let Some(u) = parse_org(&v, &org) {
                        return self.done(u);
                    }
                }
                Err(e) if is_final(&e) => return Err(e),
                Err(e) => last = e,
            }
        }
        let login = match known_login {
            Some(l) => Some(l),
            None => match self.get("/user").await {
                Ok(v) => text_at(&v, &["login"]).and_then(|l| github_name(&l)),
                Err(e) if is_final(&e) => return Err(e),
                Err(e) => {
                    last = e;
                    None
                }
            },
        };
        let Some(login) = login else { return Err(last) };
        for path in [
            format!("/users/{login}/settings/billing/premium_request/usage"),
            format!("/users/{login}/settings/billing/usage/summary?product=copilot"),
        ] {
            match self.get(&path).await {
                Ok(v) => {
                    if let Some(u) = parse_billing(&v) {
                        return self.done(u);
                    }
                    last = FetchError::BadPayload("the Copilot billing answer has no usage items".into());
                }
                Err(e) if is_final(&e) => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// `copilot_internal/user`: the premium-interactions quota, or `None` when it is not there.
pub fn parse_internal(v: &Value) -> Option<Usage> {
    let pi = at(v, &["quota_snapshots", "premium_interactions"]).filter(|p| p.is_object())?;
    let plan = text_at(v, &["copilot_plan"]).or_else(|| text_at(v, &["access_type_sku"]));
    let reset = time_at(v, &["quota_reset_date_utc"]).or_else(|| time_at(v, &["quota_reset_date"]));
    let plan_text = plan
        .clone()
        .map(|p| format!("{p} plan"))
        .unwrap_or_else(|| "Copilot".into());
    let mut usage = Usage {
        confidence: Confidence::Exact,
        plan_name: plan,
        reset_at: reset,
        ..Default::default()
    };
    if pi.get("unlimited").and_then(Value::as_bool) == Some(true) {
        usage.used_percent = Some(0.0);
        usage.message = format!("{plan_text}: unlimited premium requests");
        return Some(usage);
    }
    let entitlement = num_at(pi, &["entitlement"]).filter(|e| *e > 0.0);
    let remaining = num_at(pi, &["remaining"]).or_else(|| num_at(pi, &["quota_remaining"]));
    let used = pi
        .get("percent_remaining")
        .and_then(percent)
        .map(|r| (100.0 - r).max(0.0))
        .or_else(|| Some((entitlement? - remaining?).max(0.0) / entitlement? * 100.0))?;
    let used = round1(used);
    usage.used_percent = Some(used);
    usage.remaining_units = remaining;
    usage.used_units = entitlement.zip(remaining).map(|(e, r)| (e - r).max(0.0));
    usage.windows = vec![UsageWindow {
        name: "premium".into(),
        used_percent: used,
        reset_at: reset,
    }];
    usage.message = match (remaining, entitlement) {
        (Some(r), Some(e)) => format!("{plan_text}: {r} of {e} premium requests left ({used}% used)"),
        _ => format!("{plan_text}: {used}% of premium requests used"),
    };
    Some(usage)
}

/// `orgs/{org}/copilot/billing`: the organization's plan and seats (no per-login quota).
pub fn parse_org(v: &Value, org: &str) -> Option<Usage> {
    let plan = text_at(v, &["plan_type"]);
    let seats = num_at(v, &["seat_breakdown", "total"]);
    if plan.is_none() && seats.is_none() {
        return None;
    }
    let active = num_at(v, &["seat_breakdown", "active_this_cycle"]);
    Some(Usage {
        confidence: Confidence::Estimated,
        plan_name: plan.clone(),
        message: format!(
            "organization {org}: {} Copilot{}{}",
            plan.unwrap_or_else(|| "a".into()),
            seats.map(|s| format!(", {s} seats")).unwrap_or_default(),
            active.map(|a| format!(", {a} active this cycle")).unwrap_or_default()
        ),
        ..Default::default()
    })
}

/// Billing usage items (`usageItems[].netQuantity`): premium requests billed this month.
pub fn parse_billing(v: &Value) -> Option<Usage> {
    let items = v.get("usageItems").and_then(Value::as_array)?;
    let used: f64 = items
        .iter()
        .filter_map(|i| i.get("netQuantity").or_else(|| i.get("grossQuantity")).and_then(num))
        .filter(|n| *n >= 0.0)
        .sum();
    Some(Usage {
        confidence: Confidence::Estimated,
        used_units: Some(used),
        message: format!("Copilot: {} premium requests billed this month", round1(used)),
        ..Default::default()
    })
}

#[cfg(test)]
#[path = "copilot_tests.rs"]
mod tests;
