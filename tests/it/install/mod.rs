//! `install` / `uninstall` through the real binary, each in private folders.

mod files;
mod npm;
mod routes;
mod tui;
mod upgrade;
mod v2;
