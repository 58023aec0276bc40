//! The three real hosts, driven from tests: a binary run as a CGI program the
//! way Apache runs it, as a FastCGI application on a listening socket (what
//! mod_fcgid does) spoken to by Debian's independent `cgi-fcgi` client, and
//! under a Lambda Runtime API server that speaks the protocol the way AWS does.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Where the release binaries are (`DASHBOARD_BIN_DIR`, else `target/release`).
pub fn bin_dir() -> PathBuf {
    match std::env::var_os("DASHBOARD_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("target")
            .join("release"),
    }
}

pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the release binaries first (cargo build --release --workspace)",
        path.display()
    );
    path
}

/// The HTTP groups, each a binary with a `/api/v1/<group>/health` route.
pub const HTTP_GROUPS: [&str; 6] = [
    "auth",
    "production",
    "data",
    "downtime",
    "metrics",
    "dashboard",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    pub status: u16,
    /// Lower-cased names, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Headers that legitimately differ between hosts are dropped for comparisons.
    pub fn comparable(&self) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut headers: Vec<(String, String)> = self
            .headers
            .iter()
            .filter(|(k, _)| k != "date" && k != "server" && k != "connection")
            .cloned()
            .collect();
        headers.sort();
        (self.status, headers, self.body.clone())
    }
}

/// Parses CGI/FastCGI stdout: `Status:` line (default 200), headers, blank line, body.
pub fn parse_cgi_output(out: &[u8]) -> RawResponse {
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4))
        .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2)))
        .unwrap_or_else(|| {
            panic!(
                "no header/body separator in: {}",
                String::from_utf8_lossy(out)
            )
        });
    let head = String::from_utf8_lossy(&out[..split.0]).into_owned();
    let body = out[split.0 + split.1..].to_vec();
    let mut status = 200;
    let mut headers = Vec::new();
    for line in head.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim().to_string();
        if k == "status" {
            status = v
                .split_whitespace()
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
        } else {
            headers.push((k, v));
        }
    }
    RawResponse {
        status,
        headers,
        body,
    }
}

