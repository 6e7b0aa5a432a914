//! The retry balancer through the real binary: selection, failover, keeping a turn going.

mod balancer;
mod turn;
