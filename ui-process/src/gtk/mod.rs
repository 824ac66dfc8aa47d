//! The GTK4 front end. GTK owns the main thread; all IPC runs on a thread of
//! its own (`bridge`), so a slow broker can never freeze the window. The two
//! meet through bounded channels: the main loop awaits the broker's messages
//! as a future on GLib's main context and hands requests over with
//! `try_send`, which never blocks.

mod account_form;
mod app;
mod bench;
mod bridge;
mod conversation;
mod store_dialogs;
mod register_form;
mod store_page;
mod trust;
mod widgets;

use gtk4 as gtk;
use gtk4::glib;

use ipc::ConfinementReport;

/// How many broker messages may wait for the main loop. A peer that floods
/// fills it and then waits in the broker, not in our memory.
const INBOUND_QUEUE: usize = 256;
/// How many requests may wait for the IPC thread.
const OUTBOUND_QUEUE: usize = 64;

pub fn run(report: ConfinementReport, first_run: bool) -> confine::child::ServeResult {
    // Cairo draws without a GPU device node and without the shader cache
    // that Landlock denies it (the GL renderer would recompile its shaders at
    // every start, +32 MB; see shared/refs/gtk4-confinement-notes.md).
    std::env::set_var("GSK_RENDERER", "cairo");
    let socket = confine::sys::take_ipc_socket()?;
    let (inbound, mut from_broker) = tokio::sync::mpsc::channel(INBOUND_QUEUE);
    let (to_broker, outbound) = tokio::sync::mpsc::channel(OUTBOUND_QUEUE);
    let ipc_thread = std::thread::Builder::new()
        .name("burrow-ipc".into())
        .spawn(move || bridge::serve(socket, report, outbound, inbound))?;
    // Burrow's strings in the language of LANGUAGE/LC_ALL/LC_MESSAGES/LANG,
    // chosen before the first is made; GTK's own follow its setlocale.
    if let Err(problem) = crate::i18n::follow_environment() {
        eprintln!("burrow-ui: {problem}; showing English");
    }
    glib::set_prgname(Some("burrow"));
    glib::set_application_name("Burrow");
    gtk::init().map_err(|error| format!("cannot open the display: {error}"))?;
    let main_loop = glib::MainLoop::new(None, false);
    let app = app::App::build(to_broker, first_run);
    let ended = main_loop.clone();
    glib::spawn_future_local(async move {
        // Outside tokio's cooperative budget (128 operations a poll): in one
        // run of bench/gtk-ui.sh the window stopped taking the broker's
        // messages after about that many, during a login's burst of
        // presences, and the wake-up that should have followed never came.
        while let Some(event) = tokio::task::unconstrained(from_broker.recv()).await {
            match event {
                bridge::Inbound::Broker(message) => app.handle(message),
                bridge::Inbound::Ended(problem) => {
                    if let Some(problem) = problem {
                        eprintln!("burrow-ui: the connection to the broker failed: {problem}");
                    }
                    break;
                }
            }
        }
        app.close();
        ended.quit();
    });
    main_loop.run();
    // The bridge ends once the broker closes the channel, which it does
    // right after the window's Quit; a bridge that panicked has said so.
    let _ = ipc_thread.join();
    Ok(())
}
