//! CGI/1.1: the request from the environment and stdin, the response to stdout
//! with a `Status:` line. Also the wire format FastCGI uses for its stdout.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ::http::header::{HeaderName, HeaderValue};
use ::http::{HeaderMap, Method};
use bytes::Bytes;

use crate::app::App;
use crate::http::{error_response, Request, Response, MAX_BODY_BYTES};
use dash_store::error::AppError;
use dash_store::HostKind;

/// Decodes CGI meta-variables, the same way for every host that has them: the
/// process environment under CGI ([`vars_from_os`]), the parameter records
/// under FastCGI. The web server passes header values on as the client sent
/// them, which need not be UTF-8 (`User-Agent: caf\xe9`): values are read
/// lossily (U+FFFD), and a variable whose name is not UTF-8, which names no
/// header we read, is skipped. Nothing else is lost.
pub fn meta_variables<N: AsRef<[u8]>, V: AsRef<[u8]>>(
    pairs: impl IntoIterator<Item = (N, V)>,
) -> HashMap<String, String> {
    pairs
        .into_iter()
        .filter_map(|(name, value)| {
            let name = std::str::from_utf8(name.as_ref()).ok()?;
            let value = String::from_utf8_lossy(value.as_ref()).into_owned();
            Some((name.to_owned(), value))
        })
        .collect()
}

/// The CGI meta-variables of the process environment, decoded by
/// [`meta_variables`] (`std::env::vars` would panic on a value that is not UTF-8
/// and kill the process before it answers).
pub fn vars_from_os(
    vars: impl IntoIterator<Item = (OsString, OsString)>,
) -> HashMap<String, String> {
    meta_variables(
        vars.into_iter()
            .map(|(name, value)| (name.into_vec(), value.into_vec())),
    )
}

/// Builds a [`Request`] from CGI meta-variables. `read_body` is called with the
/// declared length once the headers have been checked, so an oversized body is
/// refused before it is read.
pub fn parse_request(
    vars: &HashMap<String, String>,
    read_body: impl FnOnce(usize) -> Result<Vec<u8>, AppError>,
) -> Result<Request, AppError> {
    let method = vars
        .get("REQUEST_METHOD")
        .filter(|m| !m.is_empty())
        .ok_or_else(|| AppError::bad_request("REQUEST_METHOD is missing"))?;
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| AppError::bad_request("REQUEST_METHOD is not a valid method"))?;

    let content_length = match vars.get("CONTENT_LENGTH").map(|v| v.trim()) {
        None | Some("") => 0,
        Some(v) => v.parse::<usize>().map_err(|_| AppError::BadRequest {
            message: "Content-Length is not a whole number".into(),
            field: Some("Content-Length".into()),
        })?,
    };
    if content_length > MAX_BODY_BYTES {
        return Err(AppError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }

    // REQUEST_URI keeps the path the client asked for, whatever rewrite led here.
    let (path, query) = match vars.get("REQUEST_URI").filter(|u| !u.is_empty()) {
        Some(uri) => match uri.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (
                uri.clone(),
                vars.get("QUERY_STRING").cloned().unwrap_or_default(),
            ),
        },
        None => (
            format!(
                "{}{}",
                vars.get("SCRIPT_NAME").map(String::as_str).unwrap_or(""),
                vars.get("PATH_INFO").map(String::as_str).unwrap_or("")
            ),
            vars.get("QUERY_STRING").cloned().unwrap_or_default(),
        ),
    };
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path
    };

    let mut headers = HeaderMap::new();
    for (key, value) in vars {
        let name = if let Some(rest) = key.strip_prefix("HTTP_") {
            rest.to_ascii_lowercase().replace('_', "-")
        } else {
            match key.as_str() {
                "CONTENT_TYPE" => "content-type".into(),
                "REDIRECT_HTTP_AUTHORIZATION" => "authorization".into(),
                _ => continue,
            }
        };
        if name == "authorization" && headers.contains_key("authorization") {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
    // HTTP_AUTHORIZATION wins over the REDIRECT_ copy when both exist.
    if let Some(v) = vars
        .get("HTTP_AUTHORIZATION")
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        headers.insert(::http::header::AUTHORIZATION, v);
    }

    let body = read_body(content_length)?;
    let is_https = vars
        .get("HTTPS")
        .map(|v| v.eq_ignore_ascii_case("on") || v == "1")
        .unwrap_or(false)
        || headers
            .get("x-forwarded-proto")
            .map(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
            .unwrap_or(false);

    Ok(Request {
        method,
        path,
        query,
        headers,
        body: Bytes::from(body),
        remote_addr: vars.get("REMOTE_ADDR").cloned(),
        is_https,
        path_params: Vec::new(),
    })
}

/// Reads exactly `len` bytes; fewer is a client error, and so is more (checked
/// with a short wait, since a web server may keep the pipe open).
pub fn read_exact_body(
    mut input: impl Read + Send + 'static,
    len: usize,
) -> Result<Vec<u8>, AppError> {
    let mut body = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        match input.read(&mut body[filled..]) {
            Ok(0) => {
                return Err(AppError::bad_request(format!(
                    "the body is shorter than Content-Length ({filled} of {len} bytes arrived)"
                )))
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Err(AppError::bad_request("the request body could not be read")),
        }
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut one = [0u8; 1];
        let extra = matches!(input.read(&mut one), Ok(n) if n > 0);
        let _ = tx.send(extra);
    });
    if let Ok(true) = rx.recv_timeout(Duration::from_millis(25)) {
        return Err(AppError::bad_request(
            "the body is longer than Content-Length",
        ));
    }
    Ok(body)
}

