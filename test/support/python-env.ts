/**
 * The Python that runs the project's Python subscriber (python/rotation_relay) with its Django
 * integration: Debian's /usr/bin/python3 and Debian's packages, one home for the list, the check
 * and the install command (the Python suite installs them; the demo names the command).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findExecutable } from './require-binary.js';

/** Debian's python3, where apt puts Django, psycopg2, redis-py, django-redis, boto3 and pytest. */
export const DEBIAN_PYTHON = '/usr/bin/python3';

/** The package's source folder: on PYTHONPATH, `import rotation_relay` works without installing it. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const PYTHON_PACKAGE_DIR = join(ROOT, 'python');

/** What the Django subscriber imports, what its tests and `pip install ./python` need, and the Debian package of each. */
const MODULES = {
  django: 'python3-django',
  psycopg2: 'python3-psycopg2',
  redis: 'python3-redis',
  django_redis: 'python3-django-redis',
  boto3: 'python3-boto3',
  pytest: 'python3-pytest',
  pip: 'python3-pip',
  setuptools: 'python3-setuptools',
} as const;
export type PythonModule = keyof typeof MODULES;

/** The apt-get command that installs `modules`' packages. */
export function aptInstallCommand(modules: readonly PythonModule[]): string {
  return `apt-get update && apt-get install -y ${modules.map((m) => MODULES[m]).join(' ')}`;
}

/** The modules of `modules` that Debian's python3 cannot import (all of them when it is missing). */
export function missingPythonModules(modules: readonly PythonModule[]): PythonModule[] {
  const script = `import importlib.util, sys\nprint(" ".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))`;
  try {
    const out = execFileSync(DEBIAN_PYTHON, ['-c', script, ...modules], { encoding: 'utf8', stdio: 'pipe', timeout: 30_000 });
    return out.trim().split(/\s+/).filter(Boolean) as PythonModule[];
  } catch {
    return [...modules];
  }
}

/** Installs what is missing of `modules` (as root), or throws naming the command to run. */
export function ensurePythonModules(modules: readonly PythonModule[]): void {
  const missing = missingPythonModules(modules);
  if (missing.length === 0) return;
  const command = aptInstallCommand(missing);
  if (process.getuid?.() !== 0) throw new Error(`${DEBIAN_PYTHON} cannot import ${missing.join(', ')}: run \`${command}\` as root`);
  const packages = missing.map((m) => MODULES[m]).join(' ');
  execFileSync('sh', ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${packages}`], { stdio: 'pipe', timeout: 600_000 });
  const still = missingPythonModules(modules);
  if (still.length > 0) throw new Error(`${DEBIAN_PYTHON} still cannot import ${still.join(', ')} after installing ${packages}: run \`${aptInstallCommand(still)}\``);
}

/**
 * The python3 on PATH, without Django, redis-py or boto3, with the package on PYTHONPATH: what
 * needs only the standard library (the protocol module, the example's --help) is checked with it.
 * A missing python3 fails with what to install, never skips.
 */
export function runBarePython(args: string[], input?: string): string {
  const binary = findExecutable('python3');
  if (!binary) throw new Error('python3 not found on PATH: install it with `apt-get install python3` (the Python package is checked with it)');
  return execFileSync(binary, args, { cwd: ROOT, encoding: 'utf8', stdio: 'pipe', input, env: { PATH: process.env.PATH ?? '', PYTHONPATH: PYTHON_PACKAGE_DIR, PYTHONDONTWRITEBYTECODE: '1' } });
}

/**
 * `pip install ./python` as a user runs it, into `target` (a folder for PYTHONPATH), from a copy
 * of the package so that nothing is written into the checkout (setuptools leaves build/ and an
 * egg-info beside the sources). Offline: Debian's setuptools builds it (--no-build-isolation)
 * and the dependencies are Debian's (--no-deps). Returns the folder to put on PYTHONPATH.
 */
export function pipInstallPackage(work: string): string {
  const source = join(work, 'package-source');
  const target = join(work, 'site-packages');
  mkdirSync(source, { recursive: true });
  for (const entry of ['pyproject.toml', 'README.md', 'rotation_relay']) {
    cpSync(join(PYTHON_PACKAGE_DIR, entry), join(source, entry), { recursive: true, filter: (path) => !path.includes('__pycache__') });
  }
  execFileSync(DEBIAN_PYTHON, ['-m', 'pip', 'install', '--quiet', '--no-build-isolation', '--no-deps', '--no-index', '--target', target, source], {
    stdio: 'pipe',
    timeout: 120_000,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_ROOT_USER_ACTION: 'ignore', PYTHONDONTWRITEBYTECODE: '1' },
  });
  return target;
}
