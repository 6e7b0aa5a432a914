//! Stops counting the binary's start-up code as `serve`'s resident memory once it has loaded.
//!
//! The kernel maps a program's code in 64 KiB windows around each page it runs (fault-around),
//! so loading the store, the migrations and the command line leave about 8 MiB of the binary
//! mapped that `serve` never runs again (issue 28: 7.8 MiB of code resident at 10,000 accounts,
//! most of the file-backed 10 MiB). Dropping this process's mappings of those clean pages
//! (`madvise(MADV_DONTNEED)`) leaves them in the page cache, shared with every other process;
//! code `serve` runs again is mapped back from the page cache on its first use (a minor fault,
//! no disk read). Only mappings of the binary that hold no page of their own are dropped: code
//! and read-only data. Relocated data (written by the loader) and writable data are left alone,
//! since dropping them would lose what was written.

use std::path::Path;

/// A mapping's address range, `[start, end)`.
type Range = (usize, usize);

/// Drops this process's mappings of its own binary's clean pages (Linux; elsewhere nothing).
/// Returns the bytes of address space given back to the page cache.
pub fn release_start_up_code() -> usize {
    #[cfg(target_os = "linux")]
    {
        let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
            return 0;
        };
        let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
            return 0;
        };
        let mut released = 0;
        for (start, end) in clean_mappings_of(&smaps, &exe) {
            // SAFETY: the range is a whole mapping of the binary that holds no private page
            // (`Anonymous: 0 kB`) and cannot be written (no `w`): dropping it loses nothing, and
            // the next access maps the same file page back.
            if unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) } == 0 {
                released += end - start;
            }
        }
        released
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// The mappings in `smaps` (the text of `/proc/PID/smaps`) of the file `exe` that are private,
/// not writable and hold no private (anonymous) page.
fn clean_mappings_of(smaps: &str, exe: &Path) -> Vec<Range> {
    let mut found = Vec::new();
    // The mapping being read, when it is one of `exe`'s read-only private mappings.
    let mut candidate: Option<Range> = None;
    for line in smaps.lines() {
        if let Some((range, perms, path)) = header(line) {
            let read_only_private = perms.len() == 4 && perms.as_bytes()[1] == b'-' && perms.ends_with('p');
            candidate = range.filter(|_| read_only_private && path.is_some_and(|p| Path::new(p) == exe));
        } else if let (Some(range), Some(rest)) = (candidate, line.strip_prefix("Anonymous:")) {
            if rest.split_whitespace().next() == Some("0") {
                found.push(range);
            }
            candidate = None;
        }
    }
    found
}

/// A mapping's header line (`start-end perms offset dev inode [path]`): its range (`None` when
/// unreadable), permissions and path. `None`: not a header (a field line: `Rss:` …).
fn header(line: &str) -> Option<(Option<Range>, &str, Option<&str>)> {
    let mut fields = line.split_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    if !start.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let perms = fields.next()?;
    let range = usize::from_str_radix(start, 16)
        .ok()
        .zip(usize::from_str_radix(end, 16).ok());
    let path = line.find(" /").map(|i| line[i + 1..].trim_end());
    Some((range, perms, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXE: &str = "/opt/ob/opencode-balancer";

    /// One mapping's header and the lines that follow it, as `/proc/PID/smaps` writes them.
    fn mapping(range: &str, perms: &str, path: &str, anonymous_kb: u32) -> String {
        format!(
            "{range} {perms} 00000000 08:01 1234          {path}\nSize:                100 kB\nRss:                  40 kB\n\
             Anonymous:          {anonymous_kb} kB\nVmFlags: rd ex mr mw me\n"
        )
    }

    #[test]
    fn only_the_binarys_read_only_mappings_without_a_page_of_their_own_are_dropped() {
        let smaps = [
            mapping("1000-2000", "r--p", EXE, 0),                  // headers, read-only data
            mapping("2000-5000", "r-xp", EXE, 0),                  // code
            mapping("5000-6000", "r--p", EXE, 8),                  // relocated, then read-only
            mapping("6000-7000", "rw-p", EXE, 0),                  // data
            mapping("7000-8000", "r-xp", "/usr/lib/libc.so.6", 0), // another file
            mapping("8000-9000", "r-xs", EXE, 0),                  // shared
            mapping("9000-a000", "r-xp", &format!("{EXE} (deleted)"), 0), // replaced since
            "a000-b000 rw-p 00000000 00:00 0 \nAnonymous:          0 kB\n".to_string(),
            mapping("b000-c000", "r-xp", "/opt/ob dir/opencode-balancer", 0),
        ]
        .concat();
        assert_eq!(
            clean_mappings_of(&smaps, Path::new(EXE)),
            vec![(0x1000, 0x2000), (0x2000, 0x5000)]
        );
        assert_eq!(
            clean_mappings_of(&smaps, Path::new("/opt/ob dir/opencode-balancer")),
            vec![(0xb000, 0xc000)],
            "a path with a space"
        );
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_process_that_dropped_its_code_pages_runs_on_with_fewer_of_them_resident() {
        let file_kib = || {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let line = status.lines().find(|l| l.starts_with("RssFile:")).unwrap().to_string();
            line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap()
        };
        let before = file_kib();
        assert!(release_start_up_code() > 0, "the test binary's code is mapped");
        let after = file_kib();
        // Reaching this line at all: the code runs on, from pages mapped back as it is used.
        assert!(
            after < before,
            "resident file-backed memory {before} KiB -> {after} KiB"
        );
    }
}
