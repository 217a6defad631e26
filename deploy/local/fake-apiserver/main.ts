// Standalone fake Kubernetes API server: `npx node deploy/local/fake-apiserver/main.ts --port 6443`
// prints the kubeconfig path, then `kubectl --kubeconfig <path> get endpointslices -A` works
// against it. Runs until SIGINT/SIGTERM.

import { parseArgs, usage, exitUsage, UsageError, type FlagSpec } from '../../../lib/cli.ts';
import { createLogger } from '../../../lib/log.ts';
import { startFakeApiServer } from './server.ts';

const FLAGS: readonly FlagSpec[] = [
  { name: 'host', type: 'string', default: '127.0.0.1', help: 'address to listen on (loopback only by default)' },
  { name: 'port', type: 'int', default: '6443', help: 'TLS port' },
  { name: 'token', type: 'string', help: 'bearer token clients must send (random when absent)' },
  { name: 'kubeconfig-out', type: 'string', help: 'where to write the kubeconfig (a temp dir when absent)' },
  { name: 'bookmark-interval', type: 'duration', default: '5s', help: 'BOOKMARK period for watches that allow them' },
  { name: 'log-level', type: 'enum', default: 'info', choices: ['debug', 'info', 'warn', 'error'], help: 'log level' },
];

async function main(): Promise<void> {
  let values;
  try {
    const parsed = parseArgs(FLAGS, process.argv.slice(2));
    if (parsed.help) {
      process.stdout.write(usage('fake-apiserver', 'A fake Kubernetes API server (TLS, bearer token) for the emulated cluster.', FLAGS));
      return;
    }
    values = parsed.values;
  } catch (err) {
    if (err instanceof UsageError) exitUsage(err.message);
    throw err;
  }
  const logger = createLogger({ node: 'fake-apiserver', level: values['log-level'] as 'info' });
  const api = await startFakeApiServer({
    host: values.host as string,
    port: values.port as number,
    token: values.token as string | undefined,
    kubeconfigPath: values['kubeconfig-out'] as string | undefined,
    bookmarkIntervalMs: values['bookmark-interval'] as number,
    logger,
  });
  logger.info('fake_apiserver_listening', { msg: api.url, kubeconfig: api.kubeconfigPath });
  process.stdout.write(`${api.kubeconfigPath}\n`);
  const shutdown = (): void => {
    void api.close().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

await main();
