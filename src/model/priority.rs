//! `PriorityDirection`: which way `priority.move` moves a provider, `-1` (up) or `1` (down) on
//! the wire.

use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize, Serializer};

/// One place up (earlier, tried first) or down in the provider priority matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PriorityDirection {
    Up,
    Down,
}

impl PriorityDirection {
    /// How the position changes: `-1` up, `1` down (also the wire form).
    pub fn offset(self) -> i64 {
        match self {
            PriorityDirection::Up => -1,
            PriorityDirection::Down => 1,
        }
    }

    /// `up` or `down`, as events and the CLI say it.
    pub fn word(self) -> &'static str {
        match self {
            PriorityDirection::Up => "up",
            PriorityDirection::Down => "down",
        }
    }
}

impl Serialize for PriorityDirection {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.offset())
    }
}

/// Only the integers `-1` and `1`; anything else names what is allowed, never the value.
impl<'de> Deserialize<'de> for PriorityDirection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match i64::deserialize(d)? {
            -1 => Ok(PriorityDirection::Up),
            1 => Ok(PriorityDirection::Down),
            _ => Err(D::Error::custom("direction must be -1 (up) or 1 (down)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PriorityDirection::{self, Down, Up};

    #[test]
    fn directions_are_minus_one_and_one_on_the_wire() {
        assert_eq!(serde_json::to_string(&[Up, Down]).unwrap(), "[-1,1]");
        let back: Vec<PriorityDirection> = serde_json::from_str("[-1,1]").unwrap();
        assert_eq!(back, [Up, Down]);
        for bad in ["0", "3", "-2", "\"up\"", "1.5", "null"] {
            assert!(serde_json::from_str::<PriorityDirection>(bad).is_err(), "{bad}");
        }
        let e = serde_json::from_str::<PriorityDirection>("3").unwrap_err().to_string();
        assert!(e.starts_with("direction must be -1 (up) or 1 (down)"), "{e}");
    }
}
