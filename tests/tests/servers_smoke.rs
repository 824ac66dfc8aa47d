//! The test servers themselves: Prosody and ejabberd start on 127.0.0.1 and
//! serve STARTTLS and direct TLS with the test CA's certificates and offer SCRAM;
//! accounts made by the helpers log in; the proxy strips STARTTLS, cuts and
//! stalls connections; the fake server sends its hostile bytes after TLS.
//!
//! `measure_all_configurations` prints (and checks) what every server
//! configuration offers — the table in tests/README.md.

use std::time::{Duration, Instant};

use burrow_tests::fake_server::{FakeOptions, FakeServer, Hostility, Transport};
use burrow_tests::pki::Pki;
use burrow_tests::proxy::{reveals, Proxy};
use burrow_tests::servers::ejabberd::{Ejabberd, ScramHash, Storage};
use burrow_tests::servers::probe::{self, Features, RawClient, ReadEnd, TlsVersions};
use burrow_tests::servers::prosody::Prosody;
use burrow_tests::servers::{block_on, listening_addrs};

fn ca() -> rustls_pki_types::CertificateDer<'static> {
    Pki::shared().ca_der()
}

/// Prosody lists its mechanisms in a different order on each connection.
fn sorted(mechanisms: &[String]) -> Vec<String> {
    let mut mechanisms = mechanisms.to_vec();
    mechanisms.sort();
    mechanisms
}

fn assert_only_listens_on(pid: u32, ports: &[u16]) {
    let mut expected: Vec<std::net::SocketAddr> = ports.iter().map(|port| std::net::SocketAddr::from(([127, 0, 0, 1], *port))).collect();
    expected.sort();
    assert_eq!(listening_addrs(pid), expected, "process {pid} listens on exactly its two c2s ports, on 127.0.0.1");
}

#[test]
fn prosody_serves_starttls_and_direct_tls_with_scram() {
    let prosody = Prosody::shared();
    eprintln!("prosody started in {:?}", prosody.started_in());
    assert_only_listens_on(prosody.pid(), &[prosody.starttls_port(), prosody.direct_tls_port()]);

    let probe = probe::probe_starttls_blocking(prosody.starttls_port(), prosody.domain(), &ca(), TlsVersions::Any).expect("STARTTLS probe");
    let plaintext = probe.plaintext.as_ref().expect("plaintext features");
    assert!(plaintext.starttls && plaintext.starttls_required, "STARTTLS required: {}", plaintext.raw);
    assert!(plaintext.mechanisms.is_empty(), "no SASL before TLS: {}", plaintext.raw);
    assert_eq!(probe.certificate_check, Ok(()));
    assert_eq!(probe.tls_version, "TLSv1_3");
    assert_eq!(sorted(&probe.features.mechanisms), ["PLAIN", "SCRAM-SHA-1"], "{}", probe.features.raw);
    assert_eq!(probe.features.channel_binding_types, None);

    // Under TLS 1.2 Prosody 0.12 adds SCRAM-SHA-1-PLUS (tls-unique only).
    let tls12 = probe::probe_starttls_blocking(prosody.starttls_port(), prosody.domain(), &ca(), TlsVersions::Tls12Only).expect("TLS 1.2 probe");
    assert_eq!(tls12.tls_version, "TLSv1_2");
    assert!(tls12.features.mechanisms.contains(&"SCRAM-SHA-1-PLUS".to_string()), "{:?}", tls12.features.mechanisms);

    let direct = probe::probe_direct_tls_blocking(prosody.direct_tls_port(), prosody.domain(), &ca(), TlsVersions::Any).expect("direct TLS probe");
    assert_eq!(direct.certificate_check, Ok(()));
    assert!(direct.features.mechanisms.contains(&"SCRAM-SHA-1".to_string()), "{}", direct.features.raw);

    // wrong.test presents a certificate for other.test, over both transports.
    for wrong in [
        probe::probe_starttls_blocking(prosody.starttls_port(), prosody.wrong_domain(), &ca(), TlsVersions::Any),
        probe::probe_direct_tls_blocking(prosody.direct_tls_port(), prosody.wrong_domain(), &ca(), TlsVersions::Any),
    ] {
        let wrong = wrong.expect("wrong.test probe");
        let verdict = wrong.certificate_check.expect_err("certificate for the wrong name");
        assert!(verdict.contains("not valid for name \"wrong.test\"") && verdict.contains("other.test"), "{verdict}");
    }

    let (jid, password) = prosody.create_account("alice");
    assert!(jid.ends_with("@prosody.test"), "{jid}");
    assert!(probe::login_plain_blocking(prosody.starttls_port(), &jid, &password, &ca()).expect("login"), "the new account logs in");
    assert!(!probe::login_plain_blocking(prosody.starttls_port(), &jid, "wrong password", &ca()).expect("login"), "a wrong password fails");
    let (other, _) = prosody.create_account("alice");
    assert_ne!(jid, other, "user names are made unique");
}

