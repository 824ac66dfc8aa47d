//! Writes seeds/importers/: for each source, its fixture files (tests/fixtures/import/) joined in
//! the order of its wanted files (see src/lib.rs), and a few variations.
use std::path::Path;

use crypto_sandbox::import::Source;
use import_fuzz::{join, names};

fn main() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fixtures = here.join("../tests/fixtures/import");
    let out = here.join("seeds/importers");
    std::fs::create_dir_all(&out).unwrap();
    let dirs = [
        (Source::Pidgin, "pidgin"),
        (Source::Adium, "adium"),
        (Source::Gajim, "gajim"),
        (Source::XmppClient, "xmpp-client"),
        (Source::Coyim, "coyim"),
    ];
    for (source, dir) in dirs {
        let parts: Vec<Vec<u8>> = names(source)
            .iter()
            .map(|name| {
                let name = if source == Source::XmppClient { ".xmpp-client".to_string() } else { name.clone() };
                std::fs::read(fixtures.join(dir).join(&name)).unwrap_or_default()
            })
            .collect();
        std::fs::write(out.join(format!("{dir}")), join(0, &parts)).unwrap();
        std::fs::write(out.join(format!("{dir}-passphrase")), join(1, &parts)).unwrap();
        // Each file alone in first place, for the importers whose first wanted file it is not.
        for (index, part) in parts.iter().enumerate().skip(1) {
            std::fs::write(out.join(format!("{dir}-part{index}")), join(0, &[part.clone()])).unwrap();
        }
    }
    // The CoyIM encrypted file where the plain one usually goes second.
    let enc = std::fs::read(fixtures.join("coyim/accounts.json.enc")).unwrap();
    std::fs::write(out.join("coyim-enc-only"), join(1, &[Vec::new(), enc])).unwrap();
}
