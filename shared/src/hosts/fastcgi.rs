//! FastCGI responder on the listening socket mod_fcgid passes as fd 0: a thread
//! per connection, one request at a time on each, every request run on the
//! process's tokio runtime, so pools and the warm cache live across requests
//! for the life of the process. A request's whole answer (STDOUT records and
//! END_REQUEST together) is written in one call.
//!
//! The protocol (FastCGI 1.0, responder role) is spoken here rather than
//! through the `fastcgi` crate, which decodes parameters as UTF-8 and silently
//! drops every parameter after the first one that is not: the é of
//! `User-Agent: caf\xe9` cost a request its `REQUEST_METHOD` (issue 12). Here
//! parameters stay bytes until [`meta_variables`] decodes them exactly as CGI's
//! environment is decoded.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;
use std::process::ExitCode;
use std::sync::Arc;

use crate::app::App;
use crate::http::{error_response, Response, MAX_BODY_BYTES};
use dash_store::error::AppError;
use dash_store::HostKind;

use super::cgi::{meta_variables, parse_request, serialize_response};

// Record types, roles, flags and statuses of the specification.
const BEGIN_REQUEST: u8 = 1;
const ABORT_REQUEST: u8 = 2;
const END_REQUEST: u8 = 3;
const PARAMS: u8 = 4;
const STDIN: u8 = 5;
const STDOUT: u8 = 6;
const GET_VALUES: u8 = 9;
const GET_VALUES_RESULT: u8 = 10;
const UNKNOWN_TYPE: u8 = 11;
const RESPONDER: u16 = 1;
const KEEP_CONN: u8 = 1;
const REQUEST_COMPLETE: u8 = 0;
const CANT_MPX_CONN: u8 = 1;
const UNKNOWN_ROLE: u8 = 3;
/// Management records (GET_VALUES) carry request id 0.
const MANAGEMENT: u16 = 0;

/// The most content one record carries.
const MAX_RECORD_CONTENT: usize = u16::MAX as usize;
/// More parameter bytes than any web server sends (Apache's header limits stop
/// far below it); refusing them bounds the memory one connection can take.
const MAX_PARAMS_BYTES: usize = 1024 * 1024;

pub fn run(app: Arc<App>) -> ExitCode {
    let rt = match super::runtime(HostKind::FastCgi) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // mod_fcgid's socket is a Unix one; FastCGI over TCP is not served.
    let listener = match std::io::stdin().as_fd().try_clone_to_owned() {
        Ok(fd) => UnixListener::from(fd),
        Err(e) => {
            tracing::error!(error = %e, "fd 0 cannot be used as the FastCGI socket");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(group = app.router().group, "serving FastCGI on fd 0");
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                ) =>
            {
                continue
            }
            Err(e) => {
                // mod_fcgid starts another process.
                tracing::error!(error = %e, "accepting FastCGI connections failed");
                return ExitCode::FAILURE;
            }
        };
        // A thread per connection, the request run on the process's
        // runtime. Serving on the accepting thread with a current-thread
        // runtime cut the system calls per request from 47.6 to 9.7, but
        // under FcgidMaxRequestsPerProcess 50 (fault check c) it gave socket
        // errors and answers of 3–7 s; it is reverted until that is
        // understood (ARCHITECTURE.md, issue 16).
        let app = app.clone();
        let handle = rt.handle().clone();
        std::thread::spawn(move || {
            let respond = |vars: &HashMap<String, String>, body: &mut dyn Read| {
                let parsed = parse_request(vars, |declared| read_body(body, declared));
                match parsed {
                    Ok(request) => handle.block_on(app.handle(request)),
                    Err(err) => error_response(&err),
                }
            };
            if let Err(e) = serve_connection(&stream, &stream, respond) {
                tracing::warn!(error = %e, "FastCGI connection dropped");
            }
        });
    }
}

