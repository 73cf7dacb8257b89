/**
 * A process that writes `bytes` bytes to stderr, leaves a grandchild holding its pipes
 * that writes one more line 300 ms later, and exits with code 3 at once: its output
 * reaches the harness after its 'exit' (integration/entry-args.test.ts).
 *   node … src/print-and-exit.ts <bytes>
 */
import { spawn } from 'node:child_process';

const bytes = Number(process.argv[2] ?? '0');
const line = `${'x'.repeat(99)}\n`;
let out = '';
for (let n = 0; n + line.length <= bytes; n += line.length) out += line;
process.stderr.write(out);
spawn(process.execPath, ['-e', "setTimeout(() => process.stderr.write('last line\\n'), 300)"], {
  stdio: ['ignore', 'inherit', 'inherit'],
}).unref();
process.exit(3);
