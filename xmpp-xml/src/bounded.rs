//! The byte budget under the parser: an `AsyncBufRead` over the transport that hands out at most
//! `limit` bytes between two calls to [`BoundedReader::reset_budget`].
//!
//! quick-xml copies each event (a tag, a text) into a growing buffer until the event ends. Were
//! it reading the transport directly, one unterminated tag could grow that buffer without end.
//! Here, once the budget is spent, the parser is told the input has ended and the reader records
//! that it stopped it ([`BoundedReader::refused`]), which `reader.rs` reports as
//! [`super::XmlError::TooLarge`]. The cap is on raw input consumed, whatever it turns out to be.
//!
//! It reads from the transport only when its buffer is empty, and only what one read returns,
//! so after an element the bytes the server sent after it stay here, visible to
//! [`BoundedReader::into_inner`], rather than being lost or mixed into a TLS handshake.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};

use super::XmlError;

/// The most the reader asks the transport for at once.
const CHUNK: usize = 8 * 1024;

/// UTF-8's byte order mark.
const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

pub(crate) struct BoundedReader<R> {
    inner: R,
    buffer: Box<[u8]>,
    /// `buffer[start..end]` holds bytes read but not yet consumed.
    start: usize,
    end: usize,
    limit: usize,
    /// What may still be consumed before the next `reset_budget`.
    remaining: usize,
    /// The budget ran out while the parser wanted more.
    refused: bool,
    /// The transport reported its end.
    eof: bool,
    /// Bytes consumed since creation, for error positions.
    consumed: u64,
    /// Nothing has been handed out since the stream (re)started: see
    /// [`BoundedReader::poll_stream_start`].
    at_stream_start: bool,
}

impl<R> BoundedReader<R> {
    pub(crate) fn new(inner: R, limit: usize) -> Self {
        BoundedReader {
            inner,
            buffer: vec![0; CHUNK].into_boxed_slice(),
            start: 0,
            end: 0,
            limit,
            remaining: limit,
            refused: false,
            eof: false,
            consumed: 0,
            at_stream_start: true,
        }
    }

    /// A new stream starts here (the restart after SASL): see
    /// [`BoundedReader::poll_stream_start`].
    pub(crate) fn restart_stream(&mut self) {
        self.reset_budget();
        self.at_stream_start = true;
    }

    /// Starts a new budget of `limit` bytes: called after the stream header, after each stanza
    /// and after each run of whitespace between stanzas.
    pub(crate) fn reset_budget(&mut self) {
        self.remaining = self.limit;
        self.refused = false;
    }

    pub(crate) fn refused(&self) -> bool {
        self.refused
    }

    pub(crate) fn eof(&self) -> bool {
        self.eof
    }

    pub(crate) fn consumed(&self) -> u64 {
        self.consumed
    }

    /// The transport back, unless bytes read from it have not been consumed.
    pub(crate) fn into_inner(self) -> Result<R, XmlError> {
        let unread = self.end.saturating_sub(self.start);
        if unread > 0 {
            return Err(XmlError::BufferedData { bytes: unread });
        }
        Ok(self.inner)
    }

    fn available(&self) -> &[u8] {
        let end = self.end.min(self.start.saturating_add(self.remaining));
        self.buffer.get(self.start..end).unwrap_or(&[])
    }
}

impl<R: AsyncRead + Unpin> BoundedReader<R> {
    /// quick-xml drops a byte order mark at the start of a stream only if the first bytes it
    /// is shown hold all of it; a mark split across reads would reach the parser as text. So
    /// the first bytes of a stream are gathered until they are a whole mark, or cannot be one,
    /// or the input ends, making the result the same however the server splits its bytes.
    fn poll_stream_start(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let pending = self.buffer.get(self.start..self.end).unwrap_or(&[]);
            if pending.len() >= BYTE_ORDER_MARK.len() || !BYTE_ORDER_MARK.starts_with(pending) || self.eof {
                self.at_stream_start = false;
                return Poll::Ready(Ok(()));
            }
            // Fewer than three bytes wait: move them to the front and read after them.
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            let mut read = ReadBuf::new(self.buffer.get_mut(self.end..).unwrap_or(&mut []));
            ready!(Pin::new(&mut self.inner).poll_read(cx, &mut read))?;
            let got = read.filled().len();
            if got == 0 {
                self.eof = true;
            }
            self.end += got;
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncBufRead for BoundedReader<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.remaining == 0 {
            this.refused = true;
            return Poll::Ready(Ok(&[]));
        }
        if this.at_stream_start {
            ready!(this.poll_stream_start(cx))?;
        }
        if this.start >= this.end && !this.eof {
            let mut read = ReadBuf::new(&mut this.buffer);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            let got = read.filled().len();
            this.start = 0;
            this.end = got;
            if got == 0 {
                this.eof = true;
            }
        }
        Poll::Ready(Ok(this.available()))
    }

