//! SRV lookups (RFC 2782) by DNS over TCP (RFC 7766), through a [`Dialer`],
//! so through Tor: this process never opens a UDP socket, and never asks
//! the computer's own resolver (which would tell the local network, in the
//! clear, which server the user is about to reach).
//!
//! hickory-proto encodes the query and decodes the answer; everything the
//! answer holds is treated as hostile: its size, its record count and every
//! name are bounded, and any surprise is an error in plain words.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::dialer::{DialError, Dialer};

/// The resolver asked when `BURROW_DNS_RESOLVER` is not set: Quad9, over
/// TCP port 53. Chosen because it is run by a non-profit foundation that
/// states it keeps no record of client addresses, because it answers DNS
/// over TCP on port 53, which Tor's default exit policy (and the reduced
/// one most exits use) allows, and because it is an address, not a name
/// (a name would need a lookup of its own). It sees only the Tor exit's
/// address and the domain asked about, as any resolver would.
pub const DEFAULT_RESOLVER: &str = "9.9.9.9:53";

/// The whole of one lookup: reaching the resolver through Tor (a circuit to
/// an exit may take tens of seconds on a slow network), the query and the
/// answer.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(60);
/// Far above any honest SRV answer (a few hundred bytes), far below the
/// 64 KiB a TCP DNS message may claim.
pub const MAX_RESPONSE_LEN: usize = 16 * 1024;
/// Records in an answer, of any type: more is not an XMPP domain's answer.
pub const MAX_ANSWERS: usize = 64;
/// SRV records kept for one service.
pub const MAX_SRV_RECORDS: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("BURROW_DNS_RESOLVER={0:?} is not an IP address and port such as 9.9.9.9:53")]
    BadResolverSetting(String),
    #[error("the DNS resolver at {0} is on this computer and would ask the network outside Tor, so it was not asked")]
    ResolverOutsideTor(SocketAddr),
    #[error("{0} is not a domain name that can be looked up")]
    BadDomain(String),
    #[error("{0}; no DNS question was sent")]
    NoRandom(String),
    #[error("could not reach the DNS resolver through Tor: {0}")]
    Dial(#[from] DialError),
    #[error("the DNS resolver's connection broke: {0}")]
    Io(#[from] std::io::Error),
    #[error("the DNS resolver did not answer within {} seconds", LOOKUP_TIMEOUT.as_secs())]
    Timeout,
    #[error("the DNS resolver sent an answer of {0} bytes, more than the {MAX_RESPONSE_LEN} allowed")]
    TooLarge(usize),
    #[error("the DNS resolver's answer does not decode: {0}")]
    Undecodable(String),
    #[error("the DNS resolver's answer does not belong to the question ({0})")]
    Mismatch(&'static str),
    #[error("the DNS resolver said it failed ({0})")]
    ServerFailure(String),
    #[error("the DNS resolver's answer is cut short although TCP carries whole answers")]
    Truncated,
    #[error("the DNS answer holds {0} records, more than the {MAX_ANSWERS} allowed")]
    TooManyRecords(usize),
    #[error("the DNS answer names a server {0:?}, which is not a host name")]
    BadTarget(String),
}

/// Where the resolver is: `BURROW_DNS_RESOLVER` (`ADDRESS:PORT`, for a
/// network whose Tor exits cannot reach the default, and for the tests), or
/// [`DEFAULT_RESOLVER`].
pub fn resolver_from_environment(value: Option<&str>) -> Result<SocketAddr, ResolveError> {
    let value = value.unwrap_or(DEFAULT_RESOLVER);
    value.parse::<SocketAddr>().ok().filter(|address| address.port() != 0).ok_or_else(|| ResolveError::BadResolverSetting(value.to_owned()))
}

/// One SRV record, as the answer gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    /// Lowercase, without the final dot; empty for "." (no service).
    pub target: String,
}

/// What a domain's DNS says about one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SrvAnswer {
    /// No record (or no such name): the service is not announced.
    None,
    /// A single record with target ".": the service is decidedly not
    /// available (RFC 2782).
    NotOffered,
    Records(Vec<SrvRecord>),
}

