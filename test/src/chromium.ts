/**
 * Real headless Chromium (Debian's `chromium` package, installed by scripts/setup.sh),
 * driven over the DevTools protocol with Node's own WebSocket: open a page, evaluate in
 * it, take a full-page screenshot, and decode the PNG to pixels (RGBA) to check what was
 * drawn. No network: pages are file:// URLs; the browser's profile is a temp folder.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';

export interface Browser {
  /** Loads the URL in a new tab, waits for its load event, and returns the tab. */
  open(url: string, viewport: { width: number; height: number }): Promise<Page>;
  close(): Promise<void>;
}

export interface Page {
  evaluate<T>(expression: string): Promise<T>;
  /** The whole page (the viewport grown to the content's height), as PNG bytes. */
  screenshot(): Promise<Uint8Array>;
}

/** How long one DevTools command (or a page's load) may take before it fails, naming it. */
const COMMAND_TIMEOUT_MS = 30_000;

export function chromiumPath(): string {
  return process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
}

export async function launchChromium(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'perpflow-chromium-'));
  const child: ChildProcess = spawn(
    chromiumPath(),
    [
      '--headless',
      '--no-sandbox', // root in CI: Chromium refuses its sandbox there
      '--disable-gpu',
      '--no-first-run',
      '--disable-extensions',
      '--disable-background-networking',
      '--remote-debugging-port=0',
      `--user-data-dir=${profile}`,
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  /** Set once the browser or its DevTools socket is gone: every waiting and later command fails with it. */
  let gone: Error | null = null;
  const wsUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`chromium gave no DevTools URL in 30 s: ${stderr.slice(-1000)}`)),
      30_000,
    );
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-8_000);
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    child.once('error', (err) =>
      reject(new Error(`cannot start ${chromiumPath()}: ${err.message} (npm run setup installs it)`)),
    );
    child.once('exit', (code) => reject(new Error(`chromium exited ${code}: ${stderr.slice(-1000)}`)));
  });
  const ws = new WebSocket(wsUrl);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${wsUrl}: DevTools socket not open in ${COMMAND_TIMEOUT_MS} ms`)),
      COMMAND_TIMEOUT_MS,
    );
    ws.onopen = () => {
      clearTimeout(timer);
      resolve();
    };
    ws.onerror = () => {
      clearTimeout(timer);
      reject(new Error(`cannot connect to ${wsUrl}: ${stderr.slice(-1500)}`));
    };
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`chromium exited (code ${code}, signal ${signal}) before its DevTools socket opened`));
    });
  });
  let nextId = 1;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const fail = (why: string) => {
    if (gone) return;
    gone = new Error(`${why}; chromium's last output: ${stderr.slice(-1500) || '(none)'}`);
    for (const w of waiting.values()) w.reject(gone);
    waiting.clear();
  };
  child.on('exit', (code, signal) => fail(`chromium exited (code ${code}, signal ${signal})`));
  ws.onclose = () => fail('the DevTools socket closed');
  const listeners: ((m: { method: string; sessionId?: string; params: unknown }) => void)[] = [];
  ws.onmessage = (ev) => {
    const m = JSON.parse(String(ev.data));
    if (m.id !== undefined) {
      const w = waiting.get(m.id);
      waiting.delete(m.id);
      if (m.error) w?.reject(new Error(`DevTools: ${m.error.message}`));
      else w?.resolve(m.result);
    } else for (const l of listeners) l(m);
  };
  /** A DevTools command; it fails, never hangs, when the browser is gone or gives no answer. */
  const send = <T>(method: string, params: object = {}, sessionId?: string) =>
    new Promise<T>((resolve, reject) => {
      if (gone) return reject(gone);
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`DevTools ${method}: no answer in ${COMMAND_TIMEOUT_MS} ms`));
      }, COMMAND_TIMEOUT_MS);
      const settle =
        <A>(f: (a: A) => void) =>
        (a: A) => {
          clearTimeout(timer);
          f(a);
        };
      waiting.set(id, { resolve: settle(resolve as (v: unknown) => void), reject: settle(reject) });
      ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });

  return {
    async open(url, viewport) {
      const { targetId } = await send<{ targetId: string }>('Target.createTarget', { url: 'about:blank' });
      const { sessionId } = await send<{ sessionId: string }>('Target.attachToTarget', {
        targetId,
        flatten: true,
      });
      await send('Page.enable', {}, sessionId);
      await send(
        'Emulation.setDeviceMetricsOverride',
        { ...viewport, deviceScaleFactor: 1, mobile: false },
        sessionId,
      );
      let loadTimer: NodeJS.Timeout | undefined;
      const loaded = new Promise<void>((resolve, reject) => {
        listeners.push((m) => {
          if (m.sessionId === sessionId && m.method === 'Page.loadEventFired') resolve();
        });
        loadTimer = setTimeout(
          () => reject(gone ?? new Error(`${url}: no load event in ${COMMAND_TIMEOUT_MS} ms`)),
          COMMAND_TIMEOUT_MS,
        );
      });
      await send('Page.navigate', { url }, sessionId);
      await loaded.finally(() => clearTimeout(loadTimer));
      const evaluate = async <T>(expression: string): Promise<T> => {
        const r = await send<{ result: { value: T }; exceptionDetails?: { text: string } }>(
          'Runtime.evaluate',
          { expression, returnByValue: true, awaitPromise: true },
          sessionId,
        );
        if (r.exceptionDetails) throw new Error(`page threw: ${r.exceptionDetails.text}`);
        return r.result.value;
      };
      return {
        evaluate,
        async screenshot() {
          const height = await evaluate<number>('Math.ceil(document.documentElement.scrollHeight)');
          await send(
            'Emulation.setDeviceMetricsOverride',
            { width: viewport.width, height, deviceScaleFactor: 1, mobile: false },
            sessionId,
          );
          const { data } = await send<{ data: string }>(
            'Page.captureScreenshot',
            { format: 'png' },
            sessionId,
          );
          return new Uint8Array(Buffer.from(data, 'base64'));
        },
      };
    },
    async close() {
      await send('Browser.close').catch(() => undefined);
      ws.close();
      if (child.exitCode === null && child.signalCode === null)
        await new Promise<void>((resolve) => {
          // Browser.close normally ends it; a browser that does not is killed after 10 s.
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface Pixels {
  width: number;
  height: number;
  /** RGBA, row after row. */
  rgba: Uint8Array;
}

/** PNG (8-bit RGB or RGBA, not interlaced: what Chromium writes) to RGBA pixels. */
export function decodePng(png: Uint8Array): Pixels {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const body = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const depth = body[8];
      const color = body[9];
      if (depth !== 8 || (color !== 2 && color !== 6) || body[12] !== 0)
        throw new Error(`PNG kind not handled: depth ${depth}, colour type ${color}, interlace ${body[12]}`);
      channels = color === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const cur = new Uint8Array(stride);
  let prev = new Uint8Array(stride);
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? (cur[i - channels] as number) : 0;
      const b = prev[i] as number;
      const c = i >= channels ? (prev[i - channels] as number) : 0;
      const x = line[i] as number;
      let v: number;
      if (filter === 0) v = x;
      else if (filter === 1) v = x + a;
      else if (filter === 2) v = x + b;
      else if (filter === 3) v = x + ((a + b) >> 1);
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      } else throw new Error(`PNG filter ${filter} on row ${y}`);
      cur[i] = v & 0xff;
    }
    for (let px = 0; px < width; px++) {
      const o = (y * width + px) * 4;
      rgba[o] = cur[px * channels] as number;
      rgba[o + 1] = cur[px * channels + 1] as number;
      rgba[o + 2] = cur[px * channels + 2] as number;
      rgba[o + 3] = channels === 4 ? (cur[px * channels + 3] as number) : 255;
    }
    prev = Uint8Array.from(cur);
  }
  return { width, height, rgba };
}

/** Pixels in the rectangle whose colour is saturated (max − min channel > 60): chart marks, not text or grid. */
export function colouredPixels(
  p: Pixels,
  r: { x: number; y: number; width: number; height: number },
): number {
  let n = 0;
  const x0 = Math.max(0, Math.floor(r.x));
  const y0 = Math.max(0, Math.floor(r.y));
  const x1 = Math.min(p.width, Math.ceil(r.x + r.width));
  const y1 = Math.min(p.height, Math.ceil(r.y + r.height));
  for (let y = y0; y < y1; y++)
    for (let x = x0; x < x1; x++) {
      const o = (y * p.width + x) * 4;
      const v = [p.rgba[o] as number, p.rgba[o + 1] as number, p.rgba[o + 2] as number];
      if (Math.max(...v) - Math.min(...v) > 60) n++;
    }
  return n;
}
