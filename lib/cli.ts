// Command-line flags shared by both bins (DESIGN.md §2 "Command line"): every `--foo-bar` also reads
// env `IKUKANTAI_FOO_BAR`; a flag beats env, env beats the default. A bad flag or value is a
// UsageError, which the bin turns into exactly one stderr line and exit code 2.

import { parseDuration } from './duration.ts';

export type FlagType = 'string' | 'duration' | 'int' | 'enum' | 'listen' | 'url';

export interface FlagSpec {
  name: string;
  type: FlagType;
  help: string;
  default?: string;
  required?: boolean;
  choices?: readonly string[];
}

export interface Listen {
  host: string;
  port: number;
}

export type FlagValue = string | number | Listen | undefined;

export class UsageError extends Error {
  readonly code = 'usage';
  override readonly name = 'UsageError';
}

export function envName(flag: string): string {
  return 'IKUKANTAI_' + flag.toUpperCase().replaceAll('-', '_');
}

/** `host:port`, `:port` (all interfaces) or `[v6]:port`. */
export function parseListen(text: string): Listen {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new RangeError(`bad listen address "${text}" (write host:port or :port)`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function convert(spec: FlagSpec, raw: string): FlagValue {
  switch (spec.type) {
    case 'string':
      if (raw === '') throw new RangeError(`--${spec.name} must not be empty`);
      return raw;
    case 'duration':
      return parseDuration(raw);
    case 'int': {
      if (!/^\d+$/.test(raw)) throw new RangeError(`--${spec.name} wants a whole number, got "${raw}"`);
      return Number(raw);
    }
    case 'enum':
      if (!spec.choices?.includes(raw)) {
        throw new RangeError(`--${spec.name} must be one of ${spec.choices?.join(', ')}, got "${raw}"`);
      }
      return raw;
    case 'listen':
      return parseListen(raw);
    case 'url': {
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        throw new RangeError(`--${spec.name} wants a URL, got "${raw}"`);
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') {
        throw new RangeError(`--${spec.name} wants an http(s) URL, got "${raw}"`);
      }
      return raw;
    }
  }
}

export interface ParsedArgs {
  help: boolean;
  values: Record<string, FlagValue>;
}

/** Parses argv against specs; throws UsageError with a one-line message on any problem. */
export function parseArgs(
  specs: readonly FlagSpec[],
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): ParsedArgs {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { help: true, values: {} };
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}" (see --help)`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const spec = byName.get(name);
    if (!spec) throw new UsageError(`unknown flag --${name} (see --help)`);
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else value = argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    given.set(name, value);
  }
  const values: Record<string, FlagValue> = {};
  for (const spec of specs) {
    const raw = given.get(spec.name) ?? env[envName(spec.name)] ?? spec.default;
    if (raw === undefined) {
      if (spec.required) throw new UsageError(`--${spec.name} is required (or env ${envName(spec.name)})`);
      values[spec.name] = undefined;
      continue;
    }
    try {
      values[spec.name] = convert(spec, raw);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  return { help: false, values };
}

export function usage(bin: string, summary: string, specs: readonly FlagSpec[]): string {
  const lines = [`Usage: ${bin} [flags]`, '', summary, '', 'Flags (each also read from the env variable shown):'];
  for (const s of specs) {
    const def = s.default !== undefined ? ` (default ${s.default})` : s.required ? ' (required)' : '';
    lines.push(`  --${s.name}  [${envName(s.name)}]`, `      ${s.help}${def}`);
  }
  return lines.join('\n') + '\n';
}

/** The exit-2 contract: one line on stderr, nothing on stdout. */
export function exitUsage(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}