/// One HTTP request as the tests describe it.
#[derive(Debug, Clone, Default)]
pub struct TestRequest {
    pub method: String,
    /// Path and query, e.g. `/api/v1/production/lines?x=1`.
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl TestRequest {
    pub fn get(uri: &str) -> Self {
        TestRequest {
            method: "GET".into(),
            uri: uri.into(),
            ..Default::default()
        }
    }

    pub fn post_json(uri: &str, body: &serde_json::Value) -> Self {
        TestRequest {
            method: "POST".into(),
            uri: uri.into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The CGI meta-variables Apache would set for this request.
    pub fn cgi_vars(&self) -> Vec<(String, String)> {
        let (path, query) = self.uri.split_once('?').unwrap_or((&self.uri, ""));
        let mut vars = vec![
            ("GATEWAY_INTERFACE".to_string(), "CGI/1.1".to_string()),
            ("SERVER_PROTOCOL".into(), "HTTP/1.1".into()),
            ("SERVER_NAME".into(), "127.0.0.1".into()),
            ("SERVER_PORT".into(), "80".into()),
            ("REMOTE_ADDR".into(), "127.0.0.1".into()),
            ("REQUEST_METHOD".into(), self.method.clone()),
            ("REQUEST_URI".into(), self.uri.clone()),
            ("SCRIPT_NAME".into(), path.to_string()),
            ("QUERY_STRING".into(), query.to_string()),
        ];
        if !self.body.is_empty() || self.method == "POST" || self.method == "PUT" {
            vars.push(("CONTENT_LENGTH".into(), self.body.len().to_string()));
        }
        for (k, v) in &self.headers {
            let key = k.to_ascii_uppercase().replace('-', "_");
            if key == "CONTENT_TYPE" {
                vars.push(("CONTENT_TYPE".into(), v.clone()));
            } else {
                vars.push((format!("HTTP_{key}"), v.clone()));
            }
        }
        vars
    }
}

/// Runs a binary once as a CGI program with exactly `env` + `vars` in its
/// environment and `stdin` as its input; returns the parsed output and whether
/// the process exited successfully. `vars` may hold bytes that are not UTF-8,
/// as a web server passes header values on.
pub fn run_cgi_raw<K: AsRef<OsStr>, V: AsRef<OsStr>>(
    binary: &Path,
    env: &[(String, String)],
    vars: &[(K, V)],
    stdin: &[u8],
) -> (RawResponse, bool) {
    let mut child = Command::new(binary)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("CGI output");
    let _ = writer.join();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "CGI process panicked: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (parse_cgi_output(&out.stdout), out.status.success())
}

pub fn run_cgi(binary: &Path, env: &[(String, String)], req: &TestRequest) -> RawResponse {
    run_cgi_raw(binary, env, &req.cgi_vars(), &req.body).0
}

/// A binary serving FastCGI on a Unix socket passed as its fd 0, as mod_fcgid
/// starts it (with nothing but `PATH` in its environment: the configuration
/// comes from the env file named by `DASHBOARD_ENV_FILE`, which the test passes
/// the way `FcgidInitialEnv` would).
pub struct FcgiApp {
    child: Child,
    socket: PathBuf,
    _dir: TempDir,
}

impl FcgiApp {
    pub fn start(binary: &Path, env_file: &Path) -> FcgiApp {
        let dir = TempDir::new("fcgi");
        let socket = dir.path().join("app.sock");
        let listener = UnixListener::bind(&socket).expect("bind FastCGI socket");
        let fd: OwnedFd = listener.into();
        let child = Command::new(binary)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("DASHBOARD_ENV_FILE", env_file)
            .stdin(Stdio::from(fd))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start FastCGI app");
        FcgiApp {
            child,
            socket,
            _dir: dir,
        }
    }

    /// Sends one request with Debian's `cgi-fcgi` (libfcgi), an independent client.
    pub fn request(&self, req: &TestRequest) -> RawResponse {
        self.request_raw(&req.cgi_vars(), &req.body)
    }

    /// Sends these CGI meta-variables (which may hold bytes that are not
    /// UTF-8) as the FastCGI parameters of one request, and `body` as its stdin.
    pub fn request_raw<K: AsRef<OsStr>, V: AsRef<OsStr>>(
        &self,
        vars: &[(K, V)],
        body: &[u8],
    ) -> RawResponse {
        let mut child = Command::new("cgi-fcgi")
            .arg("-bind")
            .arg("-connect")
            .arg(&self.socket)
            .env_clear()
            .envs(
                vars.iter()
                    .filter(|(k, _)| k.as_ref() != "GATEWAY_INTERFACE")
                    .map(|(k, v)| (k, v)),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cgi-fcgi (apt-get install libfcgi-bin)");
        let mut input = child.stdin.take().expect("stdin");
        let body = body.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(&body);
        });
        let out = child.wait_with_output().expect("cgi-fcgi output");
        let _ = writer.join();
        parse_cgi_output(&out.stdout)
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for FcgiApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "dash-{prefix}-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes an env file with these pairs and returns its path inside `dir`.
pub fn write_env_file(dir: &Path, env: &[(String, String)]) -> PathBuf {
    let path = dir.join("dashboard.env");
    let body: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(&path, body).expect("write env file");
    path
}

// ---------------------------------------------------------------------------
// Lambda Runtime API
// ---------------------------------------------------------------------------

#[derive(Default)]
struct RuntimeState {
    queue: VecDeque<(String, String)>,
    results: HashMap<String, Result<String, String>>,
    init_error: Option<String>,
}

/// A server for the Lambda Runtime API (`/2018-06-01/runtime/...`): hands out
/// queued events on `invocation/next` (long-polling like the real one) and
/// collects what the function posts back.
pub struct LambdaRuntime {
    addr: String,
    state: Arc<(Mutex<RuntimeState>, Condvar)>,
    function: Option<Child>,
}

impl LambdaRuntime {
    pub fn start() -> LambdaRuntime {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind runtime API");
        let addr = listener.local_addr().expect("addr").to_string();
        let state: Arc<(Mutex<RuntimeState>, Condvar)> = Arc::default();
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || serve_runtime_connection(stream, shared));
            }
        });
        LambdaRuntime {
            addr,
            state,
            function: None,
        }
    }

