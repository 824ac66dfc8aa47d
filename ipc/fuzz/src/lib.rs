//! Shared between the `frame_decode` fuzz target and `make_seeds`: which
//! message type each value of a fuzz input's first byte selects (taken modulo
//! [`TYPE_COUNT`]). Append new message types at the end so that the existing
//! seeds and corpus entries keep their meaning.

pub const FROM_UI: u8 = 0;
pub const TO_UI: u8 = 1;
pub const FROM_NET: u8 = 2;
pub const TO_NET: u8 = 3;
pub const FROM_CRYPTO: u8 = 4;
pub const TO_CRYPTO: u8 = 5;
pub const FROM_LAUNCHER: u8 = 6;
pub const TO_LAUNCHER: u8 = 7;
pub const BROKER_HELLO: u8 = 8;
pub const CHILD_HELLO: u8 = 9;

pub const TYPE_COUNT: u8 = 10;
