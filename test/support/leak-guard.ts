/**
 * The secret-leak guard's registry: every secret value a test creates, and everything the code
 * under test printed, logged, threw, emitted or reported through `status()` in this test file.
 * test/support/leak-guard-setup.ts (a vitest setup file) feeds it from stdout/stderr, console,
 * pino's fd writes, errors and status(); log-capture.ts and cli-process.ts feed it what captured
 * loggers and child processes wrote; MotoSecrets and the launchers register the values. At the end
 * of each test file the setup file scans the captured text for the registered values and fails
 * the file, naming where a value appeared — never the value itself.
 *
 * Why a registry rather than per-test `leakedValues()` checks: those only look where a test
 * remembered to look. This sees every channel, in every test file, without the test's help.
 *
 * State lives on `globalThis` so that every module instance in the process shares it.
 */

/** A value shorter than this is not scanned for: it would match ordinary text by chance. */
export const MIN_SCANNED_LENGTH = 8;

/** JSON fields whose string value is itself a credential (a password inside a JSON secret). */
const SENSITIVE_FIELD = /pass|secret|token|key|credential|auth/i;

interface Needle {
  text: string;
  label: string;
}

interface Chunk {
  source: string;
  test: string;
  text: string;
}

/** One place a registered value appeared; `label` says which value without quoting it. */
export interface Leak {
  label: string;
  source: string;
  test: string;
  /** 1-based position of the chunk among everything captured from that source. */
  chunk: number;
  /** Character offset of the value inside that chunk. */
  offset: number;
  /** How the value was spelled: as registered, JSON-escaped or URL-encoded. */
  form: string;
}

interface GuardState {
  needles: Map<string, Needle>;
  values: Set<string>;
  chunks: Chunk[];
  currentTest: string;
  /** Error texts already recorded: a reconnect loop reports the same error thousands of times. */
  seenErrors: Set<string>;
}

const KEY = Symbol.for('rotation-relay.leak-guard');

function state(): GuardState {
  const holder = globalThis as unknown as Record<symbol, GuardState | undefined>;
  holder[KEY] ??= {
    needles: new Map(),
    values: new Set(),
    chunks: [],
    currentTest: '(file set-up)',
    seenErrors: new Set(),
  };
  return holder[KEY];
}

/**
 * Registers a secret value the tests use (a Secrets Manager value, a Redis or PostgreSQL
 * password, a signing key). For a JSON value, the credential fields inside it (password,
 * authToken, secretAccessKey…) are registered too, since a leak usually shows the field, not
 * the whole document. `label` names the value in a leak report (e.g. `MotoSecrets app/db-1`).
 */
export function registerSecretValue(value: string, label: string): void {
  if (typeof value !== 'string') return;
  const { needles, values } = state();
  values.add(value);
  const add = (text: string, what: string): void => {
    if (text.length < MIN_SCANNED_LENGTH || needles.has(text)) return;
    needles.set(text, { text, label: what });
  };
  add(value, label);
  for (const [field, leaf] of sensitiveLeaves(value)) add(leaf, `${label} (field ${field})`);
}

/** True when `value` was registered: tests use it to prove the registry is wired up. */
export function isRegisteredSecret(value: string): boolean {
  return state().values.has(value);
}

/** How many distinct values were registered in this process. */
export function registeredSecretCount(): number {
  return state().values.size;
}

/**
 * Records text the code under test produced. `source` names the channel (`process.stdout`,
 * `captureLogger {component: worker}`, `rotation-relay worker stdout`, `CredentialCache.status()`…).
 */
export function recordOutput(source: string, text: string): void {
  if (typeof text !== 'string' || text.length === 0) return;
  const s = state();
  s.chunks.push({ source, test: s.currentTest, text });
}

/** Records an error's name, code and message, and those of its causes (deduplicated). */
export function recordError(source: string, error: unknown): void {
  const text = describeErrorChain(error);
  if (text === '') return;
  const s = state();
  const key = `${source}\u0000${text}`;
  if (s.seenErrors.has(key)) return;
  s.seenErrors.add(key);
  recordOutput(source, text);
}

/** Names the test whose output is being recorded (set by the setup file's hooks). */
export function setCurrentTest(name: string): void {
  state().currentTest = name;
}

/**
 * Every place a registered value appears in the captured output. Each chunk keeps its source
 * and test; the needles are searched in the joined text of all chunks, so the cost is one pass
 * per needle rather than one per (needle, chunk) pair.
 */
