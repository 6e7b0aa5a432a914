//! The retry balancer through the real binary: selection, failover, keeping a turn going.

mod ahead;
mod balancer;
mod turn;
