//! AWS Lambda behind an API Gateway HTTP API (payload v2), REST API or ALB,
//! through `lambda_http`.

use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use lambda_http::{service_fn, Body, RequestExt};

use crate::app::App;
use crate::http::{Request, Response};
use dash_store::HostKind;

fn to_request(event: lambda_http::Request) -> Request {
    let source_ip = match event.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        Some(lambda_http::request::RequestContext::ApiGatewayV1(ctx)) => {
            ctx.identity.source_ip.clone()
        }
        _ => None,
    };
    let (parts, body) = event.into_parts();
    let body = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    let is_https = parts
        .headers
        .get("x-forwarded-proto")
        .map(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
        .unwrap_or(false);
    Request {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts.headers,
        body,
        remote_addr: source_ip,
        is_https,
        path_params: Vec::new(),
    }
}

fn to_lambda_response(resp: Response) -> lambda_http::Response<Body> {
    let (parts, body) = resp.into_parts();
    let textual = parts
        .headers
        .get(::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| ct.starts_with("text/") || ct.contains("json") || ct.contains("javascript"))
        .unwrap_or(true);
    let body = if body.is_empty() {
        Body::Empty
    } else if textual {
        match String::from_utf8(body) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    } else {
        Body::Binary(body)
    };
    lambda_http::Response::from_parts(parts, body)
}

pub fn run(app: Arc<App>) -> ExitCode {
    let rt = match super::runtime(HostKind::Lambda) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(lambda_http::run(service_fn(move |event| {
        let app = app.clone();
        async move {
            let resp = app.handle(to_request(event)).await;
            Ok::<_, std::convert::Infallible>(to_lambda_response(resp))
        }
    })));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}
