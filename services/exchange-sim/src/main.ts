/**
 * exchange-sim: config → deterministic market → one HTTP/WS server answering for every venue
 * module in src/venues (each by its original host as the first path segment).
 * runProcess, not runService: the simulator serves its /metrics on that same server (PORT)
 * and has no METRICS_HOST, METRICS_PORT or LOG_LEVEL keys.
 */
import { runProcess } from '@perpflow/runtime';
import { loadConfig, serverOptions } from './config.js';
import { startSimServer } from './server.js';
import { VENUES } from './venues/index.js';

const log = (msg: string, extra: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ level: 'info', time: Date.now(), service: 'exchange-sim', ...extra, msg }));

runProcess({
  name: 'exchange-sim',
  startHint: 'Is its PORT free? (npm run stack -- status lists what the stack holds)',
  start: async () => {
    const config = loadConfig();
    const sim = await startSimServer(serverOptions(config));
    log('exchange-sim ready', {
      url: sim.url,
      venues: Object.fromEntries(Object.values(VENUES).map((v) => [v.id, `${sim.url}/${v.restHost}`])),
      symbols: sim.model.symbols.length,
      seed: config.SEED,
      speed: config.SPEED,
      simNowMs: sim.clock.now(),
    });
    return {
      stop: async () => {
        log('exchange-sim stopping');
        await sim.close();
      },
    };
  },
});
