//! The leak test: Burrow (launcher and all four processes) runs in a fresh
//! network namespace that holds only loopback and has a host name of its
//! own; its one way out is the namespace's SOCKS port, which socat carries
//! over a Unix socket to Debian's Dante SOCKS server outside, standing in
//! for Tor (it demands username/password, accepts any, and connects by
//! name). tshark captures every frame inside the namespace while an account
//! with `tor=system` logs into Prosody, chats with a second Burrow (outside,
//! OTR by default) and disconnects, and Burrow quits. The capture must hold
//! nothing but TCP to and from the SOCKS port, and none of the host's names,
//! the user's name, the host's addresses, the profile's path, the account's
//! name or password, or what was said.

use std::time::Duration;

use burrow_tests::leak::{connections, host_secrets, sasl_payload, stanzas_received_from, tshark_protocols, Bridge, Capture, Dante, Decoded, NetworkNamespace, Secret, LINKTYPE_ETHERNET};
use burrow_tests::servers::prosody::Prosody;
use burrow_tests::servers::reserve_port;
use burrow_tests::{pid_of, Burrow, Scratch};

const STEP: Duration = Duration::from_secs(60);
const SOCKS_VERSION: u8 = 5;
const USERNAME_PASSWORD: u8 = 2;
const CONNECT: u8 = 1;
const BY_NAME: u8 = 3;
/// The first byte of a TLS handshake record: where the clear XML ends.
const TLS_HANDSHAKE: u8 = 0x16;

/// What one SOCKS connection of Burrow's carried, checked byte by byte.
struct SocksSession {
    username: String,
    /// The XML before TLS, each way.
    sent_xml: Vec<u8>,
    received_xml: Vec<u8>,
}

fn is_lower_hex(bytes: &[u8]) -> bool {
    bytes.iter().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(byte))
}

/// Takes `length` bytes from the front of `stream`, or fails the test.
fn take<'a>(stream: &mut &'a [u8], length: usize, what: &str) -> &'a [u8] {
    assert!(stream.len() >= length, "the capture ends inside {what}: {stream:02x?}");
    let (head, rest) = stream.split_at(length);
    *stream = rest;
    head
}

/// RFC 1928 and 1929 as Burrow must speak them: a greeting offering
/// username/password alone, 32 random hex digits each, CONNECT to the name
/// `localhost` (a name, not an address) and Prosody's port; Dante's
/// answers; then XMPP in clear up to STARTTLS, then TLS.
fn socks_session(sent: &[u8], received: &[u8], prosody_port: u16) -> SocksSession {
    let mut client = sent;
    assert_eq!(take(&mut client, 3, "the greeting"), [SOCKS_VERSION, 1, USERNAME_PASSWORD], "the greeting offers username/password alone");
    assert_eq!(take(&mut client, 1, "the credentials"), [1]);
    let username_length = take(&mut client, 1, "the credentials")[0] as usize;
    let username = take(&mut client, username_length, "the username").to_vec();
    let password_length = take(&mut client, 1, "the credentials")[0] as usize;
    let password = take(&mut client, password_length, "the password");
    for (what, value) in [("username", username.as_slice()), ("password", password)] {
        assert!(value.len() == 32 && is_lower_hex(value), "the SOCKS {what} is not 16 random bytes in hex: {:?}", String::from_utf8_lossy(value));
    }
    assert_eq!(take(&mut client, 4, "the request"), [SOCKS_VERSION, CONNECT, 0, BY_NAME], "the request is not a CONNECT by name");
    let name_length = take(&mut client, 1, "the name")[0] as usize;
    assert_eq!(take(&mut client, name_length, "the name"), b"localhost");
    assert_eq!(take(&mut client, 2, "the port"), prosody_port.to_be_bytes());

    let mut server = received;
    assert_eq!(take(&mut server, 2, "Dante's choice"), [SOCKS_VERSION, USERNAME_PASSWORD]);
    assert_eq!(take(&mut server, 2, "Dante's verdict"), [1, 0]);
    assert_eq!(take(&mut server, 3, "Dante's reply"), [SOCKS_VERSION, 0, 0], "Dante did not connect");
    let address_length = match take(&mut server, 1, "Dante's reply")[0] {
        1 => 4,
        4 => 16,
        kind => panic!("Dante bound to an address of kind {kind}"),
    };
    take(&mut server, address_length + 2, "Dante's bound address");

    let clear = |stream: &[u8]| stream[..stream.iter().position(|byte| *byte == TLS_HANDSHAKE).unwrap_or(stream.len())].to_vec();
    let (sent_xml, received_xml) = (clear(client), clear(server));
    let (sent_text, received_text) = (String::from_utf8_lossy(&sent_xml), String::from_utf8_lossy(&received_xml));
    assert!(sent_text.starts_with("<?xml") && sent_text.contains("<starttls"), "no stream header and STARTTLS in clear: {sent_text}");
    assert!(received_text.contains("<proceed"), "Prosody did not proceed to TLS: {received_text}");
    for (stream, xml) in [(client, &sent_xml), (server, &received_xml)] {
        assert_eq!(stream.get(xml.len()..xml.len() + 2), Some(&[TLS_HANDSHAKE, 3][..]), "no TLS after the clear XML");
    }
    SocksSession { username: String::from_utf8(username).expect("hex"), sent_xml, received_xml }
}

