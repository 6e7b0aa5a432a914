//! The registry's pure rules, free of actors and I/O: which account serves a request (`select`)
//! and when an account cools down and for how long (`cooldown`).

pub mod cooldown;
pub mod select;
