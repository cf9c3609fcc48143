import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { exitCodeOf, formatEta, Output, reportError, UsageError } from '../src/cli/progress.js';
import { ConfigError } from '../src/config/load.js';
import {
  FormatError,
  NotFoundError,
  SarbridgeError,
  UnsupportedError,
  ValidationError,
} from '../src/errors.js';
import { runCapture } from './helpers/cli.js';
import { tinyTiff } from './helpers/tiny-tiff.js';

const dir = mkdtempSync(join(tmpdir(), 'sarbridge-cli-progress-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An Output whose streams and clock the test holds. */
function captured(opts: { json?: boolean; quiet?: boolean }, tty: NodeJS.WritableStream | null = null) {
  const io = { stdout: '', stderr: '' };
  let t = 0;
  const out = new Output(
    opts,
    { stdout: (s) => (io.stdout += s), stderr: (s) => (io.stderr += s), tty },
    () => t,
  );
  return { out, io, advance: (ms: number) => (t += ms) };
}

describe('Output: progress when stderr is not a terminal', () => {
  it('plain lines: the first, one per tenth, the last, each with an ETA; the result as JSON on stdout', () => {
    const { out, io, advance } = captured({});
    expect(out.mode).toBe('plain');
    const p = out.progress('ingest', 20);
    for (let i = 1; i <= 20; i++) {
      advance(500);
      p.update(i, `product ${i}`);
    }
    p.finish();
    const lines = io.stderr.trimEnd().split('\n');
    // 1 (first), then 2, 4, ..., 20 (each new tenth): 11 lines.
    expect(lines).toHaveLength(11);
    expect(lines[0]).toBe('sarbridge: ingest: 1/20 (5%), ETA 10 s: product 1');
    expect(lines[5]).toBe('sarbridge: ingest: 10/20 (50%), ETA 5 s: product 10');
    expect(lines[10]).toBe('sarbridge: ingest: 20/20 (100%): product 20');
    out.result({ items: 3, path: 'x' });
    expect(JSON.parse(io.stdout)).toEqual({ items: 3, path: 'x' });
    expect(io.stdout).toContain('\n  "items": 3');
  });

  it('plain lines: a slow task also prints every 5 s between tenths', () => {
    const { out, io, advance } = captured({});
    const p = out.progress('ard', 1000);
    for (let i = 1; i <= 40; i++) {
      advance(1000);
      p.update(i);
    }
    // 1 (first), then at 6, 11, 16, ... s: every 5 s since the last line.
    expect(
      io.stderr
        .trimEnd()
        .split('\n')
        .map((l) => Number(/: (\d+)\//.exec(l)?.[1])),
    ).toEqual([1, 6, 11, 16, 21, 26, 31, 36]);
  });

  it('--json: progress events and the result as JSON lines on stdout, nothing on stderr', () => {
    const { out, io, advance } = captured({ json: true });
    expect(out.mode).toBe('json');
    const p = out.progress('simulate campaign', 6);
    for (let i = 1; i <= 6; i++) {
      advance(i === 2 ? 50 : 1000);
      p.update(i, `P${i}`);
    }
    p.finish('written');
    out.result({ manifest: 'm.json' });
    const events = io.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    // The second update came 50 ms after the first: left out (at most 10 a second).
    expect(events.map((e) => e.done ?? 'result')).toEqual([1, 3, 4, 5, 6, 'result']);
    expect(events[0]).toEqual({
      type: 'progress',
      task: 'simulate campaign',
      done: 1,
      total: 6,
      etaS: 5,
      message: 'P1',
    });
    expect(events[4]).toEqual({
      type: 'progress',
      task: 'simulate campaign',
      done: 6,
      total: 6,
      etaS: 0,
      message: 'P6',
    });
    expect(events[5]).toEqual({ type: 'result', manifest: 'm.json' });
    expect(io.stderr).toBe('');
  });

  it('--quiet: nothing at all', () => {
    const { out, io } = captured({ quiet: true });
    const p = out.progress('x', 2);
    p.update(1);
    p.update(2);
    p.finish();
    out.result({ a: 1 });
    expect(io).toEqual({ stdout: '', stderr: '' });
  });

  it('on a terminal: a bar with percentage and ETA on the terminal stream, the result on stdout', () => {
    let written = '';
    const tty = Object.assign(
      new Writable({
        write(chunk, _enc, done) {
          written += chunk.toString();
          done();
        },
      }),
      { isTTY: true, columns: 120 },
    );
    const { out, io } = captured({}, tty);
    expect(out.mode).toBe('tty');
    const p = out.progress('ingest', 4);
    for (let i = 1; i <= 4; i++) p.update(i, `item ${i}`);
    p.finish('done');
    expect(written).toMatch(/ingest \[[^\]]+\] 100% \| 4\/4 \| ETA \S+ \| done/);
    expect(io.stderr).toBe('');
  });

  it('formats ETAs', () => {
    expect([formatEta(4.4), formatEta(185), formatEta(Number.NaN)]).toEqual(['4 s', '3 min 5 s', '?']);
  });
});

describe('errors: one line with a hint, exit codes 0 / 1 / 2', () => {
  const rows: [string, unknown, number, RegExp][] = [
    [
      'a bad setting',
      new ConfigError(['SARBRIDGE_PORT: expected an integer port']),
      2,
      /^sarbridge: SARBRIDGE_PORT: expected an integer port \(hint: fix the setting named/,
    ],
    [
      'a wrong call',
      new UsageError('--in and --out are the same file'),
      2,
      /\(hint: run sarbridge --help for usage\)$/,
    ],
    [
      'a bad file',
      new FormatError('a.tif', 'not a TIFF'),
      1,
      /^sarbridge: a\.tif: not a TIFF \(hint: the file is kept as it is; sarbridge info <file>/,
    ],
    [
      'an unsupported feature',
      new UnsupportedError('a.tif', 'JPEG'),
      1,
      /\(hint: the format is valid but uses a feature/,
    ],
    [
      'a missing file',
      new NotFoundError('b.tif: cannot open (ENOENT)'),
      1,
      /\(hint: check the path or id\)$/,
    ],
    ['a bad value in the work', new ValidationError('no ships'), 1, /^sarbridge: no ships$/],
    ['any sarbridge error', new SarbridgeError('x'), 1, /^sarbridge: x$/],
    [
      'a bug',
      new TypeError('a is undefined\n   at b'),
      1,
      /^sarbridge: internal error: a is undefined at b \(hint: this is a bug in sarbridge: set SARBRIDGE_DEBUG=1/,
    ],
  ];
  for (const [name, err, code, line] of rows)
    it(`${name}: exit ${code}`, () => {
      let stderr = '';
      expect(reportError(err, (s) => (stderr += s))).toBe(code);
      expect(exitCodeOf(err)).toBe(code);
      expect(stderr.endsWith('\n')).toBe(true);
      expect(stderr.trimEnd()).not.toContain('\n');
      expect(stderr.trimEnd()).toMatch(line);
      let json = '';
      expect(reportError(err, (s) => (json += s), { json: true })).toBe(code);
      const e = JSON.parse(json);
      expect(e.type).toBe('error');
      expect(e.exitCode).toBe(code);
      expect(typeof e.message).toBe('string');
    });
});

describe('sarbridge simulate: exit codes and output modes of the commands', () => {
  const usage: [string, string[], RegExp][] = [
    ['campaign without its folder', ['simulate', 'campaign'], /missing required argument 'dir'/],
    [
      'campaign with a negative seed',
      ['simulate', 'campaign', join(dir, 'c'), '--seed', '-3'],
      /--seed must be an integer/,
    ],
    [
      'campaign with a bad start date',
      ['simulate', 'campaign', join(dir, 'c'), '--start', '2026-13-01'],
      /--start must be a date YYYY-MM-DD/,
    ],
    [
      'campaign with one partner',
      ['simulate', 'campaign', join(dir, 'c'), '--partners', 'GBR'],
      /--partners must be two different codes/,
    ],
    [
      'campaign with --json and --quiet',
      ['simulate', 'campaign', join(dir, 'c'), '--json', '--quiet'],
      /cannot be used with option '--quiet'/,
    ],
    [
      'scene with an unknown layout',
      ['simulate', 'scene', join(dir, 's'), '--layout', 'lake'],
      /--layout must be one of coast, open-sea, harbour/,
    ],
    ['an unknown command', ['simulate', 'frobnicate'], /unknown command 'frobnicate'/],
    [
      'ard with --json and --quiet',
      ['ard', join(dir, 'p.nitf'), join(dir, 'ard'), '--json', '--quiet'],
      /cannot be used with option '--quiet'/,
    ],
  ];
  for (const [name, args, says] of usage)
    it(`${name}: exit 2`, async () => {
      const r = await runCapture(args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(says);
      expect(r.stdout).toBe('');
    });

  it('work that fails: exit 1, one line with a hint; with --json a JSON error line', async () => {
    const r = await runCapture(['simulate', 'fill-sicd', join(dir, 'none.nitf'), join(dir, 'o.nitf')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sarbridge: .*none\.nitf.* \(hint: check the path or id\)\n$/);
    const j = await runCapture([
      'simulate',
      'fill-sicd',
      join(dir, 'none.nitf'),
      join(dir, 'o.nitf'),
      '--json',
    ]);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stderr)).toMatchObject({ type: 'error', error: 'NotFound', exitCode: 1 });
  });

  it('ard on a missing product with --json: exit 1 and a JSON error line', async () => {
    const r = await runCapture(['ard', join(dir, 'missing.nitf'), join(dir, 'ard'), '--json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(JSON.parse(r.stderr)).toMatchObject({ type: 'error', exitCode: 1 });
  });

  it('simulate scene: pretty JSON by default, one JSON line with --json, nothing with --quiet', async () => {
    const args = (d: string) => [
      'simulate',
      'scene',
      join(dir, d),
      '--size',
      '64',
      '--ships',
      '2',
      '--dates',
      '2026-06-01T06:00:00Z',
    ];
    const plain = await runCapture(args('a'));
    expect(plain.code, plain.stderr).toBe(0);
    expect(JSON.parse(plain.stdout).scenes).toHaveLength(1);
    expect(plain.stdout.split('\n').length).toBeGreaterThan(3);
    const json = await runCapture([...args('b'), '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(json.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      type: 'result',
      scenes: [{ date: '2026-06-01T06:00:00Z' }],
    });
    const quiet = await runCapture([...args('c'), '--quiet']);
    expect(quiet).toEqual({ code: 0, stdout: '', stderr: '' });
  });
});

describe('--json and --quiet on every command that prints a result', () => {
  it('every command has both, except the server and the audit export (a stream of records)', async () => {
    const { buildProgram } = await import('../src/cli/main.js');
    type Cmd = ReturnType<typeof buildProgram>;
    const leaves = (c: Cmd, path: string): [string, Cmd][] =>
      c.commands.length ? c.commands.flatMap((s) => leaves(s as Cmd, `${path} ${s.name()}`)) : [[path, c]];
    const missing = leaves(buildProgram(), 'sarbridge')
      .filter(([, c]) => !['--json', '--quiet'].every((f) => c.options.some((o) => o.long === f)))
      .map(([p]) => p);
    expect(missing.sort()).toEqual(['sarbridge audit export', 'sarbridge serve']);
  });

  it.each([
    ['default', [], 'pretty'],
    ['--json', ['--json'], 'json'],
    ['--quiet', ['--quiet'], 'quiet'],
  ] as const)('info %s: indented JSON, one JSON line, or nothing', async (_name, flags, mode) => {
    const tif = join(dir, 'info.tif');
    writeFileSync(tif, tinyTiff({ width: 4, height: 4 }));
    const r = await runCapture(['info', tif, ...flags]);
    expect(r.code).toBe(0);
    if (mode === 'quiet') expect(r.stdout).toBe('');
    else if (mode === 'json') {
      expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
      expect(JSON.parse(r.stdout)).toMatchObject({ type: 'result', width: 4, height: 4 });
    } else {
      expect(r.stdout.split('\n').length).toBeGreaterThan(3);
      expect(JSON.parse(r.stdout)).toMatchObject({ width: 4, height: 4 });
    }
  });

  it('--json with --quiet is a usage error (exit 2)', async () => {
    const r = await runCapture(['info', join(dir, 'info.tif'), '--json', '--quiet']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--json.*cannot be used with.*--quiet/);
  });
});

describe('ard: progress of its two stages', () => {
  it('--json: progress events of the image stage, then of geocoding, each ending at its total, then the result', async () => {
    const { simulateScene } = await import('../src/ops/simulate-scene.js');
    const r = await simulateScene(join(dir, 'ard-scene'), {
      seed: 2,
      size: 256,
      ships: 2,
      safe: true,
      dates: ['2026-06-01T06:00:00Z'],
    });
    const safe = r.scenes[0].safe?.safeDir as string;
    const run = await runCapture(['ard', safe, join(dir, 'ard-out'), '--json']);
    expect(run.code).toBe(0);
    const lines = run.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const tasks = [...new Set(lines.filter((l) => l.type === 'progress').map((l) => l.task))];
    expect(tasks).toEqual(['ard: calibrate and despeckle (rows)', 'ard: geocode and COG (rows)']);
    for (const t of tasks) {
      const ev = lines.filter((l) => l.task === t);
      const last = ev[ev.length - 1];
      expect(last.done).toBe(last.total);
      expect(ev.map((e) => e.done as number)).toEqual(
        [...ev.map((e) => e.done as number)].sort((a, b) => a - b),
      );
    }
    expect(lines[lines.length - 1]).toMatchObject({ type: 'result' });
  }, 120_000);
});
