//! Where the store lives: the predecessor's rule, so an upgrade finds the existing file.

use std::path::{Path, PathBuf};

/// File name of the store inside opencode's config folder.
pub const STORE_FILE: &str = "balancer.sqlite";

/// `$OPENCODE_CONFIG_DIR`, else `$XDG_CONFIG_HOME/opencode`, else `~/.config/opencode`,
/// each joined with `balancer.sqlite`.
pub fn default_store_path() -> PathBuf {
    resolve(
        std::env::var_os("OPENCODE_CONFIG_DIR").map(PathBuf::from),
        std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
    )
}

fn resolve(config_dir: Option<PathBuf>, xdg: Option<PathBuf>, home: Option<PathBuf>) -> PathBuf {
    let non_empty = |p: &PathBuf| !p.as_os_str().is_empty();
    let dir = config_dir
        .filter(non_empty)
        .or_else(|| xdg.filter(non_empty).map(|x| x.join("opencode")))
        .unwrap_or_else(|| home.unwrap_or_else(|| Path::new(".").into()).join(".config/opencode"));
    dir.join(STORE_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_predecessor_order() {
        let p = |s: &str| Some(PathBuf::from(s));
        assert_eq!(resolve(p("/c"), p("/x"), p("/h")), PathBuf::from("/c/balancer.sqlite"));
        assert_eq!(
            resolve(None, p("/x"), p("/h")),
            PathBuf::from("/x/opencode/balancer.sqlite")
        );
        assert_eq!(
            resolve(p(""), None, p("/h")),
            PathBuf::from("/h/.config/opencode/balancer.sqlite")
        );
    }
}
