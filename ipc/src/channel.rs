//! One `SOCK_SEQPACKET` socket per channel, one frame per datagram, driven
//! by tokio.
//!
//! A datagram is read into a buffer one byte larger than the frame cap, so an
//! oversized frame shows up as a full buffer and is refused before decoding.
//! Buffers that held a frame are wiped after use, because frames may carry a
//! passphrase.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use bincode::{Decode, Encode};
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use zeroize::Zeroize;

use crate::codec::{self, CodecError, FRAME_CAP};

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("the other process closed the channel")]
    Closed,
    #[error("channel I/O failed: {0}")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Codec(#[from] CodecError),
}

impl From<rustix::io::Errno> for ChannelError {
    fn from(errno: rustix::io::Errno) -> Self {
        ChannelError::Io(errno.into())
    }
}

/// Creates a connected pair of sequenced-packet sockets, close-on-exec, with
/// send buffers large enough for a frame at the cap.
pub fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let (left, right) = rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?;
    for end in [&left, &right] {
        raise_send_buffer(end.as_fd());
    }
    Ok((left, right))
}

/// A datagram larger than the socket's send buffer cannot be sent at all.
/// The forced size needs CAP_NET_ADMIN; without it the kernel caps the
/// request at `net.core.wmem_max`, and the largest frame shrinks to match.
fn raise_send_buffer(fd: BorrowedFd<'_>) {
    let wanted = FRAME_CAP + 64 * 1024;
    if rustix::net::sockopt::set_socket_send_buffer_size_force(fd, wanted).is_err() {
        let _ = rustix::net::sockopt::set_socket_send_buffer_size(fd, wanted);
    }
}

/// Both directions of one socket.
pub struct Channel {
    socket: Arc<AsyncFd<OwnedFd>>,
}

impl Channel {
    /// Takes ownership of a connected `SOCK_SEQPACKET` socket. Must be called
    /// inside a tokio runtime.
    pub fn new(socket: OwnedFd) -> io::Result<Self> {
        rustix::io::ioctl_fionbio(&socket, true)?;
        // `AsyncFd::new` is deprecated because a borrowed descriptor could
        // be closed while registered; an `OwnedFd` cannot be.
        #[allow(deprecated)]
        Ok(Self { socket: Arc::new(AsyncFd::new(socket)?) })
    }

    pub fn split(self) -> (FrameReader, FrameWriter) {
        (
            FrameReader { socket: self.socket.clone(), buffer: vec![0; FRAME_CAP + 1] },
            FrameWriter { socket: self.socket, buffer: Vec::new() },
        )
    }
}

pub struct FrameReader {
    socket: Arc<AsyncFd<OwnedFd>>,
    buffer: Vec<u8>,
}

impl FrameReader {
    /// Waits for the next frame and returns its bytes. Descriptors passed
    /// alongside are closed unread.
    pub async fn recv_frame(&mut self) -> Result<&[u8], ChannelError> {
        let length = loop {
            let mut guard = self.socket.readable().await?;
            let buffer = &mut self.buffer;
            match guard.try_io(|socket| {
                rustix::net::recv(socket, &mut buffer[..], RecvFlags::DONTWAIT)
                    .map(|(received, _)| received)
                    .map_err(io::Error::from)
            }) {
                Ok(result) => break result.map_err(closed_on_reset)?,
                Err(_would_block) => continue,
            }
        };
        self.check_length(length)?;
        Ok(&self.buffer[..length])
    }

    fn check_length(&mut self, length: usize) -> Result<(), ChannelError> {
        // Our protocol never sends an empty frame, so zero can only mean the
        // peer hung up (or is not speaking our protocol).
        if length == 0 {
            return Err(ChannelError::Closed);
        }
        if length > FRAME_CAP {
            self.buffer.zeroize();
            self.buffer.resize(FRAME_CAP + 1, 0);
            return Err(CodecError::Oversized(length).into());
        }
        Ok(())
    }

