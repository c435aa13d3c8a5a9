// An upstream that is not Node: Python's http.server answering every request with the headers it
// received, as JSON, so a gateway test can see exactly what reached the application.
import { spawn } from 'node:child_process';
import { once } from 'node:events';

const SCRIPT = `
import http.server, json, sys
class Echo(http.server.BaseHTTPRequestHandler):
    def answer(self):
        body = json.dumps({"method": self.command, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_PUT = do_DELETE = answer
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Echo)
print(server.server_address[1], flush=True)
server.serve_forever()
`;

export interface EchoUpstream {
  url: string;
  close(): Promise<void>;
}

/** Start the Python echo upstream on 127.0.0.1 and resolve once it printed its port. */
export async function startEchoUpstream(): Promise<EchoUpstream> {
  const child = spawn('python3', ['-c', SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await Promise.race([once(child.stdout, 'data'), once(child, 'exit').then(() => [Buffer.from('')])])) as [Buffer];
  const port = Number(line.toString().trim());
  if (!Number.isInteger(port) || port <= 0) throw new Error('the Python echo upstream did not start (is python3 installed?)');
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
