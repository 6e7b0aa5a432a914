//! Logins from opencode's auth.json: the watcher, unsafe files, idling.

mod auth_file;
mod idle;
mod watcher;