/// FastCGI marks the end of the body with an empty record, so unlike CGI we can
/// read to the end and compare with the declared length.
fn read_body(stdin: &mut dyn Read, declared: usize) -> Result<Vec<u8>, AppError> {
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

/// Serves the requests of one connection, one after the other, until the web
/// server closes it or did not ask to keep it. `respond` gets a request's CGI
/// meta-variables and its body.
fn serve_connection(
    input: impl Read,
    output: impl Write,
    respond: impl Fn(&HashMap<String, String>, &mut dyn Read) -> Response,
) -> io::Result<()> {
    let mut conn = Connection::new(input, output);
    while let Some(begin) = conn.next_begin()? {
        if begin.role != RESPONDER {
            conn.end_request(begin.id, UNKNOWN_ROLE)?;
        } else if let Some(params) = conn.read_params(begin.id)? {
            let vars = meta_variables(name_value_pairs(&params)?);
            let mut body = Stdin::new(&mut conn, begin.id);
            let response = respond(&vars, &mut body);
            // Whatever the handler left unread, so the next record is in step.
            if !body.drain()? {
                conn.write_stream(STDOUT, begin.id, &serialize_response(&response))?;
            }
            conn.end_request(begin.id, REQUEST_COMPLETE)?;
        } else {
            // Aborted before its parameters were complete.
            conn.end_request(begin.id, REQUEST_COMPLETE)?;
        }
        if !begin.keep_conn {
            break;
        }
    }
    Ok(())
}

struct Record {
    kind: u8,
    request_id: u16,
    content: Vec<u8>,
}

struct Begin {
    id: u16,
    role: u16,
    keep_conn: bool,
}

/// Records read through a buffer; records written are gathered in `pending`
/// and go out in one `write` when a request ends or a management record is
/// answered ([`Connection::flush`]).
struct Connection<R, W: Write> {
    input: BufReader<R>,
    output: W,
    pending: Vec<u8>,
}

impl<R: Read, W: Write> Connection<R, W> {
    fn new(input: R, output: W) -> Self {
        Connection {
            // Apache's parameters for a request fit in one read.
            input: BufReader::with_capacity(16 * 1024, input),
            output,
            pending: Vec::with_capacity(16 * 1024),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let written = self.output.write_all(&self.pending);
        self.pending.clear();
        written?;
        self.output.flush()
    }

    /// The next record; `None` when the web server closed the connection
    /// between records.
    fn read_record(&mut self) -> io::Result<Option<Record>> {
        if self.input.fill_buf()?.is_empty() {
            return Ok(None);
        }
        let mut header = [0u8; 8];
        self.input.read_exact(&mut header)?;
        if header[0] != 1 {
            return Err(invalid_data("not a FastCGI version 1 record"));
        }
        let content_len = usize::from(u16::from_be_bytes([header[4], header[5]]));
        let padding_len = usize::from(header[6]);
        let mut content = vec![0; content_len + padding_len];
        self.input.read_exact(&mut content)?;
        content.truncate(content_len);
        Ok(Some(Record {
            kind: header[1],
            request_id: u16::from_be_bytes([header[2], header[3]]),
            content,
        }))
    }

    /// Answers a management record; `false` when the record is not one.
    fn answer_management(&mut self, record: &Record) -> io::Result<bool> {
        if record.request_id != MANAGEMENT {
            return Ok(false);
        }
        if record.kind == GET_VALUES {
            // Only one variable is ours to tell: no multiplexing.
            let mut answer = Vec::new();
            for (name, _) in name_value_pairs(&record.content)? {
                if name == b"FCGI_MPXS_CONNS" {
                    push_pair(&mut answer, name, b"0");
                }
            }
            self.write_record(GET_VALUES_RESULT, MANAGEMENT, &answer)?;
        } else {
            self.write_record(
                UNKNOWN_TYPE,
                MANAGEMENT,
                &[record.kind, 0, 0, 0, 0, 0, 0, 0],
            )?;
        }
        self.flush()?;
        Ok(true)
    }

    /// Waits for the next request; `None` when the connection ends first.
    fn next_begin(&mut self) -> io::Result<Option<Begin>> {
        while let Some(record) = self.read_record()? {
            if self.answer_management(&record)? {
                continue;
            }
            // Anything else belongs to a request that is over.
            if record.kind == BEGIN_REQUEST {
                let body = record
                    .content
                    .get(..3)
                    .ok_or_else(|| cut_short("BEGIN_REQUEST"))?;
                return Ok(Some(Begin {
                    id: record.request_id,
                    role: u16::from_be_bytes([body[0], body[1]]),
                    keep_conn: body[2] & KEEP_CONN != 0,
                }));
            }
        }
        Ok(None)
    }

    /// The next record of request `id`. mod_fcgid sends one request at a time
    /// per connection; another one begun meanwhile is refused.
    fn next_of(&mut self, id: u16) -> io::Result<Record> {
        loop {
            let record = self
                .read_record()?
                .ok_or_else(|| cut_short("the connection, within a request"))?;
            if self.answer_management(&record)? {
                continue;
            }
            if record.request_id == id {
                return Ok(record);
            }
            if record.kind == BEGIN_REQUEST {
                self.end_request(record.request_id, CANT_MPX_CONN)?;
            }
        }
    }

    /// The parameter stream of request `id`; `None` when the request is
    /// aborted before it ends.
    fn read_params(&mut self, id: u16) -> io::Result<Option<Vec<u8>>> {
        let mut params = Vec::new();
        loop {
            let record = self.next_of(id)?;
            match record.kind {
                PARAMS if record.content.is_empty() => return Ok(Some(params)),
                PARAMS if params.len() + record.content.len() > MAX_PARAMS_BYTES => {
                    return Err(invalid_data("the FastCGI parameters are too large"))
                }
                PARAMS => params.extend_from_slice(&record.content),
                ABORT_REQUEST => return Ok(None),
                _ => {}
            }
        }
    }

    fn write_record(&mut self, kind: u8, id: u16, content: &[u8]) -> io::Result<()> {
        let len = u16::try_from(content.len()).map_err(|_| invalid_data("record too long"))?;
        let [id_hi, id_lo] = id.to_be_bytes();
        let [len_hi, len_lo] = len.to_be_bytes();
        self.pending
            .extend_from_slice(&[1, kind, id_hi, id_lo, len_hi, len_lo, 0, 0]);
        self.pending.extend_from_slice(content);
        Ok(())
    }

    /// A whole stream: the data in records, then the empty record that ends it.
    fn write_stream(&mut self, kind: u8, id: u16, data: &[u8]) -> io::Result<()> {
        for chunk in data.chunks(MAX_RECORD_CONTENT) {
            self.write_record(kind, id, chunk)?;
        }
        self.write_record(kind, id, &[])
    }

    fn end_request(&mut self, id: u16, protocol_status: u8) -> io::Result<()> {
        // Application status 0, then the protocol status.
        self.write_record(END_REQUEST, id, &[0, 0, 0, 0, protocol_status, 0, 0, 0])?;
        self.flush()
    }
}

/// The body of one request, read from its STDIN records as the handler asks.
struct Stdin<'c, R, W: Write> {
    conn: &'c mut Connection<R, W>,
    id: u16,
    chunk: Vec<u8>,
    read: usize,
    ended: bool,
    aborted: bool,
}

impl<'c, R: Read, W: Write> Stdin<'c, R, W> {
    fn new(conn: &'c mut Connection<R, W>, id: u16) -> Self {
        Stdin {
            conn,
            id,
            chunk: Vec::new(),
            read: 0,
            ended: false,
            aborted: false,
        }
    }

    /// Reads the rest of the body; `true` when the web server aborted the
    /// request (it then wants no answer but END_REQUEST).
    fn drain(&mut self) -> io::Result<bool> {
        match io::copy(self, &mut io::sink()) {
            Ok(_) => Ok(false),
            Err(_) if self.aborted => Ok(true),
            Err(e) => Err(e),
        }
    }
}

impl<R: Read, W: Write> Read for Stdin<'_, R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.read == self.chunk.len() {
            if self.aborted {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the web server aborted the request",
                ));
            }
            if self.ended {
                return Ok(0);
            }
            let record = self.conn.next_of(self.id)?;
            match record.kind {
                STDIN if record.content.is_empty() => self.ended = true,
                STDIN => {
                    self.chunk = record.content;
                    self.read = 0;
                }
                ABORT_REQUEST => self.aborted = true,
                _ => {}
            }
        }
        let n = buf.len().min(self.chunk.len() - self.read);
        buf[..n].copy_from_slice(&self.chunk[self.read..self.read + n]);
        self.read += n;
        Ok(n)
    }
}

