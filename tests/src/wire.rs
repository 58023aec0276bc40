//! A TCP proxy in front of MariaDB that counts the commands clients send: the
//! database round trips of a process, seen from outside it.
//!
//! The client/server protocol numbers the packets of each exchange; a client
//! packet with sequence id 0 starts a new command (`COM_QUERY`,
//! `COM_STMT_EXECUTE`, `COM_PING`, `COM_RESET_CONNECTION`, …), and each command
//! is one round trip. The handshake answer (sequence id 1) is not counted.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub struct CommandCounter {
    pub port: u16,
    commands: Arc<AtomicUsize>,
}

impl CommandCounter {
    /// Listens on a free loopback port and forwards to `target` (`host:port`).
    pub fn start(target: &str) -> CommandCounter {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind counting proxy");
        let port = listener.local_addr().expect("addr").port();
        let commands = Arc::new(AtomicUsize::new(0));
        let (counted, target) = (commands.clone(), target.to_string());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let (Ok(client_in), Ok(server_out)) = (client.try_clone(), server.try_clone())
                else {
                    continue;
                };
                let counted = counted.clone();
                std::thread::spawn(move || count_commands(client_in, server_out, &counted));
                std::thread::spawn(move || {
                    let (mut from, mut to) = (server, client);
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(Shutdown::Write);
                });
            }
        });
        CommandCounter { port, commands }
    }

    /// The commands sent so far through every connection.
    pub fn commands(&self) -> usize {
        self.commands.load(Ordering::SeqCst)
    }

    /// The `mysql://` URL of the proxy for user `user` (no password).
    pub fn url(&self, user: &str) -> String {
        format!("mysql://{user}@127.0.0.1:{}", self.port)
    }
}

/// Copies the client's packets to the server whole, counting those that
/// start a command.
fn count_commands(mut from: TcpStream, mut to: TcpStream, commands: &AtomicUsize) {
    let mut header = [0u8; 4];
    while from.read_exact(&mut header).is_ok() {
        let len =
            usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
        let mut payload = vec![0; len];
        if from.read_exact(&mut payload).is_err() {
            break;
        }
        if header[3] == 0 {
            commands.fetch_add(1, Ordering::SeqCst);
        }
        if to.write_all(&header).is_err() || to.write_all(&payload).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
