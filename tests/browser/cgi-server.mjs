#!/usr/bin/env node
// A tiny development server: every request runs a release binary as CGI, the
// way Apache's mod_cgid does, routed like infra/apache (auth, production, data,
// downtime, metrics by URL prefix; everything else to dashboard).
//
//   DASHBOARD_ENV_FILE=.run/ui-dev.env node tests/browser/cgi-server.mjs [--port 8099] [--bin-dir target/release]
//
// For looking at pages and running tests/browser/run.mjs without Apache. One
// request at a time per connection, bounded by a 30 s timeout; listens on
// 127.0.0.1 only.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : dflt;
};
const port = Number(opt('--port', process.env.PORT || '8099'));
const binDir = path.resolve(root, opt('--bin-dir', 'target/release'));
const envFile = process.env.DASHBOARD_ENV_FILE || '';

const ROUTES = [
  [/^\/api\/v1\/(auth|users|tenants)(\/|$)/, 'auth'],
  [/^\/api\/v1\/production(\/|$)/, 'production'],
  [/^\/api\/v1\/data(\/|$)/, 'data'],
  [/^\/api\/v1\/downtime(\/|$)/, 'downtime'],
  [/^\/api\/v1\/metrics(\/|$)/, 'metrics'],
];

function binaryFor(pathname) {
  for (const [re, bin] of ROUTES) if (re.test(pathname)) return bin;
  return 'dashboard';
}

function runCgi(req, body, res) {
  const url = new URL(req.url, 'http://localhost');
  const bin = path.join(binDir, binaryFor(url.pathname));
  if (!fs.existsSync(bin)) {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`missing binary ${bin}`);
    return;
  }
  const env = {
    PATH: process.env.PATH,
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_SOFTWARE: 'dashboard-cgi-dev',
    SERVER_NAME: '127.0.0.1',
    SERVER_PORT: String(port),
    REQUEST_METHOD: req.method,
    REQUEST_URI: req.url,
    SCRIPT_NAME: '',
    PATH_INFO: url.pathname,
    QUERY_STRING: url.search.replace(/^\?/, ''),
    REMOTE_ADDR: req.socket.remoteAddress || '127.0.0.1',
    CONTENT_LENGTH: body.length ? String(body.length) : '',
    CONTENT_TYPE: req.headers['content-type'] || '',
    RUST_LOG: process.env.RUST_LOG || 'warn',
  };
  if (envFile) env.DASHBOARD_ENV_FILE = envFile;
  for (const [k, v] of Object.entries(req.headers)) {
    if (k === 'content-type' || k === 'content-length') continue;
    env['HTTP_' + k.toUpperCase().replace(/-/g, '_')] = Array.isArray(v) ? v.join(', ') : v;
  }
  const child = spawn(bin, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const chunks = [];
  const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
  child.stdout.on('data', (c) => chunks.push(c));
  child.stderr.on('data', (c) => process.stderr.write(c));
  child.on('close', () => {
    clearTimeout(timer);
    const out = Buffer.concat(chunks);
    let sep = out.indexOf('\r\n\r\n');
    let sepLen = 4;
    if (sep < 0) {
      sep = out.indexOf('\n\n');
      sepLen = 2;
    }
    if (sep < 0) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('bad CGI output');
      return;
    }
    const head = out.subarray(0, sep).toString('latin1').split(/\r?\n/);
    let status = 200;
    const headers = {};
    for (const line of head) {
      const i = line.indexOf(':');
      if (i < 0) continue;
      const k = line.slice(0, i).trim();
      const v = line.slice(i + 1).trim();
      if (k.toLowerCase() === 'status') status = parseInt(v, 10) || 200;
      else if (headers[k]) headers[k] = [].concat(headers[k], v);
      else headers[k] = v;
    }
    if (headers.Location && status === 200) status = 302;
    res.writeHead(status, headers);
    res.end(out.subarray(sep + sepLen));
  });
  child.stdin.end(body);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => runCgi(req, Buffer.concat(chunks), res));
});
server.listen(port, '127.0.0.1', () => {
  console.log(`cgi-server: http://127.0.0.1:${port}/ (binaries from ${binDir})`);
});
