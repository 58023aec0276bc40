//! FastCGI responder on the listening socket mod_fcgid passes as fd 0. The
//! `fastcgi` crate is synchronous (a thread per connection), so each request
//! blocks on the shared tokio runtime: pools and the warm cache live across
//! requests for the life of the process.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::Arc;

use crate::app::App;
use crate::error::AppError;
use crate::http::{error_response, MAX_BODY_BYTES};
use crate::state::HostKind;

use super::cgi::{parse_request, serialize_response};

pub fn run(app: Arc<App>) -> ExitCode {
    let rt = match super::runtime(HostKind::FastCgi) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let handle = rt.handle().clone();
    tracing::info!(group = app.router().group, "serving FastCGI on fd 0");
    fastcgi::run(move |mut req| {
        let vars: HashMap<String, String> = req.params().collect();
        let parsed = {
            let stdin = &mut req.stdin();
            parse_request(&vars, |declared| read_body(stdin, declared))
        };
        let response = match parsed {
            Ok(request) => handle.block_on(app.handle(request)),
            Err(err) => error_response(&err),
        };
        // Leave nothing unread on the connection, whatever the outcome.
        let _ = std::io::copy(&mut req.stdin(), &mut std::io::sink());
        let _ = req.stdout().write_all(&serialize_response(&response));
    });
    // `fastcgi::run` only returns if accepting fails.
    drop(rt);
    ExitCode::FAILURE
}

/// FastCGI marks the end of the body with an empty record, so unlike CGI we can
/// read to the end and compare with the declared length.
fn read_body(stdin: &mut impl Read, declared: usize) -> Result<Vec<u8>, AppError> {
    let mut body = Vec::with_capacity(declared);
    stdin
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|_| AppError::bad_request("the request body could not be read"))?;
    match body.len() {
        n if n > MAX_BODY_BYTES => Err(AppError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        }),
        n if n < declared => Err(AppError::bad_request(format!(
            "the body is shorter than Content-Length ({n} of {declared} bytes arrived)"
        ))),
        n if n > declared => Err(AppError::bad_request(
            "the body is longer than Content-Length",
        )),
        _ => Ok(body),
    }
}
