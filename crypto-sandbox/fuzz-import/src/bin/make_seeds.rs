//! Writes seeds/importers/: for each source, its fixture files (tests/fixtures/import/) joined in
//! the order of its wanted files (see src/lib.rs), and a few variations; and seeds/TARGET/ for
//! each per-importer target: the same seeds of its own source.
use std::path::Path;

use crypto_sandbox::import::Source;
use import_fuzz::{join, names, TARGETS};

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
    // The Adium files with the XML Accounts.plist in place of the binary one.
    let mut adium_xml: Vec<Vec<u8>> = names(Source::Adium).iter().map(|name| std::fs::read(fixtures.join("adium").join(name)).unwrap_or_default()).collect();
    adium_xml[0] = std::fs::read(fixtures.join("adium-xml/Accounts.plist")).unwrap();
    std::fs::write(out.join("adium-xml"), join(0, &adium_xml)).unwrap();

    for (source, target) in TARGETS {
        let own = here.join("seeds").join(target);
        std::fs::create_dir_all(&own).unwrap();
        let prefix = dirs.iter().find(|(known, _)| *known == source).map(|(_, dir)| *dir).unwrap();
        for entry in std::fs::read_dir(&out).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            if name == prefix || name.starts_with(&format!("{prefix}-")) {
                std::fs::copy(entry.path(), own.join(&name)).unwrap();
            }
        }
    }
}
