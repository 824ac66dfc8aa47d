//! The first frame in each direction of every channel.
//!
//! The broker speaks first, telling the child which role it is being asked
//! to play; the child answers with its own role, its pid and the confinement
//! it has already put in force. Nothing else is read before both frames pass.

use bincode::{Decode, Encode};

use crate::channel::{ChannelError, FrameReader, FrameWriter};
use crate::types::{ConfinementReport, Role};
use crate::PROTOCOL_VERSION;

const MAGIC: [u8; 8] = *b"BURROW\x00\x01";

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct BrokerHello {
    pub magic: [u8; 8],
    pub version: u32,
    /// The role the broker expects at the other end.
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ChildHello {
    pub magic: [u8; 8],
    pub version: u32,
    pub role: Role,
    pub pid: u32,
    pub confinement: ConfinementReport,
}

#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("the peer does not speak Burrow's IPC protocol")]
    NotBurrow,
    #[error("IPC protocol version mismatch: this side speaks {ours}, the other {theirs}; install matching Burrow binaries")]
    Version { ours: u32, theirs: u32 },
    #[error("expected the {expected:?} process, found {found:?}")]
    WrongRole { expected: Role, found: Role },
    #[error(transparent)]
    Channel(#[from] ChannelError),
}

fn check(magic: [u8; 8], version: u32, expected: Role, found: Role) -> Result<(), HandshakeError> {
    if magic != MAGIC {
        return Err(HandshakeError::NotBurrow);
    }
    if version != PROTOCOL_VERSION {
        return Err(HandshakeError::Version { ours: PROTOCOL_VERSION, theirs: version });
    }
    if expected != found {
        return Err(HandshakeError::WrongRole { expected, found });
    }
    Ok(())
}

/// The broker's side: greet, then read and check the child's answer.
pub async fn greet_child(
    reader: &mut FrameReader,
    writer: &mut FrameWriter,
    role: Role,
) -> Result<ChildHello, HandshakeError> {
    writer
        .send(&BrokerHello { magic: MAGIC, version: PROTOCOL_VERSION, role })
        .await?;
    let answer: ChildHello = reader.recv().await?;
    check(answer.magic, answer.version, role, answer.role)?;
    Ok(answer)
}

/// The child's side: read and check the broker's greeting, then answer.
pub async fn answer_broker(
    reader: &mut FrameReader,
    writer: &mut FrameWriter,
    role: Role,
    confinement: ConfinementReport,
) -> Result<(), HandshakeError> {
    let greeting: BrokerHello = reader.recv().await?;
    check(greeting.magic, greeting.version, role, greeting.role)?;
    writer
        .send(&ChildHello {
            magic: MAGIC,
            version: PROTOCOL_VERSION,
            role,
            pid: std::process::id(),
            confinement,
        })
        .await?;
    Ok(())
}
