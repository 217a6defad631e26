// Errors the fake API server answers with, as Kubernetes `Status` objects (metav1.Status): clients
// branch on `code` and `reason` (client-node relists on 410, kubectl prints `message`), so each
// error class carries the exact reason string Kubernetes uses.

export const REASONS = {
  BadRequest: 400,
  Unauthorized: 401,
  NotFound: 404,
  MethodNotAllowed: 405,
  AlreadyExists: 409,
  Conflict: 409,
  Expired: 410,
  UnsupportedMediaType: 415,
  Invalid: 422,
  InternalError: 500,
} as const;

export type Reason = keyof typeof REASONS;

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
}

export class ApiError extends Error {
  readonly reason: Reason;
  readonly code: number;
  readonly details: StatusDetails | undefined;
  constructor(reason: Reason, message: string, details?: StatusDetails) {
    super(message);
    this.reason = reason;
    this.code = REASONS[reason];
    this.details = details;
  }

  toStatus(): Record<string, unknown> {
    return statusObject(this.reason, this.message, this.details);
  }
}

export function statusObject(reason: Reason, message: string, details?: StatusDetails): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code: REASONS[reason],
  };
}

/** The 410 a watch or continue token gets when its resourceVersion fell out of the history. */
export function expired(rv: string, oldest: number): ApiError {
  return new ApiError('Expired', `too old resource version: ${rv} (${oldest})`);
}