    fn consume(self: Pin<&mut Self>, amount: usize) {
        let this = self.get_mut();
        let amount = amount.min(this.available().len());
        this.start += amount;
        this.remaining -= amount;
        this.consumed = this.consumed.saturating_add(amount as u64);
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for BoundedReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let available = ready!(self.as_mut().poll_fill_buf(cx))?;
        let amount = available.len().min(out.remaining());
        out.put_slice(available.get(..amount).unwrap_or(&[]));
        self.consume(amount);
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(future)
    }

    #[test]
    fn hands_out_at_most_the_budget_then_reports_refusal() {
        block_on(async {
            let mut reader = BoundedReader::new(&b"0123456789"[..], 4);
            let mut got = Vec::new();
            reader.read_to_end(&mut got).await.expect("read");
            assert_eq!(got, b"0123");
            assert!(reader.refused());
            assert!(!reader.eof());
            reader.reset_budget();
            assert!(!reader.refused());
            got.clear();
            reader.read_to_end(&mut got).await.expect("read");
            assert_eq!(got, b"4567");
            assert_eq!(reader.consumed(), 8);
            assert!(matches!(reader.into_inner(), Err(XmlError::BufferedData { bytes: 2 })));
        });
    }

    #[test]
    fn true_end_of_input_is_eof_not_refusal() {
        block_on(async {
            let mut reader = BoundedReader::new(&b"ab"[..], 10);
            let mut got = Vec::new();
            reader.read_to_end(&mut got).await.expect("read");
            assert_eq!(got, b"ab");
            assert!(reader.eof());
            assert!(!reader.refused());
            assert!(reader.into_inner().is_ok());
        });
    }

    /// Returns one byte per read.
    struct Trickle<'a>(&'a [u8]);

    impl AsyncRead for Trickle<'_> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            out: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if let Some((first, rest)) = self.0.split_first() {
                out.put_slice(&[*first]);
                self.0 = rest;
            }
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn a_stream_starts_with_a_whole_byte_order_mark_or_none() {
        block_on(async {
            let mut reader = BoundedReader::new(Trickle(b"\xEF\xBB\xBF<a"), 100);
            assert_eq!(reader.fill_buf().await.expect("fill"), b"\xEF\xBB\xBF");
            let mut reader = BoundedReader::new(Trickle(b"\xEF\xBB<a"), 100);
            assert_eq!(reader.fill_buf().await.expect("fill"), b"\xEF\xBB<", "not a mark after all");
            let mut reader = BoundedReader::new(Trickle(b"\xEF"), 100);
            assert_eq!(reader.fill_buf().await.expect("fill"), b"\xEF", "input ended");
            let mut reader = BoundedReader::new(Trickle(b"<a"), 100);
            assert_eq!(reader.fill_buf().await.expect("fill"), b"<", "not a mark at all");
            // And again after a restart.
            let mut reader = BoundedReader::new(Trickle(b"<\xEF\xBB\xBF"), 100);
            assert_eq!(reader.fill_buf().await.expect("fill"), b"<");
            Pin::new(&mut reader).consume(1);
            reader.restart_stream();
            assert_eq!(reader.fill_buf().await.expect("fill"), b"\xEF\xBB\xBF");
        });
    }

    #[test]
    fn consume_beyond_what_was_offered_is_clamped() {
        block_on(async {
            let mut reader = BoundedReader::new(&b"abcdef"[..], 3);
            assert_eq!(reader.fill_buf().await.expect("fill"), b"abc");
            Pin::new(&mut reader).consume(100);
            assert_eq!(reader.consumed(), 3);
            assert_eq!(reader.fill_buf().await.expect("fill"), b"");
            assert!(reader.refused());
        });
    }
}