    /// Starts the function binary pointed at this runtime API.
    pub fn spawn_function(&mut self, binary: &Path, env: &[(String, String)]) {
        let child = Command::new(binary)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("AWS_LAMBDA_RUNTIME_API", &self.addr)
            .env(
                "AWS_LAMBDA_FUNCTION_NAME",
                binary.file_name().unwrap_or_default(),
            )
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test-stream")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "test-group")
            .env("AWS_REGION", "eu-west-1")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start Lambda function");
        self.function = Some(child);
    }

    /// Queues an event and waits for the function's answer (Ok = response body).
    pub fn invoke(&self, event: &serde_json::Value) -> Result<serde_json::Value, String> {
        let id = format!("req-{}", rand::random::<u64>());
        let (lock, cvar) = &*self.state;
        {
            let mut st = lock.lock().expect("runtime state");
            st.queue.push_back((id.clone(), event.to_string()));
            cvar.notify_all();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut st = lock.lock().expect("runtime state");
        loop {
            if let Some(result) = st.results.remove(&id) {
                return result.map(|body| {
                    serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body))
                });
            }
            if let Some(err) = &st.init_error {
                return Err(format!("init error: {err}"));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("timed out waiting for the function".into());
            }
            st = cvar.wait_timeout(st, left).expect("runtime state").0;
        }
    }
}

impl Drop for LambdaRuntime {
    fn drop(&mut self) {
        if let Some(mut child) = self.function.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn serve_runtime_connection(stream: TcpStream, shared: Arc<(Mutex<RuntimeState>, Condvar)>) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut content_length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.trim().eq_ignore_ascii_case("content-length") {
                    content_length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; content_length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        let (lock, cvar) = &*shared;
        let reply = if method == "GET" && path.ends_with("/runtime/invocation/next") {
            let mut st = lock.lock().expect("runtime state");
            loop {
                if let Some((id, event)) = st.queue.pop_front() {
                    let deadline = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_millis() + 30_000)
                        .unwrap_or(0);
                    break format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                         Lambda-Runtime-Aws-Request-Id: {id}\r\n\
                         Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                         Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:000000000000:function:test\r\n\
                         Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\n\
                         Content-Length: {}\r\n\r\n{event}",
                        event.len()
                    );
                }
                st = cvar.wait(st).expect("runtime state");
            }
        } else if method == "POST" && path.contains("/runtime/invocation/") {
            let segments: Vec<&str> = path.split('/').collect();
            let id = segments
                .iter()
                .rev()
                .nth(1)
                .copied()
                .unwrap_or("")
                .to_string();
            let mut st = lock.lock().expect("runtime state");
            let result = if path.ends_with("/response") {
                Ok(body)
            } else {
                Err(body)
            };
            st.results.insert(id, result);
            cvar.notify_all();
            "HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}".to_string()
        } else if method == "POST" && path.ends_with("/runtime/init/error") {
            let mut st = lock.lock().expect("runtime state");
            st.init_error = Some(body);
            cvar.notify_all();
            "HTTP/1.1 202 Accepted\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}".to_string()
        } else {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string()
        };
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// An API Gateway HTTP API (payload 2.0) event for a request.
pub fn apigw_v2_event(req: &TestRequest) -> serde_json::Value {
    let (path, query) = req.uri.split_once('?').unwrap_or((&req.uri, ""));
    let headers: serde_json::Map<String, serde_json::Value> = req
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), serde_json::Value::String(v.clone())))
        .collect();
    let body = String::from_utf8_lossy(&req.body).into_owned();
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "api",
            "domainName": "example.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "example",
            "http": {
                "method": req.method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "integration-test"
            },
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "29/Nov/2026:19:00:00 +0000",
            "timeEpoch": 1_795_978_800_000u64
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// Turns a Lambda HTTP API response document into a [`RawResponse`].
pub fn from_apigw_response(doc: &serde_json::Value) -> RawResponse {
    let status = doc["statusCode"].as_u64().unwrap_or(0) as u16;
    let mut headers: Vec<(String, String)> = doc["headers"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    if let Some(cookies) = doc["cookies"].as_array() {
        for c in cookies {
            headers.push(("set-cookie".into(), c.as_str().unwrap_or("").to_string()));
        }
    }
    let raw = doc["body"].as_str().unwrap_or("");
    let body = if doc["isBase64Encoded"].as_bool().unwrap_or(false) {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .unwrap_or_default()
    } else {
        raw.as_bytes().to_vec()
    };
    RawResponse {
        status,
        headers,
        body,
    }
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A plain HTTP/1.1 client for tests through Apache (one request per connection).
pub fn http_request(port: u16, req: &TestRequest) -> RawResponse {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to Apache");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        req.method,
        req.uri,
        req.body.len()
    );
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send head");
    let _ = stream.write_all(&req.body);
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("bad HTTP response: {}", String::from_utf8_lossy(&out)));
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut headers = Vec::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let mut body = out[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    RawResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..pos])
                .trim()
                .split(';')
                .next()
                .unwrap_or("0"),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = pos + 2;
        let end = (start + size).min(data.len());
        out.extend_from_slice(&data[start..end]);
        data = &data[(end + 2).min(data.len())..];
    }
    out
}

