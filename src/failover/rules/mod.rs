//! The retry balancer's pure rules, free of actors and I/O: which headers carry a credential
//! (`headers`), what an outbound request keeps or drops when it changes account or provider
//! (`outbound`), and whether and where a request may move to another provider (`provider_move`).

pub mod headers;
pub mod outbound;
pub mod provider_move;
