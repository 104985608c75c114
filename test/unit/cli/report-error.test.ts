import { describe, expect, it } from 'vitest';
import { reportError } from '../../../src/ops/cli/report-error.js';
import { cliIoDouble, type CliIoDouble } from '../../support/cli-io-double.js';

function stderrOnly(): { io: CliIoDouble; lines: string[] } {
  const io = cliIoDouble();
  return { io, lines: io.errLines };
}

describe('reportError: the one line of a failed command', () => {
  it('prints an unexpected error by its safe description only, never its message, and exits 1', () => {
    // Prepare: a bug whose message quotes foreign text (a response body, a request's parameter).
    const { io, lines } = stderrOnly();
    const error = new TypeError('cannot read properties of {"SecretString":"hunter2-do-not-print"}');

    // Act
    const code = reportError('status', 'Usage: rotation-relay status', error, io);

    // Assess
    expect(code).toBe(1);
    expect(lines).toEqual(['rotation-relay status: unexpected error: TypeError (a bug: please report it with the command that failed)']);
  });

  it('keeps the safe cause of an unexpected error (a refused socket under a bare Error)', () => {
    const { io, lines } = stderrOnly();
    const socket = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED', syscall: 'connect' });

    reportError('publish', 'Usage: rotation-relay publish', new Error('secret "x" had password hunter2', { cause: socket }), io);

    expect(lines).toEqual(['rotation-relay publish: unexpected error: connect ECONNREFUSED 127.0.0.1:6379 (a bug: please report it with the command that failed)']);
  });

  it('prints an AWS SDK error by its name and HTTP status, not as a bug', () => {
    const { io, lines } = stderrOnly();
    const aws = Object.assign(new Error('User arn:aws:iam::1:user/x is not authorized; body {"SecretString":"hunter2"}'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } });

    const code = reportError('infra', 'Usage: rotation-relay infra', aws, io);

    expect(code).toBe(1);
    expect(lines).toEqual(['rotation-relay infra: AccessDeniedException (HTTP 400)']);
  });

  it('prints a thrown non-Error without its value', () => {
    const { io, lines } = stderrOnly();

    reportError('listen', 'Usage: rotation-relay listen', 'hunter2', io);

    expect(lines.join('\n')).not.toContain('hunter2');
    expect(lines).toHaveLength(1);
  });
});