#[test]
fn ejabberd_serves_starttls_and_direct_tls_with_scram() {
    let ejabberd = Ejabberd::shared(ScramHash::Sha512);
    eprintln!("ejabberd (sha512) started in {:?}", ejabberd.started_in());
    assert_only_listens_on(ejabberd.pid(), &[ejabberd.starttls_port(), ejabberd.direct_tls_port()]);

    let probe = probe::probe_starttls_blocking(ejabberd.starttls_port(), ejabberd.domain(), &ca(), TlsVersions::Any).expect("STARTTLS probe");
    let plaintext = probe.plaintext.as_ref().expect("plaintext features");
    assert!(plaintext.starttls && plaintext.starttls_required, "STARTTLS required: {}", plaintext.raw);
    assert!(plaintext.mechanisms.is_empty(), "no SASL before TLS: {}", plaintext.raw);
    assert_eq!(probe.certificate_check, Ok(()));
    assert_eq!(probe.tls_version, "TLSv1_3");
    assert_eq!(probe.features.mechanisms, ["PLAIN", "SCRAM-SHA-512-PLUS", "SCRAM-SHA-512"], "{}", probe.features.raw);
    assert_eq!(probe.features.channel_binding_types, None);

    let direct = probe::probe_direct_tls_blocking(ejabberd.direct_tls_port(), ejabberd.domain(), &ca(), TlsVersions::Any).expect("direct TLS probe");
    assert_eq!(direct.certificate_check, Ok(()));
    assert_eq!(direct.features.mechanisms, probe.features.mechanisms);

    let (jid, password) = ejabberd.create_account("bob");
    assert!(jid.ends_with("@ejabberd.test"), "{jid}");
    assert!(probe::login_plain_blocking(ejabberd.starttls_port(), &jid, &password, &ca()).expect("login"), "the new account logs in");
    assert!(!probe::login_plain_blocking(ejabberd.starttls_port(), &jid, "wrong password", &ca()).expect("login"), "a wrong password fails");
}

#[test]
fn strip_proxy_removes_starttls_and_records_the_client() {
    let prosody = Prosody::shared();
    let proxy = Proxy::strip_starttls(prosody.starttls_port());
    let (jid, password) = prosody.create_account("mallory-victim");
    let user = jid.split('@').next().unwrap().to_string();
    block_on(async {
        let mut client = RawClient::connect(proxy.addr()).await.expect("connect through the proxy");
        let features = client.open_stream(prosody.domain(), Duration::from_secs(10)).await.expect("features");
        assert!(!features.starttls, "the proxy removed <starttls>: {}", features.raw);
        assert!(features.raw.contains("<stream:features"), "{}", features.raw);
        assert!(!proxy.client_bytes().is_empty());
        assert!(!reveals(&proxy.client_bytes(), password.as_bytes()), "nothing secret sent yet");
        // A client that (wrongly) goes on with PLAIN in the clear is caught.
        let _ = client.sasl_plain(&user, &password).await;
        client.close().await;
    });
    assert_eq!(proxy.starttls_stripped(), 1);
    assert_eq!(proxy.connections_accepted(), 1);
    let sent = proxy.client_bytes();
    assert!(String::from_utf8_lossy(&sent).starts_with("<?xml version='1.0'?><stream:stream to='prosody.test'"));
    assert!(reveals(&sent, password.as_bytes()), "the PLAIN password is found inside the base64");
    assert!(!probe::contains(&proxy.server_bytes(), b"starttls"), "the client never saw starttls");
}

