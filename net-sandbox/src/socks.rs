//! A SOCKS5 client (RFC 1928) with username/password authentication
//! (RFC 1929), for the system Tor's SOCKS port.
//!
//! - Names go to the proxy as names (ATYP 0x03), so Tor resolves them and no
//!   DNS query ever leaves this computer outside Tor; address literals go as
//!   addresses (0x01, 0x04).
//! - The greeting offers username/password only (0x02): Tor isolates streams
//!   by their SOCKS credentials (`IsolateSOCKSAuth`, on by default), and
//!   each connection attempt gets fresh random ones, so every account and
//!   every attempt gets its own circuit. "No authentication" is never
//!   offered; a server that picks it anyway is refused.
//! - Every byte of the replies is checked, every read is bounded by the
//!   protocol's own lengths, and the caller bounds the whole exchange in time.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub const METHOD_NO_AUTH: u8 = 0x00;
pub const METHOD_USERNAME: u8 = 0x02;
const NO_ACCEPTABLE_METHOD: u8 = 0xFF;
const VERSION: u8 = 0x05;
const AUTH_VERSION: u8 = 0x01;
const CONNECT: u8 = 0x01;
const ATYP_IPV4: u8 = 0x01;
const ATYP_NAME: u8 = 0x03;
const ATYP_IPV6: u8 = 0x04;

/// Which authentication methods the greeting offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// Username/password alone: the only choice that keeps Tor's isolation.
    UsernameOnly,
    /// Username/password first, then none: only for the unit tests' check
    /// that the choice is refused when not offered.
    #[cfg(test)]
    UsernameOrNone,
}

impl Offer {
    pub fn methods(self) -> &'static [u8] {
        match self {
            Offer::UsernameOnly => &[METHOD_USERNAME],
            #[cfg(test)]
            Offer::UsernameOrNone => &[METHOD_USERNAME, METHOD_NO_AUTH],
        }
    }
}

/// Random SOCKS credentials for one connection attempt: 16 random bytes
/// each, in hex. They mean nothing but "a circuit of its own".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl Credentials {
    pub fn random() -> Result<Self, SocksError> {
        Ok(Credentials { username: random_hex()?, password: random_hex()? })
    }
}

fn random_hex() -> Result<String, SocksError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|error| SocksError::Random(error.to_string()))?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Which authentication the server chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authenticated {
    UsernamePassword,
    /// The server picked "no authentication": Tor would not isolate this
    /// stream by credentials.
    None,
}

