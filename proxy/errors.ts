// The proxy's error catalogue (DESIGN.md §2 "Errors"). Each error the proxy makes itself has a
// stable code (sent as `Ikukantai-Error`, used as the metric `reason`), a status and a one-line
// body. test/unit/proxy/errors.test.ts holds this table against the README's.

export const ERRORS = {
  no_route: { status: 404, message: 'no revision matches this request' },
  bad_request: { status: 400, message: 'malformed request' },
  request_timeout: { status: 408, message: 'request headers did not arrive in time' },
  headers_too_large: { status: 431, message: 'request headers too large' },
  body_too_large: { status: 413, message: 'request body framing too large' },
  queue_full: { status: 503, message: 'revision queue is full, retry later' },
  draining: { status: 503, message: 'proxy is draining' },
  cold_start_timeout: { status: 504, message: 'no ready pod within the cold-start limit' },
  upstream_timeout: { status: 504, message: 'upstream did not answer within the revision timeout' },
  upstream_unreachable: { status: 502, message: 'upstream unreachable' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class ProxyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, detail?: string) {
    super(detail ?? ERRORS[code].message);
    this.code = code;
    this.status = ERRORS[code].status;
  }
}

export function isProxyError(err: unknown): err is ProxyError {
  return err instanceof ProxyError;
}
