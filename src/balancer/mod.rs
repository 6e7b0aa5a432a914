//! Pure balancing logic, free of actors and I/O: response classification, reset-time parsing,
//! account selection and credential headers. The retry_balancer actor drives these.

pub mod classify;
pub mod headers;
pub mod hint;
pub mod outbound;
pub mod reset;
pub mod select;
pub mod switch;
