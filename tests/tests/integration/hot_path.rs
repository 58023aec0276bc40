//! The hot path of the long-lived FastCGI processes (issue 16), on the release
//! binaries spoken to by Debian's `cgi-fcgi`: how many database round trips a
//! request costs (counted by a proxy in front of MariaDB), and how soon a
//! logout on one process is refused by another, whose session cache was warm.

use std::time::{Duration, Instant};

use integration_tests::hosts::{bin, write_env_file, FcgiApp, TempDir, TestRequest};
use integration_tests::wire::CommandCounter;
use serde_json::json;

use crate::auth_support::{world, Bearer, World};

/// How long another process may keep serving a session that was ended
/// (docs/roles.md: the session cache's lifetime).
const REVOCATION_BOUND: Duration = Duration::from_secs(5);

/// The world's environment with both database URLs through `counter`.
fn env_through(w: &World, counter: &CommandCounter) -> Vec<(String, String)> {
    let server = mysql_async::Opts::from_url(w.db.server_url()).expect("server URL");
    let url = counter.url(server.user().unwrap_or("root"));
    w.env_with(&[("DATABASE_URL", &url), ("CLIENT_DB_URL", &url)])
}

fn server_addr(w: &World) -> String {
    let server = mysql_async::Opts::from_url(w.db.server_url()).expect("server URL");
    format!("{}:{}", server.ip_or_hostname(), server.tcp_port())
}

/// The commands `app` sends for each of `rounds` requests of `req`, after two
/// to warm the pools and caches. A connection reset deferred past a request
/// would show in the count of the next one.
fn commands_per_request(
    counter: &CommandCounter,
    app: &FcgiApp,
    req: &TestRequest,
    rounds: usize,
) -> Vec<usize> {
    for _ in 0..2 {
        let warm = app.request(req);
        assert_eq!(warm.status, 200, "{}", warm.text());
    }
    let mut counts = Vec::with_capacity(rounds);
    let mut before = counter.commands();
    for _ in 0..rounds {
        let resp = app.request(req);
        assert_eq!(resp.status, 200, "{}", resp.text());
        let after = counter.commands();
        counts.push(after - before);
        before = after;
    }
    counts
}

#[tokio::test]
async fn a_health_check_is_one_round_trip() {
    let w = world(&[]).await;
    let counter = CommandCounter::start(&server_addr(&w));
    let dir = TempDir::new("hot-health");
    let env_file = write_env_file(dir.path(), &env_through(&w, &counter));
    let app = FcgiApp::start(&bin("production"), &env_file);
    let counts = commands_per_request(
        &counter,
        &app,
        &TestRequest::get("/api/v1/production/health"),
        10,
    );
    assert_eq!(counts, vec![1; 10], "COM_PING only");
}

#[tokio::test]
async fn an_authenticated_metadata_request_with_a_warm_cache_is_one_round_trip() {
    let w = world(&[]).await;
    let session = w.login("demo.manager");
    let counter = CommandCounter::start(&server_addr(&w));
    let dir = TempDir::new("hot-lines");
    let env_file = write_env_file(dir.path(), &env_through(&w, &counter));
    let app = FcgiApp::start(&bin("production"), &env_file);
    let lines = TestRequest::get("/api/v1/production/lines").bearer(&session.access);
    let counts = commands_per_request(&counter, &app, &lines, 10);
    // The request count is made every time; the session is read again once its
    // cache entry is older than ACCOUNT_TTL (4 s), which ten requests of about
    // 100 ms each can cross once.
    assert!(counts.iter().all(|&c| c >= 1), "{counts:?}");
    let warm: Vec<usize> = counts.iter().copied().filter(|&c| c == 1).collect();
    assert!(
        warm.len() >= counts.len() - 1,
        "commands per request {counts:?}: with the session cached, the request count is the only one"
    );
    let body = app.request(&lines).json();
    assert!(
        body["data"].as_array().is_some_and(|l| !l.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn a_logout_on_one_process_is_refused_by_another_within_five_seconds() {
    let w = world(&[]).await;
    let session = w.login("demo.manager");
    let dir = TempDir::new("hot-logout");
    let env_file = write_env_file(dir.path(), &w.env);
    let (first, second) = (
        FcgiApp::start(&bin("auth"), &env_file),
        FcgiApp::start(&bin("production"), &env_file),
    );
    let me = TestRequest::get("/api/v1/auth/me").bearer(&session.access);
    let lines = TestRequest::get("/api/v1/production/lines").bearer(&session.access);
    // Both processes have the session in their cache.
    assert_eq!(first.request(&me).status, 200);
    assert_eq!(second.request(&lines).status, 200);

    let logout = first.request(
        &TestRequest::post_json("/api/v1/auth/logout", &json!({})).bearer(&session.access),
    );
    assert_eq!(logout.status, 200, "{}", logout.text());
    let ended = Instant::now();
    assert_eq!(first.request(&me).status, 401, "the process that ended it");
    loop {
        let resp = second.request(&lines);
        if resp.status == 401 {
            break;
        }
        assert_eq!(resp.status, 200, "{}", resp.text());
        assert!(
            ended.elapsed() <= REVOCATION_BOUND,
            "the other process still serves the ended session after {:?}",
            ended.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let refused_after = ended.elapsed();
    eprintln!("the other process refused the ended session after {refused_after:?}");
    assert!(refused_after <= REVOCATION_BOUND, "{refused_after:?}");
}
