//! The `downtime` function: builds its router from its own library (src/lib.rs) and hands it to the
//! host adapter (Lambda, FastCGI or CGI, detected at start).

fn main() -> std::process::ExitCode {
    shared::hosts::run(downtime::router())
}