/// A TCP forwarder in front of the database, so a test can make the database
/// vanish (every connection cut, new ones refused) and come back, without
/// touching the real server other tests use.
pub struct TcpProxy {
    pub port: u16,
    up: Arc<std::sync::atomic::AtomicBool>,
    live: Arc<Mutex<Vec<TcpStream>>>,
}

impl TcpProxy {
    pub fn start(target: &str) -> TcpProxy {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(true));
        let live: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (up2, live2, target) = (up.clone(), live.clone(), target.to_string());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !up2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                if let (Ok(c2), Ok(s2), Ok(mut list)) =
                    (client.try_clone(), server.try_clone(), live2.lock())
                {
                    list.push(c2);
                    list.push(s2);
                }
                pipe(client.try_clone(), server.try_clone());
                pipe(server.try_clone(), client.try_clone());
            }
        });
        TcpProxy { port, up, live }
    }

    /// Cuts every connection and refuses new ones.
    pub fn stop(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut list) = self.live.lock() {
            for s in list.drain(..) {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
    }

    pub fn resume(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

fn pipe(from: std::io::Result<TcpStream>, to: std::io::Result<TcpStream>) {
    if let (Ok(mut from), Ok(mut to)) = (from, to) {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(std::net::Shutdown::Write);
        });
    }
}

/// A private Apache (scripts/apache.sh) serving the release binaries through
/// mod_fcgid or mod_cgid on a free loopback port; stopped on drop.
pub struct Apache {
    pub port: u16,
    run_dir: TempDir,
    mode: String,
}

impl Apache {
    pub fn start(mode: &str, env: &[(String, String)]) -> Apache {
        Self::start_with(mode, env, &[])
    }

    /// `extra` are additional environment variables for the script
    /// (e.g. `FCGID_MAX_REQUESTS`).
    pub fn start_with(mode: &str, env: &[(String, String)], extra: &[(&str, &str)]) -> Apache {
        let run_dir = TempDir::new(&format!("apache-{mode}"));
        let env_file = write_env_file(run_dir.path(), env);
        let port = free_port();
        let script = repo_root().join("scripts").join("apache.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg("start")
            .args(["--mode", mode])
            .args(["--port", &port.to_string()])
            .arg("--bin-dir")
            .arg(bin_dir())
            .arg("--run-dir")
            .arg(run_dir.path().join("apache"))
            .arg("--env-file")
            .arg(&env_file)
            .envs(extra.iter().map(|(k, v)| (*k, *v)))
            .output()
            .expect("run scripts/apache.sh");
        assert!(
            out.status.success(),
            "apache.sh start failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Apache {
            port,
            run_dir,
            mode: mode.to_string(),
        }
    }

    pub fn request(&self, req: &TestRequest) -> RawResponse {
        http_request(self.port, req)
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.run_dir.path().join("apache/logs/error.log"))
            .unwrap_or_default()
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo_root().join("scripts").join("apache.sh"))
            .arg("stop")
            .args(["--mode", &self.mode])
            .arg("--run-dir")
            .arg(self.run_dir.path().join("apache"))
            .output();
    }
}

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}
