import * as authz from './commands/authz.js';
import * as call from './commands/call.js';
import * as client from './commands/client.js';
import * as demo from './commands/demo.js';
import * as grpc from './commands/grpc.js';
import * as inspect from './commands/inspect.js';
import * as introspect from './commands/introspect.js';
import * as keys from './commands/keys.js';
import * as pki from './commands/pki.js';
import * as probe from './commands/probe.js';
import * as resource from './commands/resource.js';
import * as sts from './commands/sts.js';
import * as thumbprint from './commands/thumbprint.js';
import * as wait from './commands/wait.js';

export interface Command {
  run: (argv: string[]) => Promise<number>;
  /** The --help text; its first line is the command's line in `certbound --help`. */
  usage: string;
}

/** Every command by name: drives dispatch, `certbound --help` and shell completion. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  demo: { run: demo.run, usage: demo.usage },
  pki: { run: pki.run, usage: pki.usage },
  sts: { run: sts.run, usage: sts.usage },
  keys: { run: keys.run, usage: keys.usage },
  resource: { run: resource.run, usage: resource.usage },
  authz: { run: authz.run, usage: authz.usage },
  token: { run: client.runToken, usage: client.tokenUsage },
  call: { run: call.run, usage: call.usage },
  probe: { run: probe.run, usage: probe.usage },
  'grpc-server': { run: grpc.runServer, usage: grpc.serverUsage },
  'grpc-call': { run: grpc.runCall, usage: grpc.callUsage },
  thumbprint: { run: thumbprint.run, usage: thumbprint.usage },
  inspect: { run: inspect.run, usage: inspect.usage },
  introspect: { run: introspect.run, usage: introspect.usage },
  wait: { run: wait.run, usage: wait.usage },
};