#[derive(Debug, thiserror::Error)]
pub enum SocksError {
    #[error("the connection to the SOCKS server broke: {0}")]
    Io(#[from] std::io::Error),
    #[error("the SOCKS server answered as version {0}, not SOCKS 5 (is it really Tor's SOCKS port?)")]
    NotSocks5(u8),
    #[error("the SOCKS server accepts none of the ways Burrow offered to authenticate")]
    NoAcceptableMethod,
    #[error("the SOCKS server chose an authentication method Burrow did not offer ({0:#04x})")]
    UnofferedMethod(u8),
    #[error("the SOCKS server answered the username and password with an unknown version ({0})")]
    BadAuthVersion(u8),
    #[error("the SOCKS server refused Burrow's username and password (status {0}); Tor accepts any, so this is not Tor")]
    AuthRefused(u8),
    #[error("Tor could not connect ({meaning}, SOCKS code {code:#04x})")]
    Refused { code: u8, meaning: &'static str },
    #[error("the SOCKS server's reply is malformed: {0}")]
    Malformed(&'static str),
    #[error("{0:?} is not a host name that can be sent through SOCKS")]
    BadName(String),
    #[error("the kernel gave no random numbers for the SOCKS credentials: {0}")]
    Random(String),
}

/// What a reply code means, in plain words: RFC 1928 §6, and Tor's extended
/// errors for onion services (proposal 304, `ExtendedErrors`).
pub fn reply_meaning(code: u8) -> &'static str {
    match code {
        0x01 => "general failure of the SOCKS server",
        0x02 => "the connection is not allowed by the proxy's rules",
        0x03 => "the network is unreachable",
        0x04 => "the host is unreachable, or its name could not be resolved",
        0x05 => "the server refused the connection",
        0x06 => "the connection timed out",
        0x07 => "the proxy does not support the connect command",
        0x08 => "the proxy does not support this kind of address",
        0xF0 => "the onion service's descriptor cannot be found",
        0xF1 => "the onion service's descriptor is invalid",
        0xF2 => "the introduction to the onion service failed",
        0xF3 => "the rendezvous with the onion service failed",
        0xF4 => "the onion service requires client authorization",
        0xF5 => "the onion service refused the client authorization",
        0xF6 => "the onion address is invalid",
        0xF7 => "the introduction to the onion service timed out",
        _ => "an error code the SOCKS protocol does not define",
    }
}

/// The address part of a CONNECT request: a literal, or the name itself.
fn encode_target(host: &str, port: u16, request: &mut Vec<u8>) -> Result<(), SocksError> {
    let literal = host.strip_prefix('[').and_then(|inner| inner.strip_suffix(']')).unwrap_or(host);
    match literal.parse::<IpAddr>() {
        Ok(IpAddr::V4(address)) => {
            request.push(ATYP_IPV4);
            request.extend_from_slice(&address.octets());
        }
        Ok(IpAddr::V6(address)) => {
            request.push(ATYP_IPV6);
            request.extend_from_slice(&address.octets());
        }
        Err(_) => {
            let bytes = host.as_bytes();
            let printable = bytes.iter().all(|byte| byte.is_ascii_graphic());
            let length = u8::try_from(bytes.len()).ok().filter(|length| *length > 0 && printable);
            let Some(length) = length else {
                return Err(SocksError::BadName(host.to_owned()));
            };
            request.push(ATYP_NAME);
            request.push(length);
            request.extend_from_slice(bytes);
        }
    }
    request.extend_from_slice(&port.to_be_bytes());
    Ok(())
}

/// Asks the SOCKS server on `stream` to connect to `host` and `port`.
/// On success the stream carries the connection. The caller bounds it in
/// time.
pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    host: &str,
    port: u16,
    credentials: &Credentials,
    offer: Offer,
) -> Result<Authenticated, SocksError> {
    // Check what can be checked before a byte is sent.
    let mut request = vec![VERSION, CONNECT, 0x00];
    encode_target(host, port, &mut request)?;
    let methods = offer.methods();
    let mut greeting = vec![VERSION, methods.len() as u8];
    greeting.extend_from_slice(methods);
    stream.write_all(&greeting).await?;
    stream.flush().await?;

    let mut choice = [0u8; 2];
    stream.read_exact(&mut choice).await?;
    if choice[0] != VERSION {
        return Err(SocksError::NotSocks5(choice[0]));
    }
    let authenticated = match choice[1] {
        NO_ACCEPTABLE_METHOD => return Err(SocksError::NoAcceptableMethod),
        method if !methods.contains(&method) => return Err(SocksError::UnofferedMethod(method)),
        METHOD_USERNAME => {
            authenticate(stream, credentials).await?;
            Authenticated::UsernamePassword
        }
        _ => Authenticated::None,
    };

    stream.write_all(&request).await?;
    stream.flush().await?;
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).await?;
    if header[0] != VERSION {
        return Err(SocksError::NotSocks5(header[0]));
    }
    if header[1] != 0x00 {
        return Err(SocksError::Refused { code: header[1], meaning: reply_meaning(header[1]) });
    }
    if header[2] != 0x00 {
        return Err(SocksError::Malformed("the reserved byte is not zero"));
    }
    // The bound address: read and dropped (Tor sends zeros; nothing of it is
    // used), but only as many bytes as its type allows.
    let length = match header[3] {
        ATYP_IPV4 => Ipv4Addr::UNSPECIFIED.octets().len(),
        ATYP_IPV6 => Ipv6Addr::UNSPECIFIED.octets().len(),
        ATYP_NAME => {
            let mut length = [0u8; 1];
            stream.read_exact(&mut length).await?;
            if length[0] == 0 {
                return Err(SocksError::Malformed("an empty bound name"));
            }
            usize::from(length[0])
        }
        _ => return Err(SocksError::Malformed("an unknown address type")),
    };
    let mut bound = [0u8; 255 + 2];
    let Some(bound) = bound.get_mut(..length + 2) else {
        return Err(SocksError::Malformed("a bound address too long"));
    };
    stream.read_exact(bound).await?;
    Ok(authenticated)
}

