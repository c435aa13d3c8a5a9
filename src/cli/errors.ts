/** A problem with how the CLI was called: exit code 2. */
export class UsageError extends Error {
  readonly code = 'CB_USAGE' as const;
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The operation ran and was refused or failed (the STS said no, the resource said no): exit code 1. */
export class OperationFailed extends Error {
  readonly code = 'CB_OPERATION_FAILED' as const;
  readonly exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = 'OperationFailed';
  }
}
