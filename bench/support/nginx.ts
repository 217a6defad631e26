// nginx as the reference proxy (DESIGN.md §8 ratios are "× nginx, 1 worker"), started from a config
// generated into a temp dir so it touches nothing of the system's nginx. Where nginx is missing the
// bench prints NGINX_HINT and runs everything else.

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildSet, Child } from './children.ts';

export const NGINX_HINT = 'nginx not found: install it with `apt-get install nginx` to get the × nginx ratios';

export interface NginxConfigOptions {
  /** Directory for pid, logs and temp files. */
  dir: string;
  listen: string;
  upstream: string;
}

/**
 * The config: one worker (the figures compare single-core work), upstream keep-alive (64 idle
 * connections kept, HTTP/1.1, `Connection` cleared so nginx does not send `close`), no access log
 * (ours writes none at info either). keepalive_requests is raised on both sides: its default of
 * 1000 would make nginx alone close and reopen connections during a run.
 */
export function nginxConfig({ dir, listen, upstream }: NginxConfigOptions): string {
  return `daemon off;
master_process on;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;

events {
  worker_connections 1024;
}

http {
  access_log off;
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  keepalive_timeout 65s;
  keepalive_requests 1000000;

  upstream backend {
    server ${upstream};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 65s;
  }

  server {
    listen ${listen};
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/** The nginx binary on PATH (or in /usr/sbin, often not on a non-root PATH), else undefined. */
export function findNginx(): string | undefined {
  for (const candidate of ['nginx', '/usr/sbin/nginx']) {
    try {
      execFileSync(candidate, ['-v'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

/** Writes the config under `opts.dir` and starts nginx in the foreground as a tracked child. */
export function startNginx(children: ChildSet, binary: string, opts: NginxConfigOptions): Child {
  mkdirSync(opts.dir, { recursive: true });
  const conf = join(opts.dir, 'nginx.conf');
  writeFileSync(conf, nginxConfig(opts));
  // -e: the error log from the very start (else nginx first opens /var/log/nginx/error.log).
  return children.start({
    name: 'nginx',
    command: binary,
    args: ['-p', opts.dir, '-c', conf, '-e', join(opts.dir, 'error.log')],
    stopSignal: 'SIGTERM',
  });
}
