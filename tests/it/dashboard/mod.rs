//! The dashboard: its keys, views and snapshots in-process, its lifecycle under tmux.

mod keys;
mod lifecycle;
mod priority;
mod render;
mod usage;
