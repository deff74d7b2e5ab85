// Entry point: `npm start -w api` (or `npx tsx api/src/server.ts`). Configuration from the environment (config.ts).

import { createPlatform } from './composition.js';
import { loadConfig } from './config.js';

const config = loadConfig();
const platform = await createPlatform(config, { logger: { level: config.logLevel } });
await platform.app.listen({ port: config.port, host: config.host });
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    platform.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
