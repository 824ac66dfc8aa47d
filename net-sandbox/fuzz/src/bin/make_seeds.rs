//! Writes the seed corpus for the `xml_stream` fuzz target: real server streams (Prosody and
//! ejabberd as they send them) and the hostile inputs the reader must refuse, each behind the
//! two header bytes of src/lib.rs. Rerun after changing the input layout:
//!
//!     cd net-sandbox/fuzz && cargo run --bin make_seeds
//!
//! (stable is fine; the fuzz target itself needs nightly).

use std::fs;
use std::path::Path;

use net_sandbox_fuzz::{encode, PENDING_FIRST, TIGHT_LIMITS};

const PROSODY_HEADER: &str = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' \
    xml:lang='en' id='b8d3e1a2-5f7c-4a5e-9d1b-3c2f1e0a9b8c' from='example.org' version='1.0' \
    xmlns:stream='http://etherx.jabber.org/streams'>";

const EJABBERD_HEADER: &str = "<?xml version='1.0'?><stream:stream id='6304729842133211536' \
    version='1.0' xml:lang='en' xmlns='jabber:client' \
    xmlns:stream='http://etherx.jabber.org/streams' from='example.net'>";

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/xml_stream");
    fs::create_dir_all(&dir).expect("create seeds/xml_stream");

    let prosody_starttls = format!(
        "{PROSODY_HEADER}<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>\
         <required/></starttls></stream:features><proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
    );
    let prosody_sasl = format!(
        "{PROSODY_HEADER}<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
         <mechanism>SCRAM-SHA-1-PLUS</mechanism><mechanism>SCRAM-SHA-1</mechanism>\
         <mechanism>PLAIN</mechanism></mechanisms><c xmlns='http://jabber.org/protocol/caps' \
         hash='sha-1' node='http://prosody.im' ver='Xb8zWnSBMgEqCrn7Z9fD3xGhZTc='/>\
         </stream:features><challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
         cj1meWtvK2QybGJiRmdPTlJ2OXFreGRhd0wzcmZjTkhZSlkxWlZ2V1ZzN2oscz1RU1hDUitRNnNlazhiZjkyLGk9NDA5Ng==\
         </challenge><success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\
         dj1ybUY5cHFWOFM3c3VBb1pXamE0ZEpSa0ZzS1E9</success>"
    );
    let ejabberd_session = format!(
        "{EJABBERD_HEADER}<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>\
         <session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session>\
         <c xmlns='http://jabber.org/protocol/caps' hash='sha-1' \
         node='http://www.process-one.net/en/ejabberd/' ver='kBpZ0sRQfNrbfaTkOHHzsR/8ehY='/>\
         <sm xmlns='urn:xmpp:sm:2'/><sm xmlns='urn:xmpp:sm:3'/><csi xmlns='urn:xmpp:csi:0'/>\
         </stream:features>\n\
         <iq id='bind_1' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>\
         <jid>romeo@example.net/orchard</jid></bind></iq> \
         <iq id='roster_1' type='result' to='romeo@example.net/orchard'>\
         <query xmlns='jabber:iq:roster' ver='ver14'><item jid='juliet@example.com' \
         name='Juliet &amp; co' subscription='both'><group>Friends</group></item>\
         <item jid='mercutio@example.com' subscription='from'/></query></iq>\r\n\
         <presence from='juliet@example.com/balcony' to='romeo@example.net/orchard' xml:lang='en'>\
         <show>away</show><status>be right back &lt;3</status><priority>1</priority>\
         <c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://conversations.im' \
         ver='9Fz4WbFHpF0bA8zBdY1vS3lWdK0='/></presence>\t\
         <message from='juliet@example.com/balcony' to='romeo@example.net/orchard' type='chat' \
         id='ktx72v49' xml:lang='en'><body>Art thou not Romeo, &amp; a &quot;Montague&quot;? \
         &#x1F339;&#233;<![CDATA[<3 & more]]></body><active xmlns='http://jabber.org/protocol/chatstates'/>\
         <request xmlns='urn:xmpp:receipts'/><origin-id xmlns='urn:xmpp:sid:0' id='5f1e'/></message>\
         <r xmlns='urn:xmpp:sm:3'/>  </stream:stream>"
    );
    let pubsub_xhtml = format!(
        "{PROSODY_HEADER}<message from='pubsub.example.org' to='romeo@example.net' id='p1'>\
         <event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:xmpp:microblog:0'>\
         <item id='i1'><entry xmlns='http://www.w3.org/2005/Atom'><title type='text'>Hi</title>\
         </entry></item></items></event><html xmlns='http://jabber.org/protocol/xhtml-im'>\
         <b:body xmlns:b='http://www.w3.org/1999/xhtml'><b:p style='font-weight:bold'>x\r\ny</b:p>\
         <b:br/></b:body></html><x:delay xmlns:x='urn:xmpp:delay' stamp='2002-09-10T23:08:25Z' \
         from='example.org'/></message></stream:stream>"
    );
    let stream_error = format!(
        "{EJABBERD_HEADER}<stream:error><policy-violation \
         xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text \
         xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>Too many &apos;stanzas&apos;\
         </text></stream:error></stream:stream>"
    );
    let bom_and_refs = format!(
        "\u{FEFF}<?xml version='1.0' encoding='UTF-8'?>\n{}<m a='&#9;&#10;&#13;&lt;&gt;&amp;&quot;&apos;' \
         b='tab\there\r\nnext'>&#0065;&#x41;\r\n</m><stream:stream-not/><empty xmlns=''/></stream:stream>",
        &PROSODY_HEADER[21..]
    );
    let billion_laughs = format!(
        "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol \"lol\">\
         <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>{}\
         <message><body>&lol2;</body></message>",
        &PROSODY_HEADER[21..]
    );
    let hostile = format!(
        "{PROSODY_HEADER}<!-- c --><?pi?><m>&nbsp;&#1;</m><a><b><c><d><e><f><g/></f></e></d></c></b></a>\
         <p:x xmlns:p='urn:p' p:y='1' q:z='2'/>"
    );

    let seeds: [(&str, u8, u8, &str); 14] = [
        ("prosody_starttls", 0x07, 0, &prosody_starttls),
        ("prosody_starttls_bytewise", 0x00, PENDING_FIRST, &prosody_starttls),
        ("prosody_sasl", 0x35, 0, &prosody_sasl),
        ("prosody_sasl_tight", 0x07, TIGHT_LIMITS, &prosody_sasl),
        ("ejabberd_session", 0x06, 0, &ejabberd_session),
        ("ejabberd_session_pending", 0x8b, PENDING_FIRST, &ejabberd_session),
        ("ejabberd_session_tight", 0x43, TIGHT_LIMITS | PENDING_FIRST, &ejabberd_session),
        ("pubsub_xhtml", 0x05, 0, &pubsub_xhtml),
        ("stream_error", 0x02, 0, &stream_error),
        ("bom_and_refs", 0x01, 0, &bom_and_refs),
        ("billion_laughs", 0x07, 0, &billion_laughs),
        ("hostile", 0x04, 0, &hostile),
        ("hostile_tight", 0x04, TIGHT_LIMITS, &hostile),
        ("empty_root", 0x07, 0, "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>"),
    ];
    for (name, split, flags, stream) in seeds {
        fs::write(dir.join(name), encode(split, flags, stream.as_bytes())).expect("write seed");
    }
    println!("wrote {} seeds to {}", seeds.len(), dir.display());
}