fn found_in(secret: &Secret, what: &str, haystack: &[u8]) -> Option<String> {
    secret.find_in(haystack).map(|at| format!("{} in {what} at byte {at}", secret.what))
}

#[test]
fn a_session_in_a_loopback_only_namespace_sends_nothing_but_socks_and_gives_nothing_away() {
    // A Prosody of its own that writes every stanza to its debug log, to
    // read what Burrow sent inside TLS.
    let prosody = Prosody::start_with_modules(&["stanza_debug"]);
    let prosody = &prosody;
    let dante = Dante::start();
    let namespace = NetworkNamespace::new();
    assert_eq!(namespace.links(), ["lo"], "the namespace holds more than loopback");
    let inside = namespace.run("cat", &["/proc/sys/kernel/hostname"]);
    assert_eq!(String::from_utf8_lossy(&inside.stdout).trim(), namespace.hostname(), "the namespace's host name");
    let socks_port = reserve_port();
    // Capture from before anything inside can send; the probe goes to the
    // SOCKS port before the bridge listens there.
    let capture = Capture::start(&namespace, socks_port);
    let bridge = Bridge::start(&namespace, socks_port, dante.port());

    let scratch = Scratch::new("tor-leak");
    let (alice, alice_password) = prosody.create_account("leakalice");
    let (bob, bob_password) = prosody.create_account("leakbob");
    let ca = prosody.ca_pem_path().display().to_string();
    // Bob is the other end, outside the namespace, on loopback.
    let mut b = Burrow::unlocked(&scratch.path().join("bob"));
    b.add_account(&bob, &bob_password, &format!("server=127.0.0.1:{} ca={ca}", prosody.starttls_port()));
    b.connect_ok(&bob);

    let profile = scratch.path().join("alice");
    let environment = vec![("TOR_SOCKS_HOST", "127.0.0.1".to_string()), ("TOR_SOCKS_PORT", bridge.port().to_string())];
    let mut a = Burrow::unlocked_in(&namespace, &profile, &environment);
    assert!(namespace.holds(a.child.id()), "the launcher is not in the namespace");
    let children = a.status();
    let net = children.get("net").unwrap_or_else(|| panic!("no net child in {children:?}"));
    assert!(namespace.holds(pid_of(net)), "net is not in the namespace");
    a.add_account(&alice, &alice_password, &format!("server=localhost:{} tor=system ca={ca}", prosody.starttls_port()));
    let online = a.connect_through_tor_ok(&alice);
    assert_eq!(online["tor"], "system", "{online}");
    assert_eq!(online["tls"], "TLS 1.3", "{online}");

    // A chat, private by default (OTR `require` on both sides).
    let (said, answered) = ("the files are under the third floorboard", "understood, burning them tonight");
    a.send(&format!("/msg {alice} {bob} {said}"));
    let message = b.expect("alice's message", STEP, |event| event["event"] == "message" && event["peer"] == alice.as_str());
    assert_eq!((message["text"].as_str(), message["encrypted"].as_bool()), (Some(said), Some(true)), "{message}");
    b.send(&format!("/msg {bob} {alice} {answered}"));
    let reply = a.expect("bob's reply", STEP, |event| event["event"] == "message" && event["peer"] == bob.as_str());
    assert_eq!((reply["text"].as_str(), reply["encrypted"].as_bool()), (Some(answered), Some(true)), "{reply}");

    a.send(&format!("/disconnect {alice}"));
    a.expect("the disconnection", Duration::from_secs(20), |event| event["event"] == "disconnected" && event["account"] == alice.as_str());
    a.send("/quit");
    assert!(a.wait(Duration::from_secs(30)).success(), "Burrow did not quit cleanly");
    // Every connection has ended on both sides before the capture stops.
    let ended = (0..200).any(|_| {
        let decoded = capture.so_far().decoded();
        let segments: Vec<_> = decoded.into_iter().filter_map(|frame| if let Decoded::Tcp(segment) = frame { Some(segment) } else { None }).collect();
        let all_closed = connections(&segments).iter().all(|connection| connection.refused || connection.closed);
        std::thread::sleep(Duration::from_millis(100));
        all_closed
    });
    assert!(ended, "a connection in the namespace was still open 20 s after Burrow quit");
    let pcap = capture.stop();
    drop(bridge);

    // (1) Nothing but TCP, all on loopback, all to or from the SOCKS port.
    assert_eq!(pcap.link_type, LINKTYPE_ETHERNET, "{}", pcap.path.display());
    let mut segments = Vec::new();
    for (number, frame) in pcap.decoded().into_iter().enumerate() {
        match frame {
            Decoded::Tcp(segment) => segments.push(segment),
            Decoded::Other(what) => panic!("frame {} of {} is not TCP: {what}", number + 1, pcap.path.display()),
        }
    }
    for segment in &segments {
        assert!(segment.source.ip().is_loopback() && segment.destination.ip().is_loopback(), "off loopback: {segment:?}");
        let socks = |address: std::net::SocketAddr| address.port() == socks_port && address.ip() == std::net::Ipv4Addr::LOCALHOST;
        assert!(socks(segment.source) || socks(segment.destination), "TCP not to or from the SOCKS port: {segment:?}");
    }
    // tshark, reading the file on its own, agrees.
    let protocols = tshark_protocols(&pcap.path);
    assert_eq!(protocols.len(), pcap.frames.len(), "tshark and the reader count different frames");
    for line in &protocols {
        assert!(line.starts_with("eth:ethertype:ip:tcp"), "tshark sees a frame that is not TCP over IPv4: {line}");
        assert!(!line.contains("udp") && !line.contains("dns") && !line.contains("icmp"), "{line}");
    }

    // (2) Burrow's connections: SOCKS 5 exactly as it should be, each with
    // fresh credentials, then XMPP with STARTTLS. The others are the probes,
    // refused before the bridge listened.
    let all = connections(&segments);
    let (probes, used): (Vec<_>, Vec<_>) = all.iter().partition(|connection| connection.refused);
    assert!(!probes.is_empty() && probes.iter().all(|probe| probe.sent.is_empty()), "{probes:?}");
    assert!(!used.is_empty(), "the capture holds no connection of Burrow's (the positive control)");
    let sessions: Vec<SocksSession> = used
        .iter()
        .map(|connection| {
            assert!(connection.gaps.is_empty(), "the capture lost bytes: {:?}", connection.gaps);
            socks_session(&connection.sent, &connection.received, prosody.starttls_port())
        })
        .collect();
    let mut usernames: Vec<&str> = sessions.iter().map(|session| session.username.as_str()).collect();
    usernames.sort();
    usernames.dedup();
    assert_eq!(usernames.len(), sessions.len(), "two SOCKS connections shared their credentials");
    let passed = dante.connections_passed();
    assert_eq!(passed.len(), sessions.len(), "Dante passed {passed:?}");

    // (3) Nothing that names this computer or its user, nor what was said.
    let mut secrets = host_secrets();
    secrets.push(Secret::text(format!("the namespace's host name {:?}", namespace.hostname()), namespace.hostname(), true));
    secrets.push(Secret::text(format!("the profile's path {}", profile.display()), &profile.display().to_string(), false));
    let (local_part, _) = alice.split_once('@').expect("a bare JID");
    secrets.push(Secret::text("the account's user name", local_part, true));
    secrets.push(Secret::text("the account's password", &alice_password, false));
    secrets.push(Secret::text("what alice said", said, true));
    secrets.push(Secret::text("what bob answered", answered, true));
    let mut leaks = Vec::new();
    for secret in &secrets {
        for session in &sessions {
            leaks.extend(found_in(secret, "the XML Burrow sent in clear", &session.sent_xml));
            leaks.extend(found_in(secret, "the XML Prosody sent in clear", &session.received_xml));
        }
        if !secret.distinctive() {
            continue;
        }
        for (number, frame) in pcap.frames.iter().enumerate() {
            leaks.extend(found_in(secret, &format!("frame {}", number + 1), frame));
        }
        for connection in &used {
            leaks.extend(found_in(secret, "the stream Burrow sent", &connection.sent));
            leaks.extend(found_in(secret, "the stream Burrow received", &connection.received));
        }
    }
    for session in &sessions {
        let sent = String::from_utf8_lossy(&session.sent_xml);
        if sent.contains("127.0.0.1") {
            leaks.push(format!("an address literal in the XML Burrow sent: {sent}"));
        }
    }
    // The search does find what is there: the JID's domain, in the clear
    // stream header and in the TLS ClientHello's server name.
    let domain = Secret::text("the JID's domain", prosody.domain(), true);
    assert!(sessions.iter().all(|session| domain.find_in(&session.sent_xml).is_some()), "the search misses the domain in the clear XML");
    assert!(pcap.frames.iter().filter(|frame| domain.find_in(frame).is_some()).count() >= 2, "the search misses the domain in the frames");
    assert!(leaks.is_empty(), "the capture gives away:\n{}", leaks.join("\n"));

    // (4) Inside TLS, as Prosody read it: no stanza of alice's names this
    // computer, its user, or holds what was said in clear.
    let stanzas = stanzas_received_from(prosody.debug_log_path(), &alice);
    assert!(stanzas.iter().any(|stanza| stanza.starts_with("<message") && stanza.contains(&bob)), "Prosody's log shows no message from alice: {stanzas:#?}");
    assert!(stanzas.iter().any(|stanza| stanza.contains("urn:ietf:params:xml:ns:xmpp-bind")), "Prosody's log shows no resource binding: {stanzas:#?}");
    // SASL's base64 is read decoded too (a PLAIN password would show there).
    let mut texts: Vec<(String, Vec<u8>)> = stanzas.iter().map(|stanza| (stanza.clone(), stanza.as_bytes().to_vec())).collect();
    let sasl: Vec<(String, Vec<u8>)> = stanzas.iter().filter_map(|stanza| Some((format!("the SASL payload of {stanza}"), sasl_payload(stanza)?))).collect();
    assert!(sasl.iter().any(|(_, payload)| String::from_utf8_lossy(payload).contains(&format!(",,n={local_part},r="))), "no SCRAM first message from alice: {sasl:?}");
    texts.extend(sasl);
    let mut in_stanzas = Vec::new();
    for secret in &secrets {
        if secret.what == "the account's user name" {
            continue; // the JID is in every stanza, inside TLS
        }
        for (label, text) in &texts {
            if let Some(at) = secret.find_in_text(text) {
                in_stanzas.push(format!("{} at {at} of {label}", secret.what));
            }
        }
    }
    assert!(in_stanzas.is_empty(), "alice's stanzas give away:\n{}", in_stanzas.join("\n"));
    let checked: Vec<&str> = secrets.iter().map(|secret| secret.what.as_str()).collect();
    eprintln!("tor_leak: {} frames, {} connection(s) through SOCKS, {} stanzas, none holding any of {checked:?}", pcap.frames.len(), sessions.len(), stanzas.len());
}
