//! Usage reads against loopback stand-ins, and the outbound client's proxy handling.

mod proxy;
mod refresher;
