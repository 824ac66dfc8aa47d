//! Feeds arbitrary bytes, as a server would send them, to `xmpp_xml::StreamReader`.
//!
//! Input layout (see src/lib.rs): a byte choosing how the bytes are split into reads, a
//! flags byte (tight limits; a `Pending` before every read), then the stream.
//!
//! Checked:
//! - reading never panics, overflows, or allocates without bound, whatever the bytes (any
//!   `Err` is fine), and every error has a message;
//! - the events and the error are the same whether the stream arrives split as the input
//!   says or in one read (a server chooses how its bytes are split);
//! - every stanza is shaped as the reader promises (no empty text, no two texts in a row),
//!   and written with `Element::to_xml` inside `stream_header` … `STREAM_CLOSE`, reads
//!   back as an equal element;
//! - `into_inner` at the end returns without panicking.
#![no_main]

use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use libfuzzer_sys::fuzz_target;
use xmpp_xml::{
    stream_header, Element, Limits, Node, StreamEvent, StreamReader, NS_CLIENT, STREAM_CLOSE,
};
use net_sandbox_fuzz::{Input, Splitter, PENDING_FIRST};
use tokio::io::{AsyncRead, ReadBuf};

/// A transport that hands out `data` in reads sized by `splitter`, or all at once.
struct Transport<'a> {
    data: &'a [u8],
    splitter: Option<Splitter>,
    pending_first: bool,
    pending_sent: bool,
}

impl AsyncRead for Transport<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.pending_first && !self.pending_sent {
            self.pending_sent = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.pending_sent = false;
        let len = match self.splitter.as_mut() {
            Some(splitter) => splitter.next_len(),
            None => usize::MAX,
        };
        let len = len.min(self.data.len()).min(out.remaining());
        let (now, later) = self.data.split_at(len);
        out.put_slice(now);
        self.data = later;
        Poll::Ready(Ok(()))
    }
}

#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<StreamEvent>,
    error: Option<String>,
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().build().expect("tokio runtime"))
}

fn read_all(transport: Transport<'_>, limits: Limits) -> Outcome {
    runtime().block_on(async {
        let mut reader = StreamReader::new(transport, limits);
        let mut events = Vec::new();
        let error = loop {
            match reader.next().await {
                Ok(StreamEvent::StreamClose) => {
                    events.push(StreamEvent::StreamClose);
                    break None;
                }
                Ok(event) => events.push(event),
                Err(error) => {
                    let message = error.to_string();
                    assert!(!message.is_empty());
                    let _ = error.stream_error_condition();
                    break Some(message);
                }
            }
        };
        let _ = reader.into_inner();
        Outcome { events, error }
    })
}

/// The reader's promises about the trees it makes.
fn check_shape(element: &Element) {
    let mut previous_was_text = false;
    for child in &element.children {
        match child {
            Node::Text(text) => {
                assert!(!text.is_empty(), "empty text node in {element:?}");
                assert!(!previous_was_text, "two texts in a row in {element:?}");
                previous_was_text = true;
            }
            Node::Element(child) => {
                previous_was_text = false;
                check_shape(child);
            }
        }
    }
}

/// Limits that a re-written stanza fits whatever the first read allowed: escaping and
/// `xmlns` declarations make the text longer, never deeper or wider.
fn roomy() -> Limits {
    Limits {
        max_stanza_bytes: 64 << 20,
        max_depth: 1024,
        max_attributes_per_element: 1024,
        max_attribute_value_bytes: 64 << 20,
        max_name_bytes: 4096,
        max_nodes_per_stanza: 1 << 20,
        max_namespace_declarations: 1024,
    }
}

fn check_round_trip(stanza: &Element) {
    let written = stanza.to_xml(NS_CLIENT);
    let document = format!("{}{written}{STREAM_CLOSE}", stream_header("fuzz.example"));
    let transport =
        Transport { data: document.as_bytes(), splitter: None, pending_first: false, pending_sent: false };
    let outcome = read_all(transport, roomy());
    match outcome.events.as_slice() {
        [StreamEvent::StreamOpen { .. }, StreamEvent::Stanza(again), StreamEvent::StreamClose] => {
            assert_eq!(again, stanza, "the stanza changed when written as {written:?}");
        }
        _ => panic!("{stanza:?} written as {written:?} read back as {outcome:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else {
        return;
    };
    let limits = input.limits();
    let split = read_all(
        Transport {
            data: input.stream,
            splitter: Some(Splitter::new(input.split)),
            pending_first: input.flags & PENDING_FIRST != 0,
            pending_sent: false,
        },
        limits,
    );
    let whole = read_all(
        Transport { data: input.stream, splitter: None, pending_first: false, pending_sent: false },
        limits,
    );
    assert_eq!(split, whole, "the result depends on how the input is split");
    for event in &split.events {
        if let StreamEvent::Stanza(stanza) = event {
            check_shape(stanza);
            check_round_trip(stanza);
        }
    }
});