    /// Waits for the next frame, hands its bytes to `inspect`, and wipes them.
    pub async fn recv_with<R>(&mut self, inspect: impl FnOnce(&[u8]) -> R) -> Result<R, ChannelError> {
        let length = self.recv_frame().await?.len();
        let result = inspect(&self.buffer[..length]);
        self.buffer[..length].zeroize();
        Ok(result)
    }

    /// Waits for the next frame and decodes it as `T`.
    pub async fn recv<T: Decode<()>>(&mut self) -> Result<T, ChannelError> {
        let length = self.recv_frame().await?.len();
        let decoded = codec::decode(&self.buffer[..length]);
        self.buffer[..length].zeroize();
        Ok(decoded?)
    }

    /// Like [`recv`](Self::recv), also taking at most one descriptor passed
    /// with the frame.
    pub async fn recv_with_fd<T: Decode<()>>(
        &mut self,
    ) -> Result<(T, Option<OwnedFd>), ChannelError> {
        let (length, descriptor) = loop {
            let mut guard = self.socket.readable().await?;
            let buffer = &mut self.buffer;
            match guard.try_io(|socket| receive_with_descriptor(socket.as_fd(), buffer)) {
                Ok(result) => break result.map_err(closed_on_reset)?,
                Err(_would_block) => continue,
            }
        };
        self.check_length(length)?;
        let decoded = codec::decode(&self.buffer[..length]);
        self.buffer[..length].zeroize();
        Ok((decoded?, descriptor))
    }
}

/// A peer that closes its end with frames still unread shows up as a reset,
/// which means the same as a close.
fn closed_on_reset(error: io::Error) -> ChannelError {
    if error.raw_os_error() == Some(libc_econnreset()) {
        ChannelError::Closed
    } else {
        ChannelError::Io(error)
    }
}

fn receive_with_descriptor(
    socket: BorrowedFd<'_>,
    buffer: &mut [u8],
) -> io::Result<(usize, Option<OwnedFd>)> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let received = rustix::net::recvmsg(
        socket,
        &mut [io::IoSliceMut::new(buffer)],
        &mut control,
        RecvFlags::DONTWAIT | RecvFlags::CMSG_CLOEXEC,
    )?;
    let mut descriptor = None;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = message {
            for fd in fds {
                // Any descriptor beyond the first is dropped, which closes it.
                if descriptor.is_none() {
                    descriptor = Some(fd);
                }
            }
        }
    }
    Ok((received.bytes, descriptor))
}

pub struct FrameWriter {
    socket: Arc<AsyncFd<OwnedFd>>,
    buffer: Vec<u8>,
}

impl FrameWriter {
    pub async fn send<T: Encode>(&mut self, message: &T) -> Result<(), ChannelError> {
        let encoded = codec::encode_into(message, &mut self.buffer);
        let result = match encoded {
            Ok(()) => send_datagram(&self.socket, &self.buffer, None).await,
            Err(error) => Err(error.into()),
        };
        wipe(&mut self.buffer);
        result
    }

    /// Sends `message` with one descriptor attached.
    pub async fn send_with_fd<T: Encode>(
        &mut self,
        message: &T,
        descriptor: BorrowedFd<'_>,
    ) -> Result<(), ChannelError> {
        let encoded = codec::encode_into(message, &mut self.buffer);
        let result = match encoded {
            Ok(()) => send_datagram(&self.socket, &self.buffer, Some(descriptor)).await,
            Err(error) => Err(error.into()),
        };
        wipe(&mut self.buffer);
        result
    }

    /// Sends bytes that are already a frame (the broker forwards re-encoded
    /// frames; hostile-peer tests send bytes that are not).
    pub async fn send_frame(&mut self, frame: &[u8]) -> Result<(), ChannelError> {
        send_datagram(&self.socket, frame, None).await
    }
}

/// Wipes the bytes of the last frame. Only those: the buffer is cleared
/// after every frame, so the spare capacity beyond them is already wiped,
/// and wiping all of it would make every small frame after a large one pay
/// for the large one.
fn wipe(buffer: &mut Vec<u8>) {
    buffer.as_mut_slice().zeroize();
    buffer.clear();
}

