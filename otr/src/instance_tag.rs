//! "Instance Tags" of the spec: the 32-bit number that tells apart the
//! clients one account has logged in at the same time.
//!
//! Any value from [`InstanceTag::MIN_VALID`] up is valid: there is no upper
//! bound. otr4j once refused tags above 0x11111111 and so could not talk to
//! clients that drew larger ones; accept every value the spec allows.
//!
//! On the wire a receiver tag of 0 means "not known yet". That is only
//! acceptable in a D-H Commit message (the first of the AKE, sent before the
//! peer's tag is known) and in fragments of one, so 0 is not an
//! `InstanceTag`: the message layer handles it where it may appear.

use crate::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceTag(u32);

impl InstanceTag {
    /// Values below this are reserved (0 for "unknown", the rest unused).
    pub const MIN_VALID: u32 = 0x100;

    /// A fresh tag, drawn as libotr draws it: a random INT, drawn again while
    /// it falls in the reserved range (so every valid value is equally likely).
    pub fn random(rng: &mut dyn Rng) -> InstanceTag {
        loop {
            let mut bytes = [0u8; 4];
            rng.fill(&mut bytes);
            if let Some(tag) = InstanceTag::from_wire(u32::from_be_bytes(bytes)) {
                return tag;
            }
        }
    }

    /// The tag an INT on the wire names, or `None` for a reserved value
    /// (including 0, "unknown").
    pub fn from_wire(value: u32) -> Option<InstanceTag> {
        (value >= Self::MIN_VALID).then_some(InstanceTag(value))
    }

    pub fn value(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    /// Hands out the given INTs, big-endian, one per fill.
    struct Scripted(Vec<u32>);

    impl Rng for Scripted {
        fn fill(&mut self, buffer: &mut [u8]) {
            let next = self.0.remove(0);
            buffer.copy_from_slice(&next.to_be_bytes());
        }
    }

    #[test]
    fn reserved_values_are_not_tags() {
        assert_eq!(InstanceTag::from_wire(0), None);
        assert_eq!(InstanceTag::from_wire(0xff), None);
        assert_eq!(InstanceTag::from_wire(0x100).map(InstanceTag::value), Some(0x100));
    }

    #[test]
    fn there_is_no_upper_bound() {
        assert_eq!(InstanceTag::from_wire(0x1111_1112).map(InstanceTag::value), Some(0x1111_1112));
        assert_eq!(InstanceTag::from_wire(u32::MAX).map(InstanceTag::value), Some(u32::MAX));
    }

    #[test]
    fn random_draws_again_while_reserved() {
        let mut rng = Scripted(vec![0, 0xff, 0x100]);
        assert_eq!(InstanceTag::random(&mut rng).value(), 0x100);
        assert!(rng.0.is_empty());
    }

    #[test]
    fn random_tags_are_valid() {
        let mut rng = SeededRng::new(b"instance tags");
        for _ in 0..1000 {
            assert!(InstanceTag::random(&mut rng).value() >= InstanceTag::MIN_VALID);
        }
    }
}
