//! The IPC thread: the broker's channel, on a runtime of its own.

use std::os::fd::OwnedFd;

use ipc::ui::{FromUi, ToUi};
use ipc::{handshake, Channel, ChannelError, ConfinementReport, Role};
use tokio::sync::mpsc;

pub enum Inbound {
    Broker(ToUi),
    /// The broker closed the channel (`None`), or it failed.
    Ended(Option<String>),
}

pub fn serve(socket: OwnedFd, report: ConfinementReport, outbound: mpsc::Receiver<FromUi>, inbound: mpsc::Sender<Inbound>) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = inbound.blocking_send(Inbound::Ended(Some(error.to_string())));
            return;
        }
    };
    let result = runtime.block_on(relay(socket, report, outbound, inbound.clone()));
    runtime.shutdown_background();
    let _ = inbound.blocking_send(Inbound::Ended(result.err()));
}

async fn relay(
    socket: OwnedFd,
    report: ConfinementReport,
    mut outbound: mpsc::Receiver<FromUi>,
    inbound: mpsc::Sender<Inbound>,
) -> Result<(), String> {
    let (mut reader, mut writer) = Channel::new(socket).map_err(|error| error.to_string())?.split();
    handshake::answer_broker(&mut reader, &mut writer, Role::Ui, report).await.map_err(|error| error.to_string())?;
    loop {
        tokio::select! {
            request = outbound.recv() => match request {
                Some(request) => writer.send(&request).await.map_err(|error| error.to_string())?,
                // The window is gone and has sent its Quit.
                None => return Ok(()),
            },
            message = reader.recv::<ToUi>() => match message {
                Ok(message) => {
                    if inbound.send(Inbound::Broker(message)).await.is_err() {
                        return Ok(());
                    }
                }
                Err(ChannelError::Closed) => return Ok(()),
                Err(error) => return Err(error.to_string()),
            },
        }
    }
}