export function findLeaks(): Leak[] {
  const { needles, chunks } = state();
  if (needles.size === 0 || chunks.length === 0) return [];
  const SEPARATOR = '\u0000\n';
  const starts: number[] = [];
  const ordinals: number[] = [];
  const counters = new Map<string, number>();
  let length = 0;
  for (const chunk of chunks) {
    starts.push(length);
    const n = (counters.get(chunk.source) ?? 0) + 1;
    counters.set(chunk.source, n);
    ordinals.push(n);
    length += chunk.text.length + SEPARATOR.length;
  }
  const all = chunks.map((chunk) => chunk.text).join(SEPARATOR);
  const leaks: Leak[] = [];
  const seen = new Set<string>();
  const report = (needle: Needle, form: string, at: number): void => {
    const index = chunkAt(starts, at);
    const chunk = chunks[index];
    const id = `${needle.label}\u0000${index}`;
    if (!chunk || seen.has(id)) return;
    seen.add(id);
    leaks.push({ label: needle.label, source: chunk.source, test: chunk.test, chunk: ordinals[index] ?? 0, offset: at - (starts[index] ?? 0), form });
  };
  const searches = [...needles.values()].flatMap((needle) => spellings(needle.text).map(([form, text]) => ({ needle, form, text })));
  if (searches.length <= INDEXOF_LIMIT) {
    // Few values: one indexOf pass per spelling is fastest.
    for (const { needle, form, text } of searches) {
      for (let at = all.indexOf(text); at !== -1; at = all.indexOf(text, at + 1)) report(needle, form, at);
    }
    return leaks;
  }
  // Many values (a load test registers thousands): index them by their first characters and
  // slide once over the text, so the cost no longer grows with the number of values.
  const byPrefix = new Map<string, typeof searches>();
  for (const search of searches) {
    const prefix = search.text.slice(0, MIN_SCANNED_LENGTH);
    const list = byPrefix.get(prefix);
    if (list) list.push(search);
    else byPrefix.set(prefix, [search]);
  }
  for (let at = 0; at + MIN_SCANNED_LENGTH <= all.length; at += 1) {
    const candidates = byPrefix.get(all.slice(at, at + MIN_SCANNED_LENGTH));
    if (!candidates) continue;
    for (const { needle, form, text } of candidates) if (all.startsWith(text, at)) report(needle, form, at);
  }
  return leaks;
}

/** Above this many (value, spelling) pairs the scan switches from indexOf to a prefix index. */
const INDEXOF_LIMIT = 256;

/** One line per leak, for the failure message: where and which value, never the value. */
export function describeLeaks(leaks: readonly Leak[], limit = 20): string {
  const lines = leaks
    .slice(0, limit)
    .map((leak) => `  - ${leak.label} (${leak.form}) in ${leak.source}, chunk #${leak.chunk} at offset ${leak.offset}, during "${leak.test}"`);
  if (leaks.length > limit) lines.push(`  … and ${leaks.length - limit} more`);
  return lines.join('\n');
}

/**
 * Starts a test file: forgets what the previous file in this process captured (with
 * `isolate: false` several files share a process), keeps the registered values.
 */
export function beginFile(): void {
  const s = state();
  s.chunks.length = 0;
  s.seenErrors.clear();
  s.currentTest = '(file set-up)';
}

function spellings(text: string): Array<[string, string]> {
  const forms: Array<[string, string]> = [['as registered', text]];
  const escaped = JSON.stringify(text).slice(1, -1);
  if (escaped !== text) forms.push(['JSON-escaped', escaped]);
  const encoded = encodeURIComponent(text);
  if (encoded !== text) forms.push(['URL-encoded', encoded]);
  return forms;
}

function chunkAt(starts: readonly number[], offset: number): number {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if ((starts[mid] ?? 0) <= offset) low = mid;
    else high = mid - 1;
  }
  return low;
}

function sensitiveLeaves(value: string, maxDepth = 3): Array<[string, string]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return [];
  }
  const found: Array<[string, string]> = [];
  const walk = (node: unknown, path: string, depth: number): void => {
    if (depth > maxDepth || typeof node !== 'object' || node === null) return;
    for (const [key, child] of Object.entries(node)) {
      const childPath = path === '' ? key : `${path}.${key}`;
      if (typeof child === 'string' && SENSITIVE_FIELD.test(key)) found.push([childPath, child]);
      else walk(child, childPath, depth + 1);
    }
  };
  walk(parsed, '', 0);
  return found;
}

function describeErrorChain(error: unknown, depth = 0): string {
  if (depth > 4 || error === undefined || error === null) return '';
  if (!(error instanceof Error)) return depth === 0 ? String(error) : '';
  const code = (error as { code?: unknown }).code;
  const head = `${error.name}${code === undefined ? '' : ` [${String(code)}]`}: ${error.message}`;
  const errors = error instanceof AggregateError ? error.errors.map((inner: unknown) => describeErrorChain(inner, depth + 1)) : [];
  const cause = describeErrorChain((error as { cause?: unknown }).cause, depth + 1);
  return [head, ...errors, cause].filter((part) => part !== '').join('\n  caused by ');
}
