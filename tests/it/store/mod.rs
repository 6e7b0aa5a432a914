//! The store on disk: its files, full and read-only disks, the event log, many processes.

mod disk;
mod event_log;
mod hardening;
mod processes;
mod store_files;