/// The CGI response bytes: `Status:` line, headers, blank line, body.
pub fn serialize_response(resp: &Response) -> Vec<u8> {
    let mut out = Vec::with_capacity(resp.body().len() + 512);
    let status = resp.status();
    out.extend_from_slice(
        format!(
            "Status: {} {}\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .as_bytes(),
    );
    for (name, value) in resp.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !resp.headers().contains_key(::http::header::CONTENT_LENGTH) {
        out.extend_from_slice(format!("content-length: {}\r\n", resp.body().len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(resp.body());
    out
}

/// How much of a refused body we read and discard before answering.
const DRAIN_LIMIT: u64 = 8 * 1024 * 1024;

/// Serves the one request of this process.
pub fn run(app: Arc<App>) -> ExitCode {
    let vars = vars_from_os(std::env::vars_os());
    let response = match super::runtime(HostKind::Cgi) {
        Ok(rt) => {
            let parsed = parse_request(&vars, |len| read_exact_body(std::io::stdin(), len));
            let resp = match parsed {
                Ok(req) => rt.block_on(app.handle(req)),
                Err(err) => {
                    // An oversized body is still on its way: read it (bounded),
                    // or Apache sees a broken pipe and the client a reset
                    // instead of the 413.
                    if matches!(err, AppError::PayloadTooLarge { .. }) {
                        let _ = std::io::copy(
                            &mut std::io::stdin().lock().take(DRAIN_LIMIT),
                            &mut std::io::sink(),
                        );
                    }
                    error_response(&err)
                }
            };
            // Close the connection politely: MySQL counts dropped ones as aborted.
            if let Some(state) = app.state() {
                rt.block_on(state.db().clone().disconnect());
            }
            resp
        }
        Err(e) => error_response(&AppError::internal(e)),
    };
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(&serialize_response(&response))
        .and_then(|_| stdout.flush());
    if written.is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn no_body(_: usize) -> Result<Vec<u8>, AppError> {
        Ok(Vec::new())
    }

    #[test]
    fn builds_request_from_env() {
        let v = vars(&[
            ("REQUEST_METHOD", "POST"),
            ("REQUEST_URI", "/api/v1/auth/login?x=1"),
            ("SCRIPT_NAME", "/cgi-bin/auth"),
            ("CONTENT_TYPE", "application/json"),
            ("CONTENT_LENGTH", "2"),
            ("REDIRECT_HTTP_AUTHORIZATION", "Bearer abc"),
            ("HTTP_X_FORWARDED_PROTO", "https"),
            ("REMOTE_ADDR", "10.0.0.1"),
        ]);
        let req = parse_request(&v, |n| Ok(vec![b'{'; n])).unwrap();
        assert_eq!(req.method, Method::POST);
        assert_eq!(req.path, "/api/v1/auth/login");
        assert_eq!(req.query, "x=1");
        assert_eq!(req.header("authorization"), Some("Bearer abc"));
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert!(req.is_https);
        assert_eq!(req.body.len(), 2);
    }

    #[test]
    fn falls_back_to_script_name_and_path_info() {
        let v = vars(&[
            ("REQUEST_METHOD", "GET"),
            ("SCRIPT_NAME", "/api/v1/production"),
            ("PATH_INFO", "/health"),
            ("QUERY_STRING", "a=b"),
        ]);
        let req = parse_request(&v, no_body).unwrap();
        assert_eq!(req.path, "/api/v1/production/health");
        assert_eq!(req.query, "a=b");
    }

    #[test]
    fn broken_input_is_a_client_error() {
        let e = parse_request(&vars(&[]), no_body).unwrap_err();
        assert_eq!(e.status(), 400);
        let e = parse_request(
            &vars(&[("REQUEST_METHOD", "POST"), ("CONTENT_LENGTH", "abc")]),
            no_body,
        )
        .unwrap_err();
        assert_eq!(e.status(), 400);
        let e = parse_request(
            &vars(&[("REQUEST_METHOD", "POST"), ("CONTENT_LENGTH", "2097152")]),
            no_body,
        )
        .unwrap_err();
        assert_eq!(e.status(), 413);
    }

    #[test]
    fn non_utf8_environment_values_are_read_lossily() {
        let os = |b: &[u8]| OsString::from_vec(b.to_vec());
        let v = vars_from_os([
            (os(b"REQUEST_METHOD"), os(b"GET")),
            (os(b"HTTP_X_NAME"), os(b"caf\xe9")),
            (os(b"HTTP_\xff"), os(b"x")),
        ]);
        assert_eq!(v.len(), 2);
        assert_eq!(v["HTTP_X_NAME"], "caf\u{fffd}");
        assert_eq!(parse_request(&v, no_body).unwrap().method, Method::GET);
    }

    #[test]
    fn body_shorter_or_longer_than_declared() {
        let short = std::io::Cursor::new(b"abc".to_vec());
        assert_eq!(read_exact_body(short, 10).unwrap_err().status(), 400);
        let long = std::io::Cursor::new(b"abcdef".to_vec());
        assert_eq!(read_exact_body(long, 3).unwrap_err().status(), 400);
        let exact = std::io::Cursor::new(b"abc".to_vec());
        assert_eq!(read_exact_body(exact, 3).unwrap(), b"abc");
    }

    #[test]
    fn serializes_status_headers_and_body() {
        let resp = crate::http::json(::http::StatusCode::NOT_FOUND, &serde_json::json!({"a": 1}));
        let bytes = serialize_response(&resp);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("Status: 404 Not Found\r\n"));
        assert!(text.contains("content-type: application/json\r\n"));
        assert!(text.ends_with("\r\n\r\n{\"a\":1}"));
    }
}