/// The name-value pairs of a PARAMS stream or a GET_VALUES record, as bytes.
/// A pair cut short is an error, never a shorter list.
fn name_value_pairs(mut rest: &[u8]) -> io::Result<Vec<(&[u8], &[u8])>> {
    let mut pairs = Vec::new();
    while !rest.is_empty() {
        let name_len = take_length(&mut rest)?;
        let value_len = take_length(&mut rest)?;
        if rest.len() < name_len + value_len {
            return Err(cut_short("a FastCGI parameter"));
        }
        let (name, tail) = rest.split_at(name_len);
        let (value, tail) = tail.split_at(value_len);
        pairs.push((name, value));
        rest = tail;
    }
    Ok(pairs)
}

/// A length of a name-value pair: one byte below 128, else four with the top
/// bit set.
fn take_length(rest: &mut &[u8]) -> io::Result<usize> {
    let (length, tail) = match **rest {
        [short, ref tail @ ..] if short < 0x80 => (usize::from(short), tail),
        [b0, b1, b2, b3, ref tail @ ..] => {
            (u32::from_be_bytes([b0 & 0x7f, b1, b2, b3]) as usize, tail)
        }
        _ => return Err(cut_short("a FastCGI parameter length")),
    };
    *rest = tail;
    Ok(length)
}

