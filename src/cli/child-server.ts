/** The CLI servers as child processes of `certbound demo`: started, awaited on their ready line, stopped. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withoutFlagVariables } from './environment.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
/** A server that has not printed its ready line by then will not: the demo fails with its last error. */
const READY_TIMEOUT_MS = 15_000;

/** Start `certbound <args>` as a child process and resolve to the URL from its ready line. */
export function startServer(children: ChildProcess[], args: string[]): Promise<string> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: withoutFlagVariables() });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`certbound ${args[0]} did not start within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const match = /listening on (https:\/\/\S+)/.exec(stdout);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`certbound ${args[0]} exited with code ${code}: ${stderr.trim().split('\n').pop() ?? ''}`));
    });
  });
}

/** SIGTERM, then SIGKILL if it has not exited 5 s later. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
