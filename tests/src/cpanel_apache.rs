//! A private Apache shaped like a cPanel server (`infra/apache/cpanel-sim.conf.tmpl`):
//! `AllowOverride All` over a document root and nothing about the application
//! in the server configuration, so the site's `.htaccess` does all the routing.
//! Used by the cPanel bundle test and the static-files test.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::hosts::{free_port, http_request, repo_root, RawResponse, TestRequest};

pub struct CpanelApache {
    conf: PathBuf,
    run_dir: PathBuf,
    pub port: u16,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl CpanelApache {
    /// Serves `site` from a server configured under `work/apache`; `modules`
    /// is the configuration that loads the CGI or FastCGI module (empty when
    /// only files are served) — `{sock_dir}` in it stands for the folder of
    /// the server's sockets.
    pub fn start(site: &Path, work: &Path, modules: &str) -> CpanelApache {
        let run_dir = work.join("apache");
        let sock_dir = run_dir.join("run");
        std::fs::create_dir_all(&sock_dir).expect("apache run dir");
        let port = free_port();
        let as_root = is_root();
        let template =
            std::fs::read_to_string(repo_root().join("infra/apache/cpanel-sim.conf.tmpl"))
                .expect("infra/apache/cpanel-sim.conf.tmpl");
        let user_block = if as_root {
            "User www-data\nGroup www-data"
        } else {
            ""
        };
        let sock = sock_dir.display().to_string();
        let conf_text = template
            .replace("@RUN_DIR@", &run_dir.display().to_string())
            .replace("@SOCK_DIR@", &sock)
            .replace("@SITE_DIR@", &site.display().to_string())
            .replace("@PORT@", &port.to_string())
            .replace("@USER_BLOCK@", user_block)
            .replace("@MODE_BLOCK@", &modules.replace("{sock_dir}", &sock));
        let conf = run_dir.join("httpd.conf");
        std::fs::write(&conf, conf_text).expect("httpd.conf");
        if as_root {
            // What suEXEC would do on cPanel: the site's programs run as the account.
            let chown = Command::new("chown")
                .args(["-R", "www-data:www-data"])
                .arg(site)
                .arg(&sock_dir)
                .status()
                .expect("chown");
            assert!(chown.success(), "chown www-data failed");
        }
        let apache = CpanelApache {
            conf,
            run_dir,
            port,
        };
        let out = Command::new("apache2")
            .arg("-f")
            .arg(&apache.conf)
            .args(["-k", "start"])
            .output()
            .expect("apache2 (scripts/deps.sh installs it)");
        assert!(
            out.status.success(),
            "apache2 did not start: {}{}",
            String::from_utf8_lossy(&out.stderr),
            apache.error_log()
        );
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "apache2 does not listen on {port}: {}",
                apache.error_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        apache
    }

    /// The last 20 lines of the error log that are not notices.
    pub fn error_log(&self) -> String {
        let log = std::fs::read_to_string(self.run_dir.join("error.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().filter(|l| !l.contains(":notice]")).collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    pub fn request(&self, req: &TestRequest) -> RawResponse {
        http_request(self.port, req)
    }
}

impl Drop for CpanelApache {
    fn drop(&mut self) {
        let pid = std::fs::read_to_string(self.run_dir.join("httpd.pid")).ok();
        let _ = Command::new("apache2")
            .arg("-f")
            .arg(&self.conf)
            .args(["-k", "stop"])
            .output();
        if let Some(pid) = pid.map(|p| p.trim().to_string()) {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}
