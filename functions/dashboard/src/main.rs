//! The `dashboard` function: builds its router from the library and hands it to the
//! host adapter (Lambda, FastCGI or CGI, detected at start).

fn main() -> std::process::ExitCode {
    shared::hosts::run(shared::api::dashboard::router())
}