/// Asks `resolver`, through `dialer`, for the SRV records of `name`
/// (`_service._tcp.domain`).
pub async fn lookup_srv(dialer: &dyn Dialer, resolver: SocketAddr, name: &str) -> Result<SrvAnswer, ResolveError> {
    if dialer.tor() == "none" {
        return Err(ResolveError::ResolverOutsideTor(resolver));
    }
    let query_name = Name::from_ascii(name).map_err(|_| ResolveError::BadDomain(name.to_owned()))?;
    let id = random_id()?;
    let query = encode_query(id, &query_name)?;
    let exchange = async {
        let mut stream = dialer.dial(&resolver.ip().to_string(), resolver.port()).await?.stream;
        // RFC 7766 §8: each message over TCP is preceded by its length.
        let mut framed = Vec::with_capacity(2 + query.len());
        framed.extend_from_slice(&(query.len() as u16).to_be_bytes());
        framed.extend_from_slice(&query);
        stream.write_all(&framed).await?;
        stream.flush().await?;
        let mut length = [0u8; 2];
        stream.read_exact(&mut length).await?;
        let length = usize::from(u16::from_be_bytes(length));
        if length > MAX_RESPONSE_LEN {
            return Err(ResolveError::TooLarge(length));
        }
        let mut answer = vec![0u8; length];
        stream.read_exact(&mut answer).await?;
        Ok::<_, ResolveError>(answer)
    };
    let answer = tokio::time::timeout(LOOKUP_TIMEOUT, exchange).await.map_err(|_| ResolveError::Timeout)??;
    parse_answer(id, &query_name, &answer)
}

fn random_id() -> Result<u16, ResolveError> {
    let mut bytes = [0u8; 2];
    getrandom::fill(&mut bytes).map_err(|error| ResolveError::NoRandom(format!("the system's random number generator failed ({error})")))?;
    Ok(u16::from_be_bytes(bytes))
}

/// A standard query with recursion desired: the resolver does the work.
pub fn encode_query(id: u16, name: &Name) -> Result<Vec<u8>, ResolveError> {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    let mut query = Query::query(name.clone(), RecordType::SRV);
    query.set_query_class(DNSClass::IN);
    message.add_query(query);
    message.to_vec().map_err(|error| ResolveError::BadDomain(error.to_string()))
}

/// Checks that `bytes` answer query `id` for `name`, and takes its SRV
/// records for `name`. Records of other names or types (a CNAME, a DNSSEC
/// signature) are passed over.
pub fn parse_answer(id: u16, name: &Name, bytes: &[u8]) -> Result<SrvAnswer, ResolveError> {
    if bytes.len() > MAX_RESPONSE_LEN {
        return Err(ResolveError::TooLarge(bytes.len()));
    }
    let message = Message::from_vec(bytes).map_err(|error| ResolveError::Undecodable(error.to_string()))?;
    if message.metadata.id != id {
        return Err(ResolveError::Mismatch("another query's number"));
    }
    if message.metadata.message_type != MessageType::Response {
        return Err(ResolveError::Mismatch("a query, not an answer"));
    }
    let echoed = message.queries.len() == 1 && message.queries[0].name().eq_ignore_root(name);
    if !echoed || message.queries[0].query_type() != RecordType::SRV {
        return Err(ResolveError::Mismatch("another question"));
    }
    match message.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Ok(SrvAnswer::None),
        other => return Err(ResolveError::ServerFailure(other.to_string())),
    }
    if message.metadata.truncation {
        return Err(ResolveError::Truncated);
    }
    let count = message.answers.len() + message.authorities.len() + message.additionals.len();
    if message.answers.len() > MAX_ANSWERS || count > MAX_ANSWERS * 2 {
        return Err(ResolveError::TooManyRecords(count));
    }
    let mut records = Vec::new();
    for record in &message.answers {
        if !record.name.eq_ignore_root(name) || record.dns_class != DNSClass::IN {
            continue;
        }
        let RData::SRV(srv) = &record.data else { continue };
        let target = host_name(&srv.target)?;
        records.push(SrvRecord { priority: srv.priority, weight: srv.weight, port: srv.port, target });
    }
    if records.len() > MAX_SRV_RECORDS {
        return Err(ResolveError::TooManyRecords(records.len()));
    }
    Ok(match records.as_slice() {
        [] => SrvAnswer::None,
        [only] if only.target.is_empty() => SrvAnswer::NotOffered,
        _ => {
            // A "." among real targets means nothing; skip it.
            records.retain(|record| !record.target.is_empty() && record.port != 0);
            if records.is_empty() {
                SrvAnswer::NotOffered
            } else {
                SrvAnswer::Records(records)
            }
        }
    })
}