/// RFC 1929 §2.
async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, credentials: &Credentials) -> Result<(), SocksError> {
    let mut message = vec![AUTH_VERSION];
    for field in [&credentials.username, &credentials.password] {
        let length = u8::try_from(field.len()).ok().filter(|length| *length > 0).ok_or(SocksError::Malformed("credentials of a length SOCKS cannot carry"))?;
        message.push(length);
        message.extend_from_slice(field.as_bytes());
    }
    stream.write_all(&message).await?;
    stream.flush().await?;
    let mut answer = [0u8; 2];
    stream.read_exact(&mut answer).await?;
    if answer[0] != AUTH_VERSION {
        return Err(SocksError::BadAuthVersion(answer[0]));
    }
    if answer[1] != 0x00 {
        return Err(SocksError::AuthRefused(answer[1]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{duplex, DuplexStream};

    /// What a SOCKS server in a test saw, byte by byte.
    #[derive(Debug, Default)]
    struct Seen {
        greeting: Vec<u8>,
        auth: Vec<u8>,
        request: Vec<u8>,
    }

    /// A SOCKS5 server that records what the client sends and answers with
    /// the given method choice and reply (raw bytes, to send malformed ones).
    async fn serve(mut server: DuplexStream, choice: Vec<u8>, reply: Vec<u8>) -> Seen {
        let mut seen = Seen::default();
        let mut head = [0u8; 2];
        if server.read_exact(&mut head).await.is_err() {
            return seen;
        }
        let mut methods = vec![0u8; usize::from(head[1])];
        server.read_exact(&mut methods).await.unwrap();
        seen.greeting = [head.to_vec(), methods].concat();
        server.write_all(&choice).await.unwrap();
        if choice.first() != Some(&VERSION) {
            return seen;
        }
        if choice.get(1) == Some(&METHOD_USERNAME) {
            let mut version_and_length = [0u8; 2];
            server.read_exact(&mut version_and_length).await.unwrap();
            let mut user = vec![0u8; usize::from(version_and_length[1])];
            server.read_exact(&mut user).await.unwrap();
            let mut password_length = [0u8; 1];
            server.read_exact(&mut password_length).await.unwrap();
            let mut password = vec![0u8; usize::from(password_length[0])];
            server.read_exact(&mut password).await.unwrap();
            seen.auth = [version_and_length.to_vec(), user, password_length.to_vec(), password].concat();
            server.write_all(&[0x01, 0x00]).await.unwrap();
        }
        if choice.get(1).is_some_and(|method| *method == METHOD_USERNAME || *method == METHOD_NO_AUTH) {
            let mut fixed = [0u8; 4];
            if server.read_exact(&mut fixed).await.is_err() {
                return seen;
            }
            let rest = match fixed[3] {
                ATYP_IPV4 => 4 + 2,
                ATYP_IPV6 => 16 + 2,
                _ => {
                    let mut length = [0u8; 1];
                    server.read_exact(&mut length).await.unwrap();
                    seen.request.push(length[0]);
                    usize::from(length[0]) + 2
                }
            };
            let mut address = vec![0u8; rest];
            server.read_exact(&mut address).await.unwrap();
            seen.request = [fixed.to_vec(), seen.request.clone(), address].concat();
            server.write_all(&reply).await.unwrap();
        }
        seen
    }

    const SUCCESS: [u8; 10] = [5, 0, 0, 1, 0, 0, 0, 0, 0, 0];

    async fn exchange(host: &str, port: u16, offer: Offer, choice: &[u8], reply: &[u8]) -> (Result<Authenticated, SocksError>, Seen, Credentials) {
        let (mut client, server) = duplex(4096);
        let server = tokio::spawn(serve(server, choice.to_vec(), reply.to_vec()));
        let credentials = Credentials::random().unwrap();
        let result = connect(&mut client, host, port, &credentials, offer).await;
        drop(client);
        (result, server.await.unwrap(), credentials)
    }

    #[tokio::test]
    async fn a_name_goes_as_a_name_with_credentials() {
        let (result, seen, credentials) = exchange("chat.example.org", 5222, Offer::UsernameOnly, &[5, 2], &SUCCESS).await;
        assert_eq!(result.unwrap(), Authenticated::UsernamePassword);
        // Only username/password is offered.
        assert_eq!(seen.greeting, [5, 1, 2]);
        let mut auth = vec![1, 32];
        auth.extend_from_slice(credentials.username.as_bytes());
        auth.push(32);
        auth.extend_from_slice(credentials.password.as_bytes());
        assert_eq!(seen.auth, auth);
        let mut request = vec![5, 1, 0, 3, 16];
        request.extend_from_slice(b"chat.example.org");
        request.extend_from_slice(&5222u16.to_be_bytes());
        assert_eq!(seen.request, request);
    }

    #[tokio::test]
    async fn literals_go_as_addresses() {
        let (result, seen, _) = exchange("127.0.0.1", 5223, Offer::UsernameOnly, &[5, 2], &SUCCESS).await;
        result.unwrap();
        assert_eq!(seen.request, [5, 1, 0, 1, 127, 0, 0, 1, 0x14, 0x67]);
        let (result, seen, _) = exchange("[::1]", 1, Offer::UsernameOnly, &[5, 2], &[5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).await;
        result.unwrap();
        let mut request = vec![5, 1, 0, 4];
        request.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        request.extend_from_slice(&[0, 1]);
        assert_eq!(seen.request, request);
    }

    #[tokio::test]
    async fn each_attempt_has_its_own_credentials() {
        let (_, first, _) = exchange("a.example", 5222, Offer::UsernameOnly, &[5, 2], &SUCCESS).await;
        let (_, second, _) = exchange("a.example", 5222, Offer::UsernameOnly, &[5, 2], &SUCCESS).await;
        assert_eq!(first.auth.len(), 2 + 32 + 1 + 32);
        assert_ne!(first.auth, second.auth);
        assert_ne!(first.auth[2..34], first.auth[35..], "user and password differ");
    }

    #[tokio::test]
    async fn no_auth_only_when_offered() {
        let (result, seen, _) = exchange("a.example", 5222, Offer::UsernameOrNone, &[5, 0], &SUCCESS).await;
        assert_eq!(seen.greeting, [5, 2, 2, 0]);
        assert_eq!(result.unwrap(), Authenticated::None);
        assert!(seen.auth.is_empty());
        // Not offered: a server that picks it anyway is refused before any request.
        let (result, seen, _) = exchange("a.example", 5222, Offer::UsernameOnly, &[5, 0], &SUCCESS).await;
        assert!(matches!(result, Err(SocksError::UnofferedMethod(0))), "{result:?}");
        assert!(seen.request.is_empty());
        let (result, _, _) = exchange("a.example", 5222, Offer::UsernameOnly, &[5, 0xFF], &SUCCESS).await;
        assert!(matches!(result, Err(SocksError::NoAcceptableMethod)));
        assert_eq!(result.unwrap_err().to_string(), "the SOCKS server accepts none of the ways Burrow offered to authenticate");
    }

    #[tokio::test]
    async fn refusals_say_why() {
        for (code, words) in [(0x04, "host is unreachable"), (0x05, "refused the connection"), (0xF2, "introduction to the onion service failed"), (0x42, "does not define")] {
            let (result, _, _) = exchange("a.example", 5222, Offer::UsernameOnly, &[5, 2], &[5, code, 0, 1, 0, 0, 0, 0, 0, 0]).await;
            let error = result.unwrap_err();
            assert!(matches!(error, SocksError::Refused { code: got, .. } if got == code));
            assert!(error.to_string().contains(words), "{error}");
        }
    }

    #[tokio::test]
    async fn malformed_replies_are_refused() {
        let cases: [(&[u8], &[u8], &str); 6] = [
            (&[4, 2], &SUCCESS, "version 4"),
            (&[5, 2], &[4, 0, 0, 1, 0, 0, 0, 0, 0, 0], "version 4"),
            (&[5, 2], &[5, 0, 1, 1, 0, 0, 0, 0, 0, 0], "reserved byte"),
            (&[5, 2], &[5, 0, 0, 9, 0, 0, 0, 0, 0, 0], "unknown address type"),
            (&[5, 2], &[5, 0, 0, 3, 0, 0, 0], "empty bound name"),
            // Cut short in the middle of the bound address.
            (&[5, 2], &[5, 0, 0, 1, 0, 0], "broke"),
        ];
        for (choice, reply, words) in cases {
            let (result, _, _) = exchange("a.example", 5222, Offer::UsernameOnly, choice, reply).await;
            let error = result.unwrap_err();
            assert!(error.to_string().contains(words), "{words}: {error}");
        }
        // A bound name is read exactly, no further.
        let mut reply = vec![5, 0, 0, 3, 3];
        reply.extend_from_slice(b"abc\x00\x01");
        let (result, _, _) = exchange("a.example", 5222, Offer::UsernameOnly, &[5, 2], &reply).await;
        result.unwrap();
    }

    #[tokio::test]
    async fn refused_credentials_and_bad_names() {
        let (mut client, mut server) = duplex(1024);
        let task = tokio::spawn(async move {
            let mut buffer = [0u8; 3 + 2 + 32 + 1 + 32];
            server.read_exact(&mut buffer[..3]).await.unwrap();
            server.write_all(&[5, 2]).await.unwrap();
            server.read_exact(&mut buffer[3..]).await.unwrap();
            server.write_all(&[1, 1]).await.unwrap();
        });
        let result = connect(&mut client, "a.example", 1, &Credentials::random().unwrap(), Offer::UsernameOnly).await;
        task.await.unwrap();
        assert!(matches!(result, Err(SocksError::AuthRefused(1))), "{result:?}");
        for name in ["", "a b", "tab\there", &"a".repeat(256)] {
            let (mut client, _server) = duplex(1024);
            let result = connect(&mut client, name, 1, &Credentials::random().unwrap(), Offer::UsernameOnly).await;
            assert!(matches!(result, Err(SocksError::BadName(_))), "{name:?}");
        }
    }
}