async fn send_datagram(
    socket: &AsyncFd<OwnedFd>,
    frame: &[u8],
    descriptor: Option<BorrowedFd<'_>>,
) -> Result<(), ChannelError> {
    let flags = SendFlags::DONTWAIT | SendFlags::NOSIGNAL;
    loop {
        let result = socket
            .async_io(Interest::WRITABLE, |socket| {
                let sent = match descriptor {
                    None => rustix::net::send(socket, frame, flags),
                    Some(descriptor) => {
                        let descriptors = [descriptor];
                        let mut space =
                            [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
                        let mut control = SendAncillaryBuffer::new(&mut space);
                        control.push(SendAncillaryMessage::ScmRights(&descriptors));
                        rustix::net::sendmsg(socket, &[io::IoSlice::new(frame)], &mut control, flags)
                    }
                };
                sent.map_err(io::Error::from)
            })
            .await;
        match result {
            Ok(_) => return Ok(()),
            Err(error) if error.kind() == io::ErrorKind::BrokenPipe => {
                return Err(ChannelError::Closed)
            }
            Err(error) if error.raw_os_error() == Some(libc_econnreset()) => {
                return Err(ChannelError::Closed)
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error.into()),
        }
    }
}

fn libc_econnreset() -> i32 {
    rustix::io::Errno::CONNRESET.raw_os_error()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Probe;
    use crate::ui::FromUi;

    fn pair() -> (Channel, Channel) {
        let (left, right) = seqpacket_pair().unwrap();
        (Channel::new(left).unwrap(), Channel::new(right).unwrap())
    }

    #[tokio::test]
    async fn frames_keep_their_boundaries() {
        let (left, right) = pair();
        let (_, mut writer) = left.split();
        let (mut reader, _) = right.split();
        for seq in 0..100 {
            writer.send(&FromUi::Ping(Probe { seq, payload: vec![seq as u8; seq as usize] })).await.unwrap();
        }
        for seq in 0..100 {
            let received: FromUi = reader.recv().await.unwrap();
            assert_eq!(received, FromUi::Ping(Probe { seq, payload: vec![seq as u8; seq as usize] }));
        }
    }

    #[tokio::test]
    async fn a_closed_peer_reads_as_closed() {
        let (left, right) = pair();
        drop(left);
        let (mut reader, _) = right.split();
        assert!(matches!(reader.recv::<FromUi>().await, Err(ChannelError::Closed)));
    }

    #[tokio::test]
    async fn garbage_is_a_codec_error_and_the_channel_goes_on() {
        let (left, right) = pair();
        let (_, mut writer) = left.split();
        let (mut reader, _) = right.split();
        writer.send_frame(&[0xff, 0xfe, 0xfd]).await.unwrap();
        writer.send(&FromUi::Status).await.unwrap();
        assert!(matches!(reader.recv::<FromUi>().await, Err(ChannelError::Codec(_))));
        assert_eq!(reader.recv::<FromUi>().await.unwrap(), FromUi::Status);
    }

    #[tokio::test]
    async fn a_descriptor_travels_with_its_frame() {
        let (left, right) = pair();
        let (_, mut writer) = left.split();
        let (mut reader, _) = right.split();
        let (passed, kept) = seqpacket_pair().unwrap();
        writer.send_with_fd(&FromUi::Status, passed.as_fd()).await.unwrap();
        drop(passed);
        let (message, descriptor) = reader.recv_with_fd::<FromUi>().await.unwrap();
        assert_eq!(message, FromUi::Status);
        let descriptor = descriptor.expect("descriptor");
        rustix::net::send(&descriptor, b"x", SendFlags::empty()).unwrap();
        let mut byte = [0u8; 1];
        assert_eq!(rustix::net::recv(&kept, &mut byte[..], RecvFlags::empty()).unwrap().0, 1);
    }
}
