//! Host adapters: the same [`App`] served on AWS Lambda, under mod_fcgid
//! (FastCGI) or as a CGI program, chosen at start from the environment:
//!
//! 1. `AWS_LAMBDA_RUNTIME_API` set → Lambda (`lambda_http`);
//! 2. `GATEWAY_INTERFACE` set → CGI (one request from env + stdin);
//! 3. fd 0 is a socket → FastCGI (mod_fcgid passes only `PATH`, so this is the
//!    signal; it is the listening Unix socket mod_fcgid made).
//!
//! The CGI check comes before the socket check because mod_cgid hands the CGI
//! process a socket as stdin too.
//!
//! CGI and FastCGI receive the request as CGI meta-variables, whose header
//! values may hold any byte; both decode them with [`cgi::meta_variables`].
//! Lambda's events are JSON, text by construction.

pub mod cgi;
pub mod fastcgi;
pub mod lambda;

use std::os::unix::fs::FileTypeExt;
use std::sync::Arc;

use crate::app::App;
use crate::config::{self, Config};
use crate::router::Router;
use crate::state::AppState;
use dash_store::HostKind;

/// Detects the host from the environment.
pub fn detect() -> Option<HostKind> {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        Some(HostKind::Lambda)
    } else if std::env::var_os("GATEWAY_INTERFACE").is_some() {
        Some(HostKind::Cgi)
    } else if stdin_is_socket() {
        Some(HostKind::FastCgi)
    } else {
        None
    }
}

fn stdin_is_socket() -> bool {
    use std::os::fd::AsFd;
    std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata())
        .map(|m| m.file_type().is_socket())
        .unwrap_or(false)
}

/// Builds the process state for a host; configuration errors are kept so that
/// every request can answer them instead of the process dying silently.
pub fn build_app(router: Router, host: HostKind) -> Arc<App> {
    config::load_env_file();
    let state = Config::from_env()
        .map_err(|e| e.to_string())
        .and_then(|config| {
            crate::telemetry::init(config.log_format);
            AppState::new(router.group, host, config).map_err(|e| e.to_string())
        });
    if state.is_err() {
        crate::telemetry::init(config::LogFormat::Text);
    }
    crate::telemetry::install_panic_hook();
    App::new(router, state)
}

/// The entry point of every HTTP binary. Returns the process exit code.
pub fn run(router: Router) -> std::process::ExitCode {
    match detect() {
        Some(HostKind::Lambda) => lambda::run(build_app(router, HostKind::Lambda)),
        Some(HostKind::Cgi) => cgi::run(build_app(router, HostKind::Cgi)),
        Some(HostKind::FastCgi) => fastcgi::run(build_app(router, HostKind::FastCgi)),
        Some(HostKind::Cli) | None => {
            eprintln!(
                "{group}: this program is served by a web server or AWS Lambda.\n\
                 Run it as a CGI program (GATEWAY_INTERFACE set), under mod_fcgid \
                 (a listening socket on stdin), or on Lambda (AWS_LAMBDA_RUNTIME_API set).",
                group = router.group
            );
            std::process::ExitCode::from(2)
        }
    }
}

/// A runtime for one host: CGI serves one request on the current thread; the
/// long-lived hosts (FastCGI, whose connection threads `block_on` it, and
/// Lambda) get a small multi-threaded runtime.
pub fn runtime(host: HostKind) -> std::io::Result<tokio::runtime::Runtime> {
    match host {
        HostKind::Cgi | HostKind::Cli => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        HostKind::FastCgi | HostKind::Lambda => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
    }
}