#[test]
fn proxy_cuts_and_stalls_connections_and_keeps_accepting() {
    let prosody = Prosody::shared();
    let proxy = Proxy::transparent(prosody.starttls_port());
    block_on(async {
        let mut first = RawClient::connect(proxy.addr()).await.expect("connect");
        let features = first.open_stream(prosody.domain(), Duration::from_secs(10)).await.expect("features through the proxy");
        assert!(features.starttls, "the transparent proxy keeps starttls");
        proxy.cut_all();
        let started = Instant::now();
        let end = first.read_until(Duration::from_secs(5), |_| false).await;
        assert!(matches!(end, ReadEnd::Error(_) | ReadEnd::Closed), "the cut connection ends: {end:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "at once");

        let mut second = RawClient::connect(proxy.addr()).await.expect("connect again");
        second.open_stream(prosody.domain(), Duration::from_secs(10)).await.expect("a new connection works after the cut");
        proxy.stall_all();
        second.send(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>").await.expect("send into the stall");
        assert_eq!(second.read_until_text("<proceed", Duration::from_millis(700)).await, ReadEnd::TimedOut, "a stalled connection forwards nothing");
        proxy.cut_all();
        let end = second.read_until(Duration::from_secs(5), |_| false).await;
        assert!(matches!(end, ReadEnd::Error(_) | ReadEnd::Closed), "a stalled connection can be cut: {end:?}");
    });
    assert_eq!(proxy.connections_accepted(), 2);
}

/// A client that goes through STARTTLS with the fake server, sends its stream
/// header and reads until the hostile bytes have all arrived.
async fn receive_hostile(server: &FakeServer, expected: &[u8]) -> Vec<u8> {
    let mut client = RawClient::connect(server.addr()).await.expect("connect to the fake server");
    let features = client.open_stream(server.domain(), Duration::from_secs(10)).await.expect("plaintext features");
    assert!(features.starttls_required, "the fake server requires STARTTLS: {}", features.raw);
    client.starttls(server.domain(), &ca(), TlsVersions::Any).await.expect("STARTTLS with the fake server");
    let tls = client.tls_details().expect("TLS");
    assert_eq!(tls.certificate_check, Ok(()), "the fake server's certificate chains to the test CA");
    client.send(burrow_tests::servers::stream_header(server.domain()).as_bytes()).await.expect("post-TLS header");
    let wanted = expected.len();
    let end = client.read_until(Duration::from_secs(10), |received| received.len() >= wanted).await;
    assert_eq!(end, ReadEnd::Found, "{:?}: got {} of {wanted} bytes", server.hostility(), client.received.len());
    let received = client.received.clone();
    if matches!(server.hostility(), Hostility::EndlessFeatures) {
        let more = client.read_until(Duration::from_millis(300), |received| received.len() > wanted).await;
        assert_eq!(more, ReadEnd::TimedOut, "the features never end");
    }
    client.close().await;
    received
}

#[test]
fn fake_server_sends_its_hostile_bytes_after_starttls() {
    let hostilities = [
        Hostility::Benign,
        Hostility::MalformedXml,
        Hostility::Oversized,
        Hostility::DeepNesting,
        Hostility::Dtd,
        Hostility::Garbage,
        Hostility::EndlessFeatures,
        Hostility::CloseBeforeSasl,
        Hostility::NoMechanisms,
        Hostility::Custom(b"\xef\xbb\xbf<stream:stream".to_vec()),
    ];
    let servers: Vec<FakeServer> = hostilities
        .iter()
        .map(|hostility| FakeServer::start_with(FakeOptions { hold: Duration::from_secs(5), ..FakeOptions::new(hostility.clone()) }))
        .collect();
    block_on(async {
        let runs = servers.iter().map(|server| async move {
            let expected = server.hostility().bytes(server.domain());
            let received = receive_hostile(server, &expected).await;
            assert!(received == expected, "{:?}: the client received exactly the hostile bytes", server.hostility());
        });
        for run in runs {
            run.await;
        }
    });
    for server in &servers {
        let record = server.first_connection(Duration::from_secs(10)).expect("the connection finished");
        assert!(record.tls_established && record.starttls_requested, "{record:?}");
        assert_eq!(record.sni.as_deref(), Some("fake.test"));
        assert!(record.plaintext_header.as_deref().unwrap_or("").contains("to='fake.test'"));
        assert!(record.tls_header.as_deref().unwrap_or("").contains("<stream:stream"));
        assert_eq!(record.hostile_bytes_sent, record.hostile_bytes_total, "{:?}", server.hostility());
        assert!(record.client_closed, "{:?}: the server saw the client close", server.hostility());
        assert!(record.client_sent_stream_close, "{:?}", server.hostility());
        assert!(record.closed_after.expect("closed") < Duration::from_secs(3));
        assert_eq!(record.error, None);
    }
}

#[test]
fn fake_server_sees_a_client_that_hangs_up_on_the_oversized_stanza() {
    let server = FakeServer::start(Hostility::Oversized);
    block_on(async {
        let mut client = RawClient::connect(server.addr()).await.expect("connect");
        client.open_stream(server.domain(), Duration::from_secs(10)).await.expect("features");
        client.starttls(server.domain(), &ca(), TlsVersions::Any).await.expect("STARTTLS");
        client.send(burrow_tests::servers::stream_header(server.domain()).as_bytes()).await.expect("header");
        assert_eq!(client.read_until_text("<body>", Duration::from_secs(10)).await, ReadEnd::Found);
        // Hang up without reading the rest, the way a client with a stanza limit would.
        drop(client);
    });
    let record = server.first_connection(Duration::from_secs(10)).expect("the connection finished");
    assert!(record.client_closed, "{record:?}");
    assert!(record.client_bytes_after.is_empty(), "the client sent nothing after its header");
    assert!(!record.client_sent_stream_close);
    assert!(record.closed_after.expect("closed") < Duration::from_secs(3));
}

#[test]
fn fake_server_over_direct_tls_records_a_client_that_says_nothing() {
    let server = FakeServer::start_with(FakeOptions {
        transport: Transport::DirectTls,
        hold: Duration::from_millis(800),
        ..FakeOptions::new(Hostility::Benign)
    });
    let features = block_on(async {
        let mut client = RawClient::connect_direct_tls(server.addr(), server.domain(), &ca(), TlsVersions::Tls12Only).await.expect("direct TLS");
        let features = client.open_stream(server.domain(), Duration::from_secs(5)).await.expect("features");
        // Stay connected and silent: the fake server gives up after its hold time.
        let silent = Instant::now();
        let end = client.read_until(Duration::from_secs(5), |_| false).await;
        assert!(matches!(end, ReadEnd::Closed | ReadEnd::Error(_)), "{end:?}");
        assert!(silent.elapsed() >= Duration::from_millis(700), "not before the hold time: {:?}", silent.elapsed());
        features
    });
    assert_eq!(features.mechanisms, ["SCRAM-SHA-1", "PLAIN"]);
    let record = server.first_connection(Duration::from_secs(5)).expect("finished after the hold time");
    assert_eq!(record.tls_version.as_deref(), Some("TLSv1_2"));
    assert!(record.plaintext_header.is_none() && !record.starttls_requested);
    assert!(!record.client_closed, "{record:?}");
    assert!(record.client_bytes_after.is_empty());
}

/// Prints what each configuration offers (after STARTTLS and over direct TLS,
/// TLS 1.3 and 1.2) and checks it against tests/README.md.
#[test]
fn measure_all_configurations() {
    let begun = Instant::now();
    let (prosody, ejabberds) = std::thread::scope(|scope| {
        let prosody = scope.spawn(Prosody::shared);
        let ejabberds = Ejabberd::shared_many(&Storage::ALL);
        (prosody.join().expect("prosody"), ejabberds)
    });
    eprintln!("all five servers ready after {:?} (started in parallel)", begun.elapsed());
    let mut targets = vec![("prosody".to_string(), prosody.domain().to_string(), prosody.starttls_port(), prosody.direct_tls_port(), prosody.started_in())];
    for ejabberd in &ejabberds {
        targets.push((format!("ejabberd {:?}", ejabberd.storage()), ejabberd.domain().to_string(), ejabberd.starttls_port(), ejabberd.direct_tls_port(), ejabberd.started_in()));
    }
    let mut table = Vec::new();
    for (name, domain, starttls, direct, started_in) in &targets {
        for versions in [TlsVersions::Any, TlsVersions::Tls12Only] {
            let over_starttls = probe::probe_starttls_blocking(*starttls, domain, &ca(), versions).expect("STARTTLS probe");
            let over_direct = probe::probe_direct_tls_blocking(*direct, domain, &ca(), versions).expect("direct TLS probe");
            assert_eq!(sorted(&over_starttls.features.mechanisms), sorted(&over_direct.features.mechanisms), "{name}: same mechanisms over both transports");
            assert_eq!(over_starttls.tls_version, over_direct.tls_version);
            let cb = |features: &Features| features.channel_binding_types.clone().map(|types| types.join(",")).unwrap_or_else(|| "none".into());
            let line = format!(
                "{name:<28} {:<8} {:<24} {:<60} XEP-0440: {} (start {started_in:.1?})",
                over_starttls.tls_version,
                over_starttls.cipher_suite,
                over_starttls.features.mechanisms.join(" "),
                cb(&over_starttls.features)
            );
            eprintln!("{line}");
            let mechanisms = if name == "prosody" { sorted(&over_starttls.features.mechanisms) } else { over_starttls.features.mechanisms.clone() };
            table.push((name.clone(), versions, mechanisms.join(" "), cb(&over_starttls.features), over_starttls.tls_version.clone()));
        }
    }
    let expect = |name: &str, versions: TlsVersions, mechanisms: &str| {
        let row = table.iter().find(|row| row.0 == name && row.1 == versions).expect("row");
        assert_eq!(row.2, mechanisms, "{name} {versions:?}");
        assert_eq!(row.3, "none", "{name}: no XEP-0440");
        assert_eq!(row.4, if versions == TlsVersions::Any { "TLSv1_3" } else { "TLSv1_2" });
    };
    // Sorted for Prosody, in the server's order for ejabberd.
    expect("prosody", TlsVersions::Any, "PLAIN SCRAM-SHA-1");
    expect("prosody", TlsVersions::Tls12Only, "PLAIN SCRAM-SHA-1 SCRAM-SHA-1-PLUS");
    for versions in [TlsVersions::Any, TlsVersions::Tls12Only] {
        expect("ejabberd Scram(Sha1)", versions, "PLAIN SCRAM-SHA-1-PLUS SCRAM-SHA-1");
        expect("ejabberd Scram(Sha256)", versions, "PLAIN SCRAM-SHA-256-PLUS SCRAM-SHA-256");
        expect("ejabberd Scram(Sha512)", versions, "PLAIN SCRAM-SHA-512-PLUS SCRAM-SHA-512");
        expect(
            "ejabberd Plain",
            versions,
            "PLAIN SCRAM-SHA-512-PLUS SCRAM-SHA-512 SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1",
        );
    }
}
