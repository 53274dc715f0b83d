// SPDX-License-Identifier: Apache-2.0
//! Real programs on the sandbox's inet sockets, run natively and under `sandbox run` (issue 9,
//! "done when"): python3's http.server answering urllib in the same process, a node http
//! server answering a node client, and a C server and client over IPv6 loopback as two
//! processes. Each uses port 0 and reads back the port, so parallel runs never collide.
//!
//! The host programs (python3, node) are installed by .ci/run; a missing one fails the test.

use tests::{guest, require_tool, Linkage, Run};

const HTTP_SERVER: &str = r#"
import http.server, threading, urllib.request, os
os.chdir("/usr/share/common-licenses")
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
threading.Thread(target=srv.serve_forever, daemon=True).start()
url = "http://127.0.0.1:%d/GPL-3" % srv.server_address[1]
with urllib.request.urlopen(url) as r:
    body = r.read()
    print(r.status, len(body), body.splitlines()[0].strip().decode())
with urllib.request.urlopen(url + "-missing") as r:
    pass
"#;

#[test]
fn python3_http_server_and_urllib() {
    require_tool("/usr/bin/python3");
    require_tool("/usr/share/common-licenses/GPL-3");
    // The second fetch is a 404: urllib raises, and the traceback goes to stderr.
    let (native, _) = Run::new("/usr/bin/python3")
        .args(["-c", HTTP_SERVER])
        .compare();
    assert!(native.stdout.starts_with("200 "), "{native}");
    assert_eq!(native.status, 1, "{native}");
}

const NODE_HTTP: &str = r#"
const http = require('http');
const server = http.createServer((req, res) => {
  res.writeHead(200, {'Content-Type': 'text/plain'});
  res.end('hello from node ' + req.url + '\n');
});
server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  let left = 3;
  for (const path of ['/a', '/b', '/c']) {
    http.get({host: '127.0.0.1', port, path}, (res) => {
      let body = '';
      res.on('data', (d) => body += d);
      res.on('end', () => {
        console.log(res.statusCode, body.trim());
        if (--left === 0) server.close();
      });
    }).on('error', (e) => { console.log('error', e.message); process.exit(1); });
  }
});
"#;

#[test]
fn node_http_server_and_client() {
    require_tool("/usr/bin/node");
    let (native, _) = Run::new("/usr/bin/node").args(["-e", NODE_HTTP]).compare();
    // The answers may come in any order; there are three.
    assert_eq!(native.stdout.lines().count(), 3, "{native}");
}

#[test]
fn c_server_and_client_over_ipv6() {
    let g = guest("inet_echo", Linkage::Dynamic);
    let g = g.display();
    let (native, _) = Run::new("/bin/sh")
        .args(["-c", &format!("'{g}' server | '{g}' client")])
        .compare();
    assert_eq!(
        native.stdout, "HELLO OVER IPV6\nSECOND LINE\nTHIRD\n",
        "{native}"
    );
}
