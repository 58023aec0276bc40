//! Every release binary on the three hosts: CGI, FastCGI (spoken to by
//! Debian's `cgi-fcgi`), and the Lambda Runtime API with API Gateway v2 events.

use std::time::{Duration, Instant};

use integration_tests::hosts::{
    apigw_v2_event, bin, from_apigw_response, run_cgi, run_cgi_raw, write_env_file, FcgiApp,
    LambdaRuntime, TcpProxy, TempDir, TestRequest, HTTP_GROUPS,
};
use integration_tests::testdb::TestDb;

/// `host:port` of a `mysql://user@host:port` URL.
fn server_addr(url: &str) -> String {
    let opts = mysql_async::Opts::from_url(url).expect("server URL");
    format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port())
}

fn with_var(env: &[(String, String)], key: &str, value: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = env.iter().filter(|(k, _)| k != key).cloned().collect();
    env.push((key.to_string(), value.to_string()));
    env
}

#[tokio::test]
async fn health_is_identical_on_cgi_fastcgi_and_lambda() {
    let db = TestDb::new().await.expect("test database");
    let env = db.env();
    let dir = TempDir::new("health");
    let env_file = write_env_file(dir.path(), &env);
    for group in HTTP_GROUPS {
        let binary = bin(group);
        // API Gateway always says how the client came in; give every host the same.
        let req = TestRequest::get(&format!("/api/v1/{group}/health"))
            .header("X-Forwarded-Proto", "https");

        let cgi = run_cgi(&binary, &env, &req);
        assert_eq!(cgi.status, 200, "{group} CGI: {}", cgi.text());
        let body = cgi.json();
        assert_eq!(body["status"], "ok");
        assert_eq!(body["group"], group);
        assert_eq!(body["database"], "ok");
        assert!(body["version"].is_string());
        assert_eq!(cgi.header("content-type"), Some("application/json"));
        assert_eq!(cgi.header("x-content-type-options"), Some("nosniff"));
        assert!(
            cgi.header("strict-transport-security").is_some(),
            "HSTS behind HTTPS"
        );
        assert!(cgi
            .header("content-security-policy")
            .is_some_and(|c| c.contains("frame-ancestors 'none'") && !c.contains("unsafe-inline")));

        let fcgi_app = FcgiApp::start(&binary, &env_file);
        let fcgi = fcgi_app.request(&req);
        assert_eq!(
            fcgi.comparable(),
            cgi.comparable(),
            "{group}: FastCGI differs from CGI"
        );
        // Many requests per process: the second one is served by the same process.
        let again = fcgi_app.request(&req);
        assert_eq!(again.status, 200);

        let mut runtime = LambdaRuntime::start();
        runtime.spawn_function(&binary, &env);
        let doc = runtime
            .invoke(&apigw_v2_event(&req))
            .unwrap_or_else(|e| panic!("{group} on Lambda: {e}"));
        let lambda = from_apigw_response(&doc);
        assert_eq!(
            lambda.comparable(),
            cgi.comparable(),
            "{group}: Lambda differs from CGI"
        );
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_get_json_errors() {
    let db = TestDb::new().await.expect("test database");
    let env = db.env();
    let binary = bin("production");
    let resp = run_cgi(&binary, &env, &TestRequest::get("/api/v1/production/nope"));
    assert_eq!(resp.status, 404);
    assert_eq!(resp.json()["error"]["code"], "not_found");

    let mut req = TestRequest::get("/api/v1/production/health");
    req.method = "DELETE".into();
    let resp = run_cgi(&binary, &env, &req);
    assert_eq!(resp.status, 405);
    assert_eq!(resp.json()["error"]["code"], "method_not_allowed");
    assert_eq!(resp.header("allow"), Some("GET"));
}

#[tokio::test]
async fn broken_cgi_input_gets_a_clear_4xx() {
    let db = TestDb::new().await.expect("test database");
    let env = db.env();
    let binary = bin("auth");
    let base = TestRequest::post_json("/api/v1/auth/health", &serde_json::json!({}));

    // No REQUEST_METHOD at all.
    let vars: Vec<(String, String)> = base
        .cgi_vars()
        .into_iter()
        .filter(|(k, _)| k != "REQUEST_METHOD")
        .collect();
    let (resp, ok) = run_cgi_raw(&binary, &env, &vars, b"");
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert!(resp.json()["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("REQUEST_METHOD")));
    assert!(ok);

    // CONTENT_LENGTH that is not a number.
    let vars = with_var(&base.cgi_vars(), "CONTENT_LENGTH", "12abc");
    let (resp, _) = run_cgi_raw(&binary, &env, &vars, b"{}");
    assert_eq!(resp.status, 400);
    assert_eq!(resp.json()["error"]["field"], "Content-Length");

    // Body shorter than declared.
    let vars = with_var(&base.cgi_vars(), "CONTENT_LENGTH", "100");
    let (resp, _) = run_cgi_raw(&binary, &env, &vars, b"{}");
    assert_eq!(resp.status, 400);
    assert!(resp.text().contains("shorter"));

    // Body longer than declared.
    let vars = with_var(&base.cgi_vars(), "CONTENT_LENGTH", "1");
    let (resp, _) = run_cgi_raw(&binary, &env, &vars, b"{\"a\": 1}");
    assert_eq!(resp.status, 400);
    assert!(resp.text().contains("longer"));

    // 2 MiB body.
    let big = vec![b'a'; 2 * 1024 * 1024];
    let vars = with_var(&base.cgi_vars(), "CONTENT_LENGTH", &big.len().to_string());
    let (resp, ok) = run_cgi_raw(&binary, &env, &vars, &big);
    assert_eq!(resp.status, 413);
    assert_eq!(resp.json()["error"]["code"], "payload_too_large");
    assert!(ok);
}

#[tokio::test]
async fn oversized_body_is_413_on_fastcgi_and_lambda_too() {
    let db = TestDb::new().await.expect("test database");
    let env = db.env();
    let dir = TempDir::new("big");
    let env_file = write_env_file(dir.path(), &env);
    let binary = bin("auth");
    let mut req = TestRequest::post_json("/api/v1/auth/health", &serde_json::json!({}));
    req.body = vec![b' '; 1024 * 1024 + 1];

    let fcgi = FcgiApp::start(&binary, &env_file);
    assert_eq!(fcgi.request(&req).status, 413);
    assert_eq!(
        fcgi.request(&TestRequest::get("/api/v1/auth/health"))
            .status,
        200
    );

    let mut runtime = LambdaRuntime::start();
    runtime.spawn_function(&binary, &env);
    let doc = runtime
        .invoke(&apigw_v2_event(&req))
        .expect("lambda answer");
    assert_eq!(from_apigw_response(&doc).status, 413);
}

#[tokio::test]
async fn misconfigured_process_says_so_in_json() {
    let db = TestDb::new().await.expect("test database");
    let env = with_var(&db.env(), "JWT_SECRET", "too-short");
    let resp = run_cgi(
        &bin("metrics"),
        &env,
        &TestRequest::get("/api/v1/metrics/health"),
    );
    assert_eq!(resp.status, 500);
    assert_eq!(resp.json()["error"]["code"], "internal_error");
    assert!(
        !resp.text().contains("JWT_SECRET"),
        "configuration details stay in the log"
    );
}

#[tokio::test]
async fn database_outage_is_503_fast_and_recovers_without_restart() {
    let db = TestDb::new().await.expect("test database");
    let proxy = TcpProxy::start(&server_addr(db.server_url()));
    let env = with_var(
        &db.env(),
        "DATABASE_URL",
        &format!("mysql://root@127.0.0.1:{}", proxy.port),
    );
    let dir = TempDir::new("outage");
    let env_file = write_env_file(dir.path(), &env);
    let req = TestRequest::get("/api/v1/data/health");
    let mut fcgi = FcgiApp::start(&bin("data"), &env_file);
    assert_eq!(fcgi.request(&req).status, 200);

    proxy.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let resp = fcgi.request(&req);
        assert_eq!(resp.status, 503, "{}", resp.text());
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "took {:?}",
            started.elapsed()
        );
        assert!(resp.header("retry-after").is_some());
        assert_eq!(resp.json()["error"]["code"], "database_unavailable");
    }
    let started = Instant::now();
    let cgi = run_cgi(&bin("data"), &env, &req);
    assert_eq!(cgi.status, 503);
    assert!(started.elapsed() < Duration::from_secs(3));

    proxy.resume();
    let mut recovered = false;
    for _ in 0..20 {
        if fcgi.request(&req).status == 200 {
            recovered = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(
        recovered,
        "the same FastCGI process recovers once the database is back"
    );
    assert!(fcgi.is_running());
}
