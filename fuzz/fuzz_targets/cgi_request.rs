//! `shared::hosts::cgi::parse_request` + `read_exact_body` on an arbitrary CGI
//! environment and stdin: never a panic; either a request that matches what was
//! declared, or a 4xx error.
//!
//! Input: `KEY=VALUE` lines (raw bytes, any encoding) up to the first empty line, then
//! the body as the process would read it from stdin. The environment goes through
//! `cgi::vars_from_os`, as `cgi::run` does with the real one.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use libfuzzer_sys::fuzz_target;
use shared::hosts::cgi::{parse_request, read_exact_body, serialize_response, vars_from_os};
use shared::http::{error_response, MAX_BODY_BYTES};
use shared::params::Params;

fuzz_target!(|data: &[u8]| {
    let (env, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    let pairs = env
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| match line.iter().position(|&b| b == b'=') {
            Some(i) => (line[..i].to_vec(), line[i + 1..].to_vec()),
            None => (line.to_vec(), Vec::new()),
        })
        .map(|(k, v)| (OsString::from_vec(k), OsString::from_vec(v)));
    let vars = vars_from_os(pairs);

    let stdin = std::io::Cursor::new(body.to_vec());
    let mut declared = None;
    let parsed = parse_request(&vars, |len| {
        declared = Some(len);
        read_exact_body(stdin, len)
    });
    match parsed {
        Ok(req) => {
            let len = declared.expect("the body reader is called before a request is returned");
            assert!(len <= MAX_BODY_BYTES);
            assert_eq!(req.body.len(), len, "the body has the declared length");
            assert_eq!(&req.body[..], &body[..len]);
            assert!(!req.path.is_empty(), "a request always has a path");
            // What handlers do next with it.
            let _ = req.query_pairs();
            let _ = req.header("authorization");
            let _ = req.cookie("session");
            let _ = req.wants_csv();
            let _ = Params::from_query(&req);
            let _ = req.json::<serde_json::Value>();
        }
        Err(e) => {
            let status = e.status().as_u16();
            assert!(
                (400..500).contains(&status),
                "a malformed CGI request is a client error, got {status}: {e:?}"
            );
            let resp = error_response(&e);
            assert_eq!(resp.status(), e.status());
            let bytes = serialize_response(&resp);
            assert!(bytes.starts_with(format!("Status: {status} ").as_bytes()));
        }
    }
});