/// Appends a name-value pair in the encoding [`name_value_pairs`] reads.
fn push_pair(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    for len in [name.len(), value.len()] {
        match u8::try_from(len) {
            Ok(short) if short < 0x80 => out.push(short),
            _ => out.extend_from_slice(&(len as u32 | 0x8000_0000).to_be_bytes()),
        }
    }
    out.extend_from_slice(name);
    out.extend_from_slice(value);
}

fn invalid_data(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

fn cut_short(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, format!("{what} is cut short"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::http::StatusCode;
    use serde_json::{json, Value};

    fn record(kind: u8, id: u16, content: &[u8]) -> Vec<u8> {
        let mut out = vec![1, kind];
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&u16::try_from(content.len()).unwrap().to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(content);
        out
    }

    fn begin(id: u16, role: u16, keep_conn: bool) -> Vec<u8> {
        let [hi, lo] = role.to_be_bytes();
        record(
            BEGIN_REQUEST,
            id,
            &[hi, lo, u8::from(keep_conn), 0, 0, 0, 0, 0],
        )
    }

    fn params(id: u16, pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut encoded = Vec::new();
        for (name, value) in pairs {
            push_pair(&mut encoded, name, value);
        }
        let mut out = record(PARAMS, id, &encoded);
        out.extend(record(PARAMS, id, &[]));
        out
    }

    /// A whole request as a web server sends it; the body in one STDIN record.
    fn request(id: u16, keep_conn: bool, pairs: &[(&[u8], &[u8])], body: &[u8]) -> Vec<u8> {
        let mut out = begin(id, RESPONDER, keep_conn);
        out.extend(params(id, pairs));
        if !body.is_empty() {
            out.extend(record(STDIN, id, body));
        }
        out.extend(record(STDIN, id, &[]));
        out
    }

    const GET: [(&[u8], &[u8]); 2] = [(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"/x")];

    /// Answers with what it was given: the meta-variables and the body.
    fn echo(vars: &HashMap<String, String>, body: &mut dyn Read) -> Response {
        let mut text = Vec::new();
        let read = body.read_to_end(&mut text);
        crate::http::json(
            StatusCode::OK,
            &json!({
                "vars": vars,
                "body": String::from_utf8_lossy(&text),
                "body_error": read.is_err(),
            }),
        )
    }

    /// Serves `input` with `respond` and returns the records written back.
    fn serve(
        input: &[u8],
        respond: impl Fn(&HashMap<String, String>, &mut dyn Read) -> Response,
    ) -> (io::Result<()>, Vec<Record>) {
        let mut output = Vec::new();
        let outcome = serve_connection(input, &mut output, respond);
        let mut back = Connection::new(&output[..], io::sink());
        let mut records = Vec::new();
        while let Some(record) = back.read_record().expect("well-formed records") {
            records.push(record);
        }
        (outcome, records)
    }

    /// The JSON body of the CGI response in request `id`'s STDOUT stream.
    fn answer(records: &[Record], id: u16) -> Value {
        let stdout: Vec<u8> = records
            .iter()
            .filter(|r| r.kind == STDOUT && r.request_id == id)
            .flat_map(|r| r.content.iter().copied())
            .collect();
        let text = String::from_utf8(stdout).expect("UTF-8");
        let (head, body) = text.split_once("\r\n\r\n").expect("CGI head");
        assert!(head.starts_with("Status: 200 OK"), "{head}");
        serde_json::from_str(body).expect("JSON")
    }

    fn end_status(records: &[Record], id: u16) -> Option<u8> {
        records
            .iter()
            .find(|r| r.kind == END_REQUEST && r.request_id == id)
            .map(|r| r.content[4])
    }

    #[test]
    fn parameters_that_are_not_utf8_are_read_lossily_and_none_is_lost() {
        let input = request(
            1,
            false,
            &[
                (b"HTTP_USER_AGENT", b"caf\xe9"),
                (b"REQUEST_METHOD", b"POST"),
                (b"HTTP_\xff", b"dropped"),
                (b"REQUEST_URI", b"/x"),
            ],
            b"{}",
        );
        let (outcome, records) = serve(&input, echo);
        outcome.expect("served");
        let answer = answer(&records, 1);
        assert_eq!(answer["vars"]["HTTP_USER_AGENT"], "caf\u{fffd}");
        assert_eq!(answer["vars"]["REQUEST_METHOD"], "POST");
        assert_eq!(answer["vars"]["REQUEST_URI"], "/x");
        assert_eq!(answer["vars"].as_object().map(|v| v.len()), Some(3));
        assert_eq!(answer["body"], "{}");
        assert_eq!(end_status(&records, 1), Some(REQUEST_COMPLETE));
    }

    #[test]
    fn a_kept_connection_serves_requests_one_after_the_other() {
        let mut input = request(1, true, &GET, b"");
        input.extend(begin(2, RESPONDER, false));
        input.extend(params(2, &GET));
        input.extend(record(STDIN, 2, b"ab"));
        input.extend(record(STDIN, 2, b"c"));
        input.extend(record(STDIN, 2, &[]));
        // Not asked to keep the connection after request 2: this is never read.
        input.extend(request(3, false, &GET, b""));
        let (outcome, records) = serve(&input, echo);
        outcome.expect("served");
        assert_eq!(answer(&records, 1)["body"], "");
        assert_eq!(answer(&records, 2)["body"], "abc");
        assert_eq!(end_status(&records, 2), Some(REQUEST_COMPLETE));
        assert_eq!(end_status(&records, 3), None);
    }

    #[test]
    fn long_values_and_answers_cross_the_record_limits() {
        let long_value = vec![b'v'; 300];
        let pairs = [GET[0], GET[1], (&b"HTTP_X_LONG"[..], &long_value[..])];
        let big = "x".repeat(200_000);
        let (outcome, records) = serve(&request(1, false, &pairs, b""), |vars, _| {
            assert_eq!(vars["HTTP_X_LONG"].len(), 300);
            crate::http::json(StatusCode::OK, &json!({ "big": big }))
        });
        outcome.expect("served");
        let stdout: Vec<&Record> = records.iter().filter(|r| r.kind == STDOUT).collect();
        assert!(stdout.len() >= 4, "{} records", stdout.len());
        assert!(stdout.iter().all(|r| r.content.len() <= MAX_RECORD_CONTENT));
        assert!(
            stdout.last().is_some_and(|r| r.content.is_empty()),
            "stream end"
        );
        assert_eq!(
            answer(&records, 1)["big"].as_str().map(str::len),
            Some(200_000)
        );
    }

    #[test]
    fn management_records_other_roles_and_a_second_request_are_answered() {
        let mut query = Vec::new();
        push_pair(&mut query, b"FCGI_MAX_CONNS", b"");
        push_pair(&mut query, b"FCGI_MPXS_CONNS", b"");
        let mut input = record(GET_VALUES, MANAGEMENT, &query);
        input.extend(record(99, MANAGEMENT, &[]));
        // The authorizer role is not ours.
        input.extend(begin(7, 2, true));
        input.extend(begin(1, RESPONDER, false));
        // Another request on the same connection while request 1 runs.
        input.extend(begin(2, RESPONDER, false));
        input.extend(params(1, &GET));
        input.extend(record(STDIN, 1, &[]));
        let (outcome, records) = serve(&input, echo);
        outcome.expect("served");

        let values = records
            .iter()
            .find(|r| r.kind == GET_VALUES_RESULT)
            .expect("GET_VALUES_RESULT");
        let pairs = name_value_pairs(&values.content).expect("pairs");
        assert_eq!(pairs, vec![(&b"FCGI_MPXS_CONNS"[..], &b"0"[..])]);
        assert!(records
            .iter()
            .any(|r| r.kind == UNKNOWN_TYPE && r.content[0] == 99));
        assert_eq!(end_status(&records, 7), Some(UNKNOWN_ROLE));
        assert_eq!(end_status(&records, 2), Some(CANT_MPX_CONN));
        assert_eq!(answer(&records, 1)["vars"]["REQUEST_METHOD"], "GET");
        assert_eq!(end_status(&records, 1), Some(REQUEST_COMPLETE));
    }

    #[test]
    fn an_aborted_request_gets_only_its_end() {
        let mut input = begin(1, RESPONDER, true);
        input.extend(params(1, &GET));
        input.extend(record(STDIN, 1, b"partial"));
        input.extend(record(ABORT_REQUEST, 1, &[]));
        // The connection goes on with the next request.
        input.extend(request(2, false, &GET, b"whole"));
        let (outcome, records) = serve(&input, echo);
        outcome.expect("served");
        assert!(!records
            .iter()
            .any(|r| r.kind == STDOUT && r.request_id == 1));
        assert_eq!(end_status(&records, 1), Some(REQUEST_COMPLETE));
        assert_eq!(answer(&records, 2)["body"], "whole");
    }

    #[test]
    fn parameters_cut_short_are_an_error_not_a_shorter_list() {
        let mut encoded = Vec::new();
        push_pair(&mut encoded, b"REQUEST_METHOD", b"GET");
        let first_pair = encoded.len();
        push_pair(&mut encoded, b"HTTP_X", &[b'v'; 200]);
        for cut in (1..encoded.len()).filter(|&cut| cut != first_pair) {
            assert!(name_value_pairs(&encoded[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(
            name_value_pairs(&encoded[..first_pair])
                .expect("one pair")
                .len(),
            1
        );
        assert_eq!(name_value_pairs(&encoded).expect("two pairs").len(), 2);

        let mut input = begin(1, RESPONDER, false);
        input.extend(record(PARAMS, 1, &encoded[..30]));
        input.extend(record(PARAMS, 1, &[]));
        input.extend(record(STDIN, 1, &[]));
        let (outcome, records) = serve(&input, echo);
        assert_eq!(
            outcome.expect_err("refused").kind(),
            io::ErrorKind::UnexpectedEof
        );
        assert!(records.is_empty());
    }

    /// A socket that records how many writes it was given.
    struct CountingWriter<'a> {
        calls: &'a std::cell::Cell<usize>,
        bytes: Vec<u8>,
    }

    impl Write for CountingWriter<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.calls.set(self.calls.get() + 1);
            self.bytes.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_whole_answer_is_one_write() {
        let calls = std::cell::Cell::new(0);
        let mut output = CountingWriter {
            calls: &calls,
            bytes: Vec::new(),
        };
        let big = "x".repeat(100_000);
        serve_connection(&request(1, false, &GET, b"")[..], &mut output, |_, _| {
            crate::http::json(StatusCode::OK, &json!({ "big": big }))
        })
        .expect("served");
        // Two STDOUT records of data, the empty one and END_REQUEST: one call.
        assert_eq!(calls.get(), 1);
        let mut back = Connection::new(&output.bytes[..], io::sink());
        let mut kinds = Vec::new();
        while let Some(record) = back.read_record().expect("well-formed records") {
            kinds.push(record.kind);
        }
        assert_eq!(kinds, vec![STDOUT, STDOUT, STDOUT, END_REQUEST]);
    }

    #[test]
    fn a_connection_that_ends_mid_request_is_an_error() {
        let mut input = begin(1, RESPONDER, false);
        input.extend(params(1, &GET));
        input.extend(record(STDIN, 1, b"no end"));
        let (outcome, records) = serve(&input, echo);
        // The handler saw a body it could not finish; nothing is answered to
        // a connection that is gone.
        assert!(outcome.is_err());
        assert!(records.iter().all(|r| r.kind != END_REQUEST));
    }
}
