//! `doctor`'s findings on opencode 2's credentials (`opencode.db` beside auth.json), which serve
//! mirrors as accounts: found and how many, not there (opencode 2 not used here), or not
//! readable (its shape named).

use std::collections::BTreeSet;

use super::{default_db_path, read_credentials, HostRead};
use crate::doctor::report::Level;

pub fn findings() -> Vec<(Level, String)> {
    let path = default_db_path();
    match read_credentials(&path) {
        Ok(HostRead::Absent) => vec![(
            Level::Ok,
            format!(
                "no opencode 2 credential database at {} (opencode 2 not used here)",
                path.display()
            ),
        )],
        Ok(HostRead::Found { credentials, skipped }) => {
            let providers: BTreeSet<&str> = credentials.iter().map(|c| c.provider_id.as_str()).collect();
            let mut out = vec![(
                Level::Ok,
                format!(
                    "opencode 2's credentials in {} are readable: {} credentials of {} providers, shown as accounts owned by opencode2",
                    path.display(),
                    credentials.len(),
                    providers.len()
                ),
            )];
            if skipped > 0 {
                out.push((
                    Level::Warn,
                    format!("{skipped} opencode 2 credentials without an id or a usable provider id are not shown"),
                ));
            }
            out
        }
        Err(why) => vec![(Level::Fail, why.to_string())],
    }
}