/// A target as a host name for the dialer (Tor resolves it): letters,
/// digits, hyphens and underscores in labels of at most 63, at most 253 in
/// all. Empty for the root, ".".
fn host_name(target: &Name) -> Result<String, ResolveError> {
    if target.is_root() {
        return Ok(String::new());
    }
    let text = target.to_ascii();
    let host = text.strip_suffix('.').unwrap_or(&text).to_ascii_lowercase();
    let valid_label = |label: &str| !label.is_empty() && label.len() <= 63 && label.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if host.len() > 253 || !host.split('.').all(valid_label) {
        return Err(ResolveError::BadTarget(host.chars().take(80).collect()));
    }
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{CNAME, SRV, TXT};
    use hickory_proto::rr::Record;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn answer(id: u16, question: &str, records: Vec<Record>) -> Message {
        let mut message = Message::response(id, OpCode::Query);
        message.add_query(Query::query(name(question), RecordType::SRV));
        message.add_answers(records);
        message
    }

    fn srv(owner: &str, priority: u16, weight: u16, port: u16, target: &str) -> Record {
        Record::from_rdata(name(owner), 300, RData::SRV(SRV::new(priority, weight, port, name(target))))
    }

    const Q: &str = "_xmpp-client._tcp.example.org.";

    #[test]
    fn the_query_is_a_standard_srv_question() {
        let bytes = encode_query(0x1234, &name(Q)).unwrap();
        let decoded = Message::from_vec(&bytes).unwrap();
        assert_eq!(decoded.metadata.id, 0x1234);
        assert_eq!(decoded.metadata.message_type, MessageType::Query);
        assert!(decoded.metadata.recursion_desired);
        assert_eq!(decoded.queries.len(), 1);
        assert_eq!(decoded.queries[0].query_type(), RecordType::SRV);
        assert_eq!(decoded.queries[0].query_class(), DNSClass::IN);
        assert_eq!(decoded.queries[0].name(), &name(Q));
    }

    #[test]
    fn records_are_read() {
        let message = answer(7, Q, vec![
            srv(Q, 10, 5, 5222, "xmpp1.example.org."),
            srv(Q, 20, 0, 5269, "XMPP2.Example.org."),
            // Another name and another type are passed over.
            srv("_xmpp-server._tcp.example.org.", 1, 1, 5269, "s2s.example.org."),
            Record::from_rdata(name(Q), 300, RData::CNAME(CNAME(name("elsewhere.example.org.")))),
        ]);
        let parsed = parse_answer(7, &name(Q), &message.to_vec().unwrap()).unwrap();
        assert_eq!(
            parsed,
            SrvAnswer::Records(vec![
                SrvRecord { priority: 10, weight: 5, port: 5222, target: "xmpp1.example.org".into() },
                SrvRecord { priority: 20, weight: 0, port: 5269, target: "xmpp2.example.org".into() },
            ])
        );
    }

    #[test]
    fn no_record_no_name_and_no_service() {
        let empty = answer(1, Q, vec![]);
        assert_eq!(parse_answer(1, &name(Q), &empty.to_vec().unwrap()).unwrap(), SrvAnswer::None);
        let mut missing = answer(1, Q, vec![]);
        missing.metadata.response_code = ResponseCode::NXDomain;
        assert_eq!(parse_answer(1, &name(Q), &missing.to_vec().unwrap()).unwrap(), SrvAnswer::None);
        let dot = answer(1, Q, vec![srv(Q, 0, 0, 0, ".")]);
        assert_eq!(parse_answer(1, &name(Q), &dot.to_vec().unwrap()).unwrap(), SrvAnswer::NotOffered);
        let text = answer(1, Q, vec![Record::from_rdata(name(Q), 300, RData::TXT(TXT::new(vec!["x".into()])))]);
        assert_eq!(parse_answer(1, &name(Q), &text.to_vec().unwrap()).unwrap(), SrvAnswer::None);
    }

    #[test]
    fn hostile_answers_are_refused_in_words() {
        let good = answer(9, Q, vec![srv(Q, 1, 1, 5222, "xmpp.example.org.")]);
        let wrong_id = parse_answer(8, &name(Q), &good.to_vec().unwrap()).unwrap_err();
        assert!(matches!(wrong_id, ResolveError::Mismatch(_)), "{wrong_id}");
        let other_question = parse_answer(9, &name("_xmpps-client._tcp.example.org."), &good.to_vec().unwrap()).unwrap_err();
        assert!(matches!(other_question, ResolveError::Mismatch(_)), "{other_question}");
        let mut query = good.clone();
        query.metadata.message_type = MessageType::Query;
        assert!(matches!(parse_answer(9, &name(Q), &query.to_vec().unwrap()), Err(ResolveError::Mismatch(_))));
        let mut failed = good.clone();
        failed.metadata.response_code = ResponseCode::ServFail;
        assert!(matches!(parse_answer(9, &name(Q), &failed.to_vec().unwrap()), Err(ResolveError::ServerFailure(_))));
        let mut cut = good.clone();
        cut.metadata.truncation = true;
        assert!(matches!(parse_answer(9, &name(Q), &cut.to_vec().unwrap()), Err(ResolveError::Truncated)));
        let many = answer(9, Q, (0..(MAX_ANSWERS as u16 + 1)).map(|i| srv(Q, i, 1, 5222, "xmpp.example.org.")).collect());
        assert!(matches!(parse_answer(9, &name(Q), &many.to_vec().unwrap()), Err(ResolveError::TooManyRecords(_))));
        let srv_many = answer(9, Q, (0..(MAX_SRV_RECORDS as u16 + 1)).map(|i| srv(Q, i, 1, 5222, "xmpp.example.org.")).collect());
        assert!(matches!(parse_answer(9, &name(Q), &srv_many.to_vec().unwrap()), Err(ResolveError::TooManyRecords(_))));
        let mut spaced = Name::from_labels([&b"bad name"[..], b"example", b"org"]).unwrap();
        spaced.set_fqdn(true);
        let odd_target = answer(9, Q, vec![Record::from_rdata(name(Q), 300, RData::SRV(SRV::new(1, 1, 5222, spaced)))]);
        let error = parse_answer(9, &name(Q), &odd_target.to_vec().unwrap()).unwrap_err();
        assert!(matches!(error, ResolveError::BadTarget(_)), "{error}");
        assert!(matches!(parse_answer(9, &name(Q), &vec![0u8; MAX_RESPONSE_LEN + 1]), Err(ResolveError::TooLarge(_))));
    }

    /// Every prefix and every single-byte change of a real answer is
    /// either decoded or refused with an error; nothing panics.
    #[test]
    fn mangled_answers_never_panic() {
        let bytes = answer(3, Q, vec![srv(Q, 1, 1, 5222, "xmpp.example.org."), srv(Q, 2, 1, 5223, "other.example.org.")]).to_vec().unwrap();
        for end in 0..bytes.len() {
            let _ = parse_answer(3, &name(Q), &bytes[..end]);
        }
        for at in 0..bytes.len() {
            for value in [0x00, 0x01, 0x3f, 0xc0, 0xff] {
                let mut mangled = bytes.clone();
                mangled[at] = value;
                let _ = parse_answer(3, &name(Q), &mangled);
            }
        }
        // A compression pointer to itself.
        let mut looped = bytes[..12].to_vec();
        looped[4..6].copy_from_slice(&[0, 1]);
        looped.extend_from_slice(&[0xc0, 12, 0, 33, 0, 1]);
        assert!(parse_answer(3, &name(Q), &looped).is_err());
    }

    #[test]
    fn the_resolver_setting() {
        assert_eq!(resolver_from_environment(None).unwrap(), "9.9.9.9:53".parse().unwrap());
        assert_eq!(resolver_from_environment(Some("127.0.0.1:5353")).unwrap(), "127.0.0.1:5353".parse().unwrap());
        assert_eq!(resolver_from_environment(Some("[2620:fe::fe]:53")).unwrap(), "[2620:fe::fe]:53".parse().unwrap());
        for bad in ["dns.quad9.net:53", "9.9.9.9", "9.9.9.9:0", ""] {
            assert!(matches!(resolver_from_environment(Some(bad)), Err(ResolveError::BadResolverSetting(_))), "{bad}");
        }
    }

    /// A resolver that the dialer would reach outside Tor is never asked.
    #[tokio::test]
    async fn a_direct_resolver_is_refused() {
        let resolver: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let error = lookup_srv(&crate::dialer::LoopbackDialer, resolver, Q).await.unwrap_err();
        assert!(matches!(error, ResolveError::ResolverOutsideTor(_)), "{error}");
    }
}
