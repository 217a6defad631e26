#!/usr/bin/env node
// `ikukantai-controller`: parse the command line (exit 2 with one stderr line on bad input), start
// the controller, stop cleanly on SIGTERM/SIGINT (handing the Lease over first).

import { Registry } from 'prom-client';
import { UsageError, exitUsage } from '../lib/cli.ts';
import { registerProcessMetrics } from '../lib/process-metrics.ts';
import { controllerUsage, loadControllerConfig } from './config.ts';

let config;
try {
  config = loadControllerConfig(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) exitUsage(err.message);
  throw err;
}
if (config === 'help') {
  process.stdout.write(controllerUsage());
  process.exit(0);
}
let controller;
try {
  // Imported only now: client-node costs ~0.4 s to load, which --help and bad flags needn't pay.
  const { startController } = await import('./main.ts');
  const registry = new Registry();
  registerProcessMetrics(registry);
  controller = await startController(config, { registry });
} catch (err) {
  // A listener that can't bind or an unreadable kubeconfig is a start-up problem: one line, exit 2.
  exitUsage((err as Error).message.split('\n')[0]!);
}
const stop = (): void => {
  controller.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
